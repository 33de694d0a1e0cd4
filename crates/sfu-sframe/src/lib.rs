//! The SFrame header (RFC 9605 §4.3): the key id (KID) and counter (CTR) in front of every
//! SFrame ciphertext. They are the only bytes of an end-to-end encrypted frame an SFU can
//! read; the key id tells which key (and so which key epoch) the sender encrypts with.
//!
//! # What it does
//!
//! * [`SframeHeader::parse`] reads a header from the start of a buffer and says how long
//!   it was (no allocation, no state). Every byte string either parses or yields a typed
//!   [`SframeError`]; a header never reads past its own length.
//! * [`SframeHeader::write`] and [`SframeHeader::encoded_len`] produce the shortest
//!   encoding, so `parse(write(h)) == h` for every header.
//!
//! # What it does not do
//!
//! It does not decrypt, authenticate or check the ciphertext after the header (the
//! authentication tag is the receiver's business), keeps no key state, and does not know
//! how an application splits a key id into a sender and an epoch: `sfu-ids`' `KeyEpoch`
//! takes the low bits of [`KeyId`].
//!
//! # Spec field → Rust
//!
//! | RFC 9605 §4.3 | Rust |
//! |---|---|
//! | `X` = 0, `K` = KID (0–7) | [`SframeHeader::kid`] below 8, no KID bytes |
//! | `X` = 1, `K` = KID length − 1, then KID (1–8 bytes, big endian) | [`SframeHeader::kid`] from 8 |
//! | `Y` = 0, `C` = CTR (0–7) | [`SframeHeader::ctr`] below 8, no CTR bytes |
//! | `Y` = 1, `C` = CTR length − 1, then CTR (1–8 bytes, big endian) | [`SframeHeader::ctr`] from 8 |
//!
//! # Example
//!
//! ```
//! use sfu_sframe::{Counter, KeyId, SframeHeader};
//!
//! // X=0 K=3, Y=1 C=1: KID 3, then a 2-byte counter 0x0102, then ciphertext.
//! let frame = [0x39, 0x01, 0x02, 0xaa, 0xbb];
//! let (header, len) = SframeHeader::parse(&frame)?;
//! assert_eq!(header.kid, KeyId(3));
//! assert_eq!(header.ctr, Counter(0x0102));
//! assert_eq!(len, 3);
//!
//! let mut out = [0u8; SframeHeader::MAX_LEN];
//! let n = header.write(&mut out)?;
//! assert_eq!(&out[..n], &frame[..3]);
//! # Ok::<(), sfu_sframe::SframeError>(())
//! ```

mod error;
pub mod harness;
mod header;

pub use error::SframeError;
pub use header::{Counter, KeyId, SframeHeader};
