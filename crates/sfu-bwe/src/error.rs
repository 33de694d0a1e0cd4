//! Errors of the shared vocabulary.

use crate::Bitrate;

/// Why a [`BitrateBounds`](crate::BitrateBounds) could not be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BoundsError {
    /// The minimum was zero: an estimator must always allow some traffic.
    #[error("minimum bitrate must be positive")]
    ZeroMinimum,
    /// The minimum exceeded the maximum.
    #[error("minimum bitrate {min} exceeds maximum {max}")]
    MinAboveMax {
        /// The requested minimum.
        min: Bitrate,
        /// The requested maximum.
        max: Bitrate,
    },
}
