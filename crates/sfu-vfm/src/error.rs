//! Typed errors. A parse error means: drop the extension (forward by other
//! means, or drop the packet) and count it.

use thiserror::Error;

/// Why a frame marking extension could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum VfmError {
    /// The extension value is empty; every form has at least one byte.
    #[error("frame marking extension is empty")]
    Empty,
    /// The extension value is longer than the 3 bytes of the longest form.
    #[error("frame marking extension has {len} bytes; the longest form has 3")]
    TooLong {
        /// Length of the value.
        len: usize,
    },
}

/// Why a frame marking extension could not be written.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum VfmWriteError {
    /// `TID` is 3 bits.
    #[error("temporal id {0} is above 7")]
    TemporalId(u8),
    /// The output buffer is shorter than the extension.
    #[error("frame marking needs {needed} bytes, buffer has {available}")]
    BufferTooSmall {
        /// Bytes needed.
        needed: usize,
        /// Bytes available.
        available: usize,
    },
}
