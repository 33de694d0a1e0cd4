//! Property tests over the shared harness (`sfu_av1_dd::harness`, also driven
//! by the `sfu-fuzz` binary): arbitrary bytes never panic, never change state
//! on error, and parse into something the writer reproduces; arbitrary valid
//! descriptors survive write → parse unchanged.

use proptest::prelude::*;
use sfu_av1_dd::harness::{
    Entropy, arbitrary_info, arbitrary_structure, check_input, primed_parsers,
};
use sfu_av1_dd::{Av1DdParser, encoded_len, write};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_parse_to_ok_or_typed_error(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let parsers = primed_parsers();
        if let Err(v) = check_input(&bytes, &parsers) {
            return Err(TestCaseError::fail(v.to_string()));
        }
    }

    #[test]
    fn arbitrary_bytes_after_a_structure_flag_exercise_the_structure_reader(
        head in proptest::collection::vec(any::<u8>(), 3),
        body in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let mut bytes = head;
        bytes.push(0x80 | (body.first().copied().unwrap_or(0) & 0x7f));
        bytes.extend_from_slice(&body);
        if let Err(v) = check_input(&bytes, &primed_parsers()) {
            return Err(TestCaseError::fail(v.to_string()));
        }
    }

    #[test]
    fn arbitrary_structure_and_frame_round_trip(seed in any::<u64>()) {
        let mut e = Entropy::new(seed);
        let s = arbitrary_structure(&mut e);
        let key = arbitrary_info(&mut e, &s, true);
        let mut buf = vec![0u8; encoded_len(&key, &s).unwrap()];
        write(&key, &s, &mut buf).unwrap();
        let mut p = Av1DdParser::new();
        prop_assert_eq!(p.parse(&buf).unwrap(), key);
        prop_assert_eq!(p.structure(), Some(&s));

        let next = arbitrary_info(&mut e, &s, false);
        let mut buf = vec![0u8; encoded_len(&next, &s).unwrap()];
        write(&next, &s, &mut buf).unwrap();
        prop_assert_eq!(p.parse(&buf).unwrap(), next);
        prop_assert_eq!(p.structure(), Some(&s));
    }

    #[test]
    fn truncating_a_valid_descriptor_never_half_commits(seed in any::<u64>(), cut in any::<prop::sample::Index>()) {
        let mut e = Entropy::new(seed);
        let s = arbitrary_structure(&mut e);
        let key = arbitrary_info(&mut e, &s, true);
        let mut buf = vec![0u8; encoded_len(&key, &s).unwrap()];
        write(&key, &s, &mut buf).unwrap();
        let cut = cut.index(buf.len());
        let parsers = primed_parsers();
        if let Err(v) = check_input(&buf[..cut], &parsers) {
            return Err(TestCaseError::fail(v.to_string()));
        }
        for before in &parsers {
            let mut p = before.clone();
            if p.parse(&buf[..cut]).is_err() {
                prop_assert_eq!(p.structure(), before.structure());
            }
        }
    }
}
