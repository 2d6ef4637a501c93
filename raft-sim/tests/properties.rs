//! Properties over random seeds and settings, through the public property-testing API.

use proptest::prelude::*;
use raft_sim::{Preset, Property, run, strategy};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// For any seed and cluster size, with heavy faults: at most one leader per term, and the
    /// client history is linearizable.
    #[test]
    fn heavy_faults_keep_election_safety_and_linearizability(
        config in strategy::configs(&[Preset::Heavy], 2_000..10_000)
    ) {
        let report = run(config);
        for property in [Property::ElectionSafety, Property::Linearizability] {
            prop_assert_ne!(report.violated(), Some(property), "{}", report.failure_text());
        }
    }

    /// Any preset: no violation at all.
    #[test]
    fn every_preset_is_clean(config in strategy::configs(&Preset::ALL, 1_000..5_000)) {
        let report = run(config);
        prop_assert!(report.ok(), "{}", report.failure_text());
    }
}
