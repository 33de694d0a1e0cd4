//! Mutations of valid inputs: bit flips, truncation, splices, byte overwrites,
//! insertions and removals, stacked a few at a time.

use crate::rng::Rng;

/// Writes into `out` a mutation of `seeds[i]` for a random `i` (spliced with
/// another seed at times), at most `max_len` bytes long.
pub(crate) fn mutate(rng: &mut Rng, seeds: &[Vec<u8>], max_len: usize, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(&seeds[rng.below(seeds.len())]);
    let rounds = 1 + rng.below(4);
    for _ in 0..rounds {
        match rng.below(6) {
            0 => {
                // Flip one bit.
                if !out.is_empty() {
                    let bit = rng.below(out.len() * 8);
                    out[bit / 8] ^= 0x80 >> (bit % 8);
                }
            }
            1 => {
                // Truncate.
                let len = rng.below(out.len() + 1);
                out.truncate(len);
            }
            2 => {
                // Splice: a prefix of this input, then a suffix of another seed.
                let other = &seeds[rng.below(seeds.len())];
                let cut = rng.below(out.len() + 1);
                let from = rng.below(other.len() + 1);
                out.truncate(cut);
                out.extend_from_slice(&other[from..]);
            }
            3 => {
                // Overwrite a byte with an interesting or random value.
                if !out.is_empty() {
                    let i = rng.below(out.len());
                    const INTERESTING: [u8; 6] = [0x00, 0xff, 0x80, 0x7f, 0x01, 0xfe];
                    out[i] = if rng.below(2) == 0 {
                        INTERESTING[rng.below(INTERESTING.len())]
                    } else {
                        rng.next_u64() as u8
                    };
                }
            }
            4 => {
                // Insert a random byte.
                let i = rng.below(out.len() + 1);
                out.insert(i, rng.next_u64() as u8);
            }
            _ => {
                // Remove a byte.
                if !out.is_empty() {
                    let i = rng.below(out.len());
                    out.remove(i);
                }
            }
        }
    }
    out.truncate(max_len);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutations_are_deterministic_and_bounded() {
        let seeds = vec![vec![1u8, 2, 3, 4, 5], vec![9u8; 40]];
        let (mut a, mut b) = (Rng::new(3), Rng::new(3));
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for _ in 0..1000 {
            mutate(&mut a, &seeds, 16, &mut x);
            mutate(&mut b, &seeds, 16, &mut y);
            assert_eq!(x, y);
            assert!(x.len() <= 16);
        }
    }
}
