//! [`ReactionHold`]: when an over-use episode makes the rate controller act.

use std::time::Duration;

use sfu_bwe::{BandwidthUsage, Timestamp};

/// Over-use acts this long after the episode began, minus the flow's RTT.
const REACTION_TIME: Duration = Duration::from_millis(150);

/// Turns the detector's verdicts into the ones the rate controller acts on, so that flows
/// sharing a queue all react to an over-use episode about the same time after it began,
/// and none skips it because the others' cuts ended it first.
///
/// - An episode begins with the detector's first over-use. It acts once it has lasted
///   [`REACTION_TIME`] − RTT: a short-RTT flow sees the queue grow first, and cutting at
///   once would drain the queue before the longer-RTT flows see it, leaving them a larger
///   share.
/// - An episode the detector leaves before it acted still acts once its wait is over. The
///   other flows' cuts drain the queue, so the detector may read normal or under-use by
///   then; a flow that skipped the episode would keep its rate while they cut, and the
///   shortest-RTT flows, whose wait is longest, would skip most.
/// - A capacity drop does not wait: `falling` acts at once.
#[derive(Debug, Clone, Default)]
pub(crate) struct ReactionHold {
    episode: Option<Episode>,
}

#[derive(Debug, Clone, Copy)]
struct Episode {
    since: Timestamp,
    acted: bool,
}

impl ReactionHold {
    /// The verdict to act on, given the detector's `usage`, the flow's `rtt`, and whether
    /// the received rate shows the capacity fell (asked only while over-use waits).
    pub(crate) fn verdict(
        &mut self,
        usage: BandwidthUsage,
        rtt: Duration,
        falling: impl FnOnce() -> bool,
        now: Timestamp,
    ) -> BandwidthUsage {
        let wait = REACTION_TIME.saturating_sub(rtt);
        let over = usage == BandwidthUsage::Overusing;
        let episode = match (&mut self.episode, over) {
            (None, false) => return usage,
            (None, true) => self.episode.insert(Episode {
                since: now,
                acted: false,
            }),
            (Some(e), _) => e,
        };
        let due = now.saturating_duration_since(episode.since) >= wait;
        if over {
            if due || falling() {
                episode.acted = true;
                return BandwidthUsage::Overusing;
            }
            return BandwidthUsage::Normal;
        }
        if episode.acted {
            self.episode = None;
            return usage;
        }
        if due {
            self.episode = None;
            return BandwidthUsage::Overusing;
        }
        usage
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use BandwidthUsage::{Normal, Overusing, Underusing};

    fn at(ms: u64) -> Timestamp {
        Timestamp::from_millis(ms)
    }

    const SHORT: Duration = Duration::from_millis(20);

    #[test]
    fn a_short_rtt_flow_acts_after_the_reaction_time() {
        let mut h = ReactionHold::default();
        assert_eq!(h.verdict(Overusing, SHORT, || false, at(0)), Normal);
        assert_eq!(h.verdict(Overusing, SHORT, || false, at(100)), Normal);
        assert_eq!(h.verdict(Overusing, SHORT, || false, at(130)), Overusing);
        // Over-use persisting keeps being reported; the controller paces its cuts.
        assert_eq!(h.verdict(Overusing, SHORT, || false, at(180)), Overusing);
        assert_eq!(h.verdict(Normal, SHORT, || false, at(230)), Normal);
    }

    #[test]
    fn a_long_rtt_flow_acts_at_once() {
        let mut h = ReactionHold::default();
        let long = Duration::from_millis(300);
        assert_eq!(h.verdict(Overusing, long, || false, at(0)), Overusing);
    }

    #[test]
    fn an_episode_that_ended_before_the_wait_still_acts_once() {
        let mut h = ReactionHold::default();
        assert_eq!(h.verdict(Overusing, SHORT, || false, at(0)), Normal);
        // The queue drained (other flows cut) before the wait was over.
        assert_eq!(h.verdict(Underusing, SHORT, || false, at(50)), Underusing);
        assert_eq!(h.verdict(Normal, SHORT, || false, at(100)), Normal);
        assert_eq!(h.verdict(Normal, SHORT, || false, at(150)), Overusing);
        assert_eq!(h.verdict(Normal, SHORT, || false, at(200)), Normal);
    }

    #[test]
    fn a_capacity_drop_acts_at_once() {
        let mut h = ReactionHold::default();
        assert_eq!(h.verdict(Overusing, SHORT, || true, at(0)), Overusing);
        // It counted as the episode's reaction.
        assert_eq!(h.verdict(Normal, SHORT, || false, at(200)), Normal);
    }
}
