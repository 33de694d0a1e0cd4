//! One driver per parser. Each feeds random and mutated inputs through the
//! parser crate's own `harness` (the same checks its property tests run),
//! catching panics, and stops at the first failure.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use crate::mutate::mutate;
use crate::rng::Rng;

/// What a run found.
pub(crate) struct Report {
    pub(crate) inputs: u64,
    pub(crate) elapsed: Duration,
    pub(crate) failure: Option<Failure>,
}

/// The first input that broke an invariant or panicked.
pub(crate) struct Failure {
    pub(crate) input: Vec<u8>,
    pub(crate) what: String,
}

/// Runs `iterations` inputs: even iterations random bytes up to
/// `random_max_len`, odd ones mutations of `seeds`.
fn run(
    iterations: u64,
    seed: u64,
    seeds: &[Vec<u8>],
    random_max_len: usize,
    mut check: impl FnMut(&[u8]) -> Result<(), String>,
) -> Report {
    let mut rng = Rng::new(seed);
    let mut input = Vec::with_capacity(1024);
    let start = Instant::now();
    for i in 0..iterations {
        if i % 2 == 0 {
            let len = rng.below(random_max_len + 1);
            input.resize(len, 0);
            rng.fill(&mut input);
        } else {
            mutate(&mut rng, seeds, 1024, &mut input);
        }
        let outcome = catch_unwind(AssertUnwindSafe(|| check(&input)));
        let what = match outcome {
            Ok(Ok(())) => continue,
            Ok(Err(violation)) => violation,
            Err(panic) => format!(
                "panic: {}",
                panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default()
            ),
        };
        return Report {
            inputs: i + 1,
            elapsed: start.elapsed(),
            failure: Some(Failure {
                input: input.clone(),
                what,
            }),
        };
    }
    Report {
        inputs: iterations,
        elapsed: start.elapsed(),
        failure: None,
    }
}

/// AV1 Dependency Descriptor: every input from a fresh parser, parsers primed
/// with the spec's L1T3/L3T3 structures, and a parser that has lived through
/// all previous inputs (so mutated structures become remembered state).
pub(crate) fn av1_dd(iterations: u64, seed: u64) -> Report {
    use sfu_av1_dd::harness::{check_input, primed_parsers, seed_corpus};
    let seeds = seed_corpus(seed, 512);
    let mut parsers = primed_parsers();
    parsers.push(sfu_av1_dd::Av1DdParser::new());
    run(iterations, seed, &seeds, 64, |input| {
        check_input(input, &parsers).map_err(|v| v.to_string())?;
        if let Some(rolling) = parsers.last_mut() {
            let _ = rolling.parse(input);
        }
        Ok(())
    })
}

/// Video Frame Marking: every input through the harness, with one filter
/// fed the whole run and one that starts forwarding.
pub(crate) fn vfm(iterations: u64, seed: u64) -> Report {
    use sfu_vfm::harness::{arbitrary_value, check_input, started_filter};
    let mut rng = Rng::new(seed ^ 0x5646_4d00);
    let seeds: Vec<Vec<u8>> = (0..64).map(|_| arbitrary_value(rng.next_u64())).collect();
    let mut fresh = sfu_vfm::VfmLayerFilter::new(sfu_vfm::VfmTarget::ALL);
    let mut started = started_filter();
    run(iterations, seed, &seeds, 6, |input| {
        check_input(input, &mut fresh).map_err(|v| v.to_string())?;
        check_input(input, &mut started).map_err(|v| v.to_string())
    })
}

/// SFrame header: every input through the harness; the seeds are valid headers with a
/// few ciphertext bytes.
pub(crate) fn sframe(iterations: u64, seed: u64) -> Report {
    use sfu_sframe::harness::{arbitrary_frame, check_input};
    let mut rng = Rng::new(seed ^ 0x5346_524d);
    let seeds: Vec<Vec<u8>> = (0..64)
        .map(|_| arbitrary_frame(u128::from(rng.next_u64()) << 64 | u128::from(rng.next_u64())))
        .collect();
    run(iterations, seed, &seeds, 24, |input| {
        check_input(input).map_err(|v| v.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panicking_check_is_caught_and_reported_with_its_input() {
        let seeds = vec![vec![0u8; 4]];
        // Silence the default hook's message for the expected panic.
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let report = run(10_000, 1, &seeds, 8, |input| {
            assert!(input.first() != Some(&0xff), "first byte 0xff");
            Ok(())
        });
        std::panic::set_hook(hook);
        let failure = report.failure.expect("some random input starts with 0xff");
        assert_eq!(failure.input.first(), Some(&0xff));
        assert!(failure.what.contains("first byte 0xff"), "{}", failure.what);
    }

    #[test]
    fn a_violation_stops_the_run_at_that_input() {
        let report = run(100, 1, &[vec![1u8]], 4, |input| {
            if input.len() == 3 {
                Err("three".into())
            } else {
                Ok(())
            }
        });
        let failure = report.failure.expect("a 3-byte input appears");
        assert_eq!(failure.input.len(), 3);
        assert!(report.inputs <= 100);
    }

    #[test]
    fn every_target_runs_clean_for_a_short_while() {
        assert!(av1_dd(2_000, 7).failure.is_none());
        assert!(vfm(2_000, 7).failure.is_none());
        assert!(sframe(2_000, 7).failure.is_none());
    }
}
