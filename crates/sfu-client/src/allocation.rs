//! Splitting one subscriber's bandwidth over everything it receives.
//!
//! The estimate (or the application's cap) is a budget for the whole subscriber, not per
//! track. Audio is served first: it is cheap and losing it is worse than losing video.
//! Video tracks then get their lowest layer in priority order (a track that cannot get even
//! that is paused), and the rest is handed out one layer step at a time, round-robin within
//! a priority class and class after class, so that equal tracks share fairly and a screen
//! share is sharp before any camera goes up.
//!
//! Hysteresis: what a track had at the last allocation it keeps as long as it fits, with
//! [`KEEP_SLACK`] of the budget to spare for estimate noise; a step up (or a resume from
//! pause) needs [`UP_MARGIN`] of headroom. Pure: no clock, no state besides what the caller
//! passes in.

use sfu_bwe::Bitrate;

/// Headroom a step up needs over its cost.
pub(crate) const UP_MARGIN: f64 = 1.2;
/// Share of the budget that what tracks already have may run over it, once in all: a dip
/// of the estimate by a few percent (a loaded receiver's jitter reads as delay) must not
/// cost a switch down and, a few seconds later, one up, each with a keyframe.
pub(crate) const KEEP_SLACK: f64 = 0.1;
/// Cost assumed for a layer not measured yet: low enough to start, high enough that many
/// unmeasured layers do not look free.
pub(crate) const UNMEASURED_LAYER: Bitrate = Bitrate::from_kbps(50);

/// How much an application wants one received track, relative to the others.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum TrackPriority {
    /// Served after every other video (thumbnails, off-screen tiles).
    Low,
    /// An ordinary camera.
    #[default]
    Normal,
    /// The active speaker.
    Speaker,
    /// A screen share: text must stay readable, so it goes first.
    ScreenShare,
}

/// Priority classes, served in this order.
const CLASSES: [TrackPriority; 4] = [
    TrackPriority::ScreenShare,
    TrackPriority::Speaker,
    TrackPriority::Normal,
    TrackPriority::Low,
];

/// What one track asks for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Demand<'a> {
    pub(crate) audio: bool,
    pub(crate) priority: TrackPriority,
    /// Rates of the track's layers, lowest quality first (one entry without simulcast).
    pub(crate) layers: &'a [Bitrate],
    /// The layer index granted at the last allocation (`None`: paused or new).
    pub(crate) previous: Option<usize>,
}

