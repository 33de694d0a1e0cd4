//! Robustness harness shared by the property tests and the `sfu-fuzz` binary: the
//! invariants every input must satisfy and a generator of valid headers to mutate. Not
//! part of the stable API.

use std::fmt;

use crate::{Counter, KeyId, SframeError, SframeHeader};

/// A broken invariant, with what was being checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The invariant.
    pub invariant: &'static str,
    /// Values that show the failure.
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.invariant, self.detail)
    }
}

fn violation(invariant: &'static str, detail: impl fmt::Debug) -> Violation {
    Violation {
        invariant,
        detail: format!("{detail:?}"),
    }
}

/// Checks every invariant for one input:
///
/// * parsing returns `Ok` or a typed `Err` (a panic is caught by the caller);
/// * `Err` exactly when the input is shorter than its config byte declares;
/// * a parsed length is within the input and at most [`SframeHeader::MAX_LEN`];
/// * the parsed header writes in at most that length and parses back to itself.
pub fn check_input(data: &[u8]) -> Result<(), Violation> {
    let declared = data.first().map(|&c| {
        let kid = if c & 0x80 != 0 {
            usize::from((c >> 4) & 7) + 1
        } else {
            0
        };
        let ctr = if c & 0x08 != 0 {
            usize::from(c & 7) + 1
        } else {
            0
        };
        1 + kid + ctr
    });
    match SframeHeader::parse(data) {
        Err(SframeError::Truncated { needed, have }) => {
            if declared.is_some_and(|d| d <= data.len()) || have != data.len() {
                return Err(violation("complete header refused", (data, needed, have)));
            }
        }
        Err(e) => return Err(violation("unexpected error", (data, e))),
        Ok((header, len)) => {
            if Some(len) != declared || len > data.len() || len > SframeHeader::MAX_LEN {
                return Err(violation("parsed length wrong", (data, len)));
            }
            let mut out = [0u8; SframeHeader::MAX_LEN];
            let n = header
                .write(&mut out)
                .map_err(|e| violation("parsed header not writable", (header, e)))?;
            if n > len || n != header.encoded_len() {
                return Err(violation("write longer than the input", (data, n)));
            }
            if SframeHeader::parse(&out[..n]) != Ok((header, n)) {
                return Err(violation("parse(write(h)) != h", (header, &out[..n])));
            }
        }
    }
    Ok(())
}

/// A valid header from 128 random bits, spread over every field length, then some
/// ciphertext bytes.
#[must_use]
pub fn arbitrary_frame(bits: u128) -> Vec<u8> {
    let (a, b) = (bits as u64, (bits >> 64) as u64);
    let width = |v: u64, sel: u64| {
        let bytes = (sel % 9) as u32;
        if bytes == 0 {
            v & 7
        } else {
            v >> (64 - 8 * bytes)
        }
    };
    let header = SframeHeader {
        kid: KeyId(width(a, b)),
        ctr: Counter(width(a.rotate_left(17), b >> 8)),
    };
    let mut out = vec![0u8; SframeHeader::MAX_LEN + 4];
    let n = header.write(&mut out).unwrap_or(0);
    out.truncate(n + (b >> 60) as usize % 4);
    out
}
