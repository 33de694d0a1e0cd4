//! Every byte string parses or yields a typed error; headers round-trip.

use proptest::prelude::*;
use sfu_sframe::harness::{arbitrary_frame, check_input};
use sfu_sframe::{Counter, KeyId, SframeHeader};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn any_bytes_keep_the_invariants(data in proptest::collection::vec(any::<u8>(), 0..24)) {
        prop_assert_eq!(check_input(&data), Ok(()));
    }

    #[test]
    fn valid_frames_and_their_truncations_keep_the_invariants(bits in any::<u128>(), cut in 0usize..24) {
        let frame = arbitrary_frame(bits);
        prop_assert_eq!(check_input(&frame), Ok(()));
        prop_assert_eq!(check_input(&frame[..cut.min(frame.len())]), Ok(()));
    }

    #[test]
    fn every_header_round_trips(kid in any::<u64>(), ctr in any::<u64>()) {
        let h = SframeHeader { kid: KeyId(kid), ctr: Counter(ctr) };
        let mut out = [0u8; SframeHeader::MAX_LEN];
        let n = h.write(&mut out).expect("MAX_LEN holds every header");
        prop_assert_eq!(n, h.encoded_len());
        prop_assert_eq!(SframeHeader::parse(&out[..n]), Ok((h, n)));
    }
}