/// The layer index granted to each track (`None`: paused), in the order of `demands`;
/// returns the total granted and the cost of the next step up anyone could take (for
/// padding towards it), written into `grants`.
pub(crate) fn allocate(
    budget: Bitrate,
    demands: &[Demand<'_>],
    grants: &mut [Option<usize>],
) -> (Bitrate, Option<Bitrate>) {
    let cost = |d: &Demand<'_>, i: usize| d.layers[i].max(UNMEASURED_LAYER);
    let mut purse = Purse {
        left: budget,
        slack: budget.scale(KEEP_SLACK),
        used: Bitrate::ZERO,
    };
    // Audio first, always.
    for (d, g) in demands.iter().zip(grants.iter_mut()) {
        *g = None;
        if d.audio && !d.layers.is_empty() {
            purse.take(d.layers[0]);
            *g = Some(0);
        }
    }
    // Lowest layers, by priority.
    for class in CLASSES {
        for (d, g) in demands.iter().zip(grants.iter_mut()) {
            if d.audio || d.priority != class || d.layers.is_empty() {
                continue;
            }
            let c = cost(d, 0);
            if purse.fits(c, d.previous.is_some()) {
                purse.take(c);
                *g = Some(0);
            }
        }
    }
    // Steps up, round-robin within a class, class by class.
    let mut next_step: Option<Bitrate> = None;
    for class in CLASSES {
        loop {
            let mut stepped = false;
            for (d, g) in demands.iter().zip(grants.iter_mut()) {
                let Some(at) = *g else { continue };
                if d.audio || d.priority != class || at + 1 >= d.layers.len() {
                    continue;
                }
                let extra = cost(d, at + 1).saturating_sub(cost(d, at));
                if purse.fits(extra, d.previous.is_some_and(|p| p > at)) {
                    purse.take(extra);
                    *g = Some(at + 1);
                    stepped = true;
                } else if next_step.is_none() {
                    next_step = Some(extra);
                }
            }
            if !stepped {
                break;
            }
        }
    }
    // A paused track's resume is a step too.
    if next_step.is_none() {
        next_step = demands
            .iter()
            .zip(grants.iter())
            .find(|(d, g)| !d.audio && g.is_none() && !d.layers.is_empty())
            .map(|(d, _)| cost(d, 0));
    }
    (purse.used, next_step)
}

/// What is left of a budget while it is handed out.
struct Purse {
    left: Bitrate,
    /// What kept grants may still run over `left`.
    slack: Bitrate,
    used: Bitrate,
}

impl Purse {
    /// Whether `c` fits: what a track keeps within what is left plus the slack, anything
    /// new with the margin.
    fn fits(&self, c: Bitrate, kept: bool) -> bool {
        if kept {
            c <= self.left.saturating_add(self.slack)
        } else {
            c.scale(UP_MARGIN) <= self.left
        }
    }

    fn take(&mut self, c: Bitrate) {
        if c > self.left {
            self.slack = self.slack.saturating_sub(c.saturating_sub(self.left));
        }
        self.left = self.left.saturating_sub(c);
        self.used = self.used.saturating_add(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kbps(v: &[u64]) -> Vec<Bitrate> {
        v.iter().map(|&k| Bitrate::from_kbps(k)).collect()
    }

    fn video<'a>(layers: &'a [Bitrate], previous: Option<usize>) -> Demand<'a> {
        Demand {
            audio: false,
            priority: TrackPriority::Normal,
            layers,
            previous,
        }
    }

    fn run(budget: u64, demands: &[Demand<'_>]) -> Vec<Option<usize>> {
        let mut grants = vec![None; demands.len()];
        allocate(Bitrate::from_kbps(budget), demands, &mut grants);
        grants
    }

    #[test]
    fn audio_comes_first_then_lowest_layers_then_fair_steps() {
        let audio = kbps(&[40]);
        let cam = kbps(&[150, 500, 1200]);
        let demands = [
            Demand {
                audio: true,
                ..video(&audio, None)
            },
            video(&cam, None),
            video(&cam, None),
        ];
        // 40 + 2 x 150 = 340; one step costs 350 (x1.2 = 420).
        assert_eq!(run(300, &demands), vec![Some(0), Some(0), None]);
        assert_eq!(run(400, &demands), vec![Some(0), Some(0), Some(0)]);
        // 760 left after the lowest layers: one step each would need 840.
        assert_eq!(run(800, &demands), vec![Some(0), Some(1), Some(0)]);
        assert_eq!(run(1300, &demands), vec![Some(0), Some(1), Some(1)]);
        assert_eq!(run(10_000, &demands), vec![Some(0), Some(2), Some(2)]);
    }

    #[test]
    fn a_screen_share_is_served_before_cameras() {
        let cam = kbps(&[150, 500, 1200]);
        let screen = kbps(&[100, 400, 1500]);
        let demands = [
            video(&cam, None),
            Demand {
                priority: TrackPriority::ScreenShare,
                ..video(&screen, None)
            },
        ];
        assert_eq!(run(200, &demands), vec![None, Some(0)]);
        // The screen share climbs to its top before the camera takes a step.
        assert_eq!(run(1900, &demands), vec![Some(0), Some(2)]);
    }

    #[test]
    fn what_a_track_has_it_keeps_without_the_margin() {
        let cam = kbps(&[150, 500]);
        // 520 fits layer 1 (500) but not 1.2 x its step from layer 0.
        assert_eq!(run(520, &[video(&cam, Some(0))]), vec![Some(0)]);
        assert_eq!(run(520, &[video(&cam, Some(1))]), vec![Some(1)]);
        // A dip within the slack keeps it (500 <= 480 + 48)...
        assert_eq!(run(480, &[video(&cam, Some(1))]), vec![Some(1)]);
        // ... below that it goes down at once (500 > 440 + 44).
        assert_eq!(run(440, &[video(&cam, Some(1))]), vec![Some(0)]);
        // A paused track resumes only with the margin: 150 x 1.2 = 180.
        assert_eq!(run(170, &[video(&cam, None)]), vec![None]);
        assert_eq!(run(170, &[video(&cam, Some(0))]), vec![Some(0)]);
    }

    #[test]
    fn the_slack_is_spent_once_in_all() {
        let cam = kbps(&[100, 300]);
        // Two kept top layers cost 600: 560 + 56 of slack carries both; 540 + 54 only one,
        // the slack is not granted again to the second.
        let demands = [video(&cam, Some(1)), video(&cam, Some(1))];
        assert_eq!(run(560, &demands), vec![Some(1), Some(1)]);
        assert_eq!(run(540, &demands), vec![Some(1), Some(0)]);
    }

    #[test]
    fn the_next_step_is_reported_for_padding() {
        let cam = kbps(&[150, 500]);
        let mut grants = [None];
        let (used, next) = allocate(Bitrate::from_kbps(300), &[video(&cam, None)], &mut grants);
        assert_eq!(used, Bitrate::from_kbps(150));
        assert_eq!(next, Some(Bitrate::from_kbps(350)));
    }
}
