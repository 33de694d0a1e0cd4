//! Why a header does not parse or cannot be written.

/// A header that does not parse, or a buffer too small to write one into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SframeError {
    /// The buffer ends inside the header: `needed` bytes, `have` there.
    #[error("SFrame header truncated: needs {needed} bytes, has {have}")]
    Truncated {
        /// The header's length, as its config byte declares it.
        needed: usize,
        /// Bytes in the buffer.
        have: usize,
    },
    /// The output buffer is shorter than the encoded header.
    #[error("buffer too small for the SFrame header: needs {needed} bytes, has {have}")]
    BufferTooSmall {
        /// The encoded header's length.
        needed: usize,
        /// Bytes in the buffer.
        have: usize,
    },
}
