//! Property tests over the shared harness (`sfu_vfm::harness`, also driven by
//! the `sfu-fuzz` binary): arbitrary bytes parse to `Ok` or a typed error and
//! every valid value survives parse → write byte for byte.

use proptest::prelude::*;
use sfu_vfm::harness::{arbitrary_value, check_input, started_filter};
use sfu_vfm::{FrameMarkingInfo, VfmLayerFilter, VfmTarget};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn arbitrary_bytes_parse_to_ok_or_typed_error(bytes in proptest::collection::vec(any::<u8>(), 0..8)) {
        for mut filter in [VfmLayerFilter::new(VfmTarget::ALL), started_filter()] {
            if let Err(v) = check_input(&bytes, &mut filter) {
                return Err(TestCaseError::fail(v.to_string()));
            }
        }
    }

    #[test]
    fn valid_values_round_trip_exactly(bits in any::<u64>()) {
        let value = arbitrary_value(bits);
        let info = FrameMarkingInfo::parse(&value).unwrap();
        let mut out = [0u8; 3];
        let n = sfu_vfm::write(&info, &mut out).unwrap();
        prop_assert_eq!(&out[..n], &value[..]);
    }

    #[test]
    fn a_stream_of_arbitrary_marks_never_forwards_above_the_target(
        values in proptest::collection::vec(any::<u64>(), 1..100),
        max_t in 0u8..8,
        max_l in 0u8..4,
    ) {
        let target = VfmTarget {
            max_temporal_id: sfu_vfm::TemporalId(max_t),
            max_layer_id: sfu_vfm::LayerId(max_l),
            drop_discardable: true,
        };
        let mut filter = VfmLayerFilter::new(target);
        for bits in values {
            let info = FrameMarkingInfo::parse(&arbitrary_value(bits)).unwrap();
            if filter.handle_packet(&info) == sfu_vfm::VfmAction::Forward {
                prop_assert!(info.temporal_id.0 <= max_t && info.layer_id().0 <= max_l && !info.discardable);
            }
        }
    }
}
