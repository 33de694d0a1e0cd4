//! Dominant speaker identification from audio levels: who is speaking in a room.
//!
//! The method is Volfin and Cohen's ("Dominant speaker identification for multipoint
//! videoconferencing", 2013), in the form Jitsi uses with RFC 6464 audio levels instead of
//! frequency sub-bands. Each audio frame's level becomes an *immediate* activity (how many
//! of [`N1`] loudness steps above the speaker's own noise floor it reaches); a *medium*
//! window counts the active immediates of [`N2`] frames, a *long* window the active
//! mediums of [`N3`] of those. Each time scale is scored as the log-likelihood that the
//! count comes from speech rather than noise. Every [`DECISION_INTERVAL`] the speaker whose
//! scores beat the current dominant speaker's on all three scales by [`C1`], [`C2`],
//! [`C3`] (log ratios) takes over; among several, the one with the best medium score.
//!
//! What that gives a room: a new speaker takes over about a second after the previous one
//! stops (the long window must fill), a short interjection over a speaker who goes on
//! does not flip anything, and silence keeps the last speaker.
//!
//! Pure: time is an argument, no allocation per frame, no I/O.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use sfu_speaker::DominantSpeaker;
//!
//! let mut room = DominantSpeaker::new();
//! let t0 = Instant::now();
//! // Two seconds of speaker 1 talking (level 30 -dBov, a pause every fourth frame) while
//! // speaker 2 is quiet (127).
//! for i in 0..100u32 {
//!     let now = t0 + Duration::from_millis(u64::from(i) * 20);
//!     room.level(1u64, if i % 4 == 3 { 127 } else { 30 }, now);
//!     room.level(2u64, 127, now);
//!     room.poll(now);
//! }
//! assert_eq!(room.dominant(), Some(1));
//! ```

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

/// Loudness steps of an immediate activity.
pub const N1: u8 = 13;
/// Immediates (audio frames) in a medium window.
pub const N2: usize = 5;
/// Mediums in a long window.
pub const N3: usize = 10;
/// How often the dominant speaker is decided.
pub const DECISION_INTERVAL: Duration = Duration::from_millis(300);
/// Log ratio of immediate scores a challenger must exceed.
pub const C1: f64 = 3.0;
/// Log ratio of medium scores a challenger must exceed.
pub const C2: f64 = 2.0;
/// Log ratio of long scores a challenger must exceed.
pub const C3: f64 = 0.0;

/// An immediate counts as active from this many steps.
const IMMEDIATE_ACTIVE: u8 = 7;
/// A medium counts as active from this many active immediates.
const MEDIUM_ACTIVE: u8 = 3;
/// Loudness (127 − level) above the noise floor per step.
const STEP: u8 = 128_u8.div_ceil(N1);
/// Probability parameter and per-scale λ of the activity scores.
const P: f64 = 0.5;
const LAMBDA_IMMEDIATE: f64 = 0.78;
const LAMBDA_MEDIUM: f64 = 24.0;
const LAMBDA_LONG: f64 = 47.0;
/// Scores never go below this, so ratios stay finite.
const MIN_SCORE: f64 = 1e-10;
/// A speaker with no level for this long counts as silent.
const IDLE: Duration = Duration::from_millis(500);
/// How slowly the noise floor rises (frames to follow a louder floor).
const FLOOR_RISE: u32 = 250;

/// One participant's recent activity.
#[derive(Debug, Clone)]
struct Speaker {
    /// Immediate activities of the last `N2 * N3` frames, a ring.
    immediates: [u8; N2 * N3],
    next: usize,
    /// Quietest loudness heard recently: the noise floor.
    floor: u8,
    frames_since_floor: u32,
    last_level: Option<Instant>,
}

impl Speaker {
    fn new() -> Self {
        Self {
            immediates: [0; N2 * N3],
            next: 0,
            floor: u8::MAX,
            frames_since_floor: 0,
            last_level: None,
        }
    }

    fn push(&mut self, level: u8, now: Instant) {
        let loudness = 127 - level.min(127);
        if loudness <= self.floor {
            self.floor = loudness;
            self.frames_since_floor = 0;
        } else {
            self.frames_since_floor += 1;
            if self.frames_since_floor >= FLOOR_RISE {
                // A floor not heard for a while was a dip, not the noise: let it rise.
                self.floor = self.floor.saturating_add(1);
                self.frames_since_floor = 0;
            }
        }
        let above = loudness.saturating_sub(self.floor);
        self.immediates[self.next] = (above / STEP).min(N1);
        self.next = (self.next + 1) % self.immediates.len();
        self.last_level = Some(now);
    }

    /// (immediate, medium, long) activity counts.
    fn activity(&self, now: Instant) -> (u8, u8, u8) {
        if self
            .last_level
            .is_none_or(|t| now.saturating_duration_since(t) > IDLE)
        {
            return (0, 0, 0);
        }
        let len = self.immediates.len();
        let newest = |k: usize| self.immediates[(self.next + len - 1 - k) % len];
        let immediate = newest(0);
        let medium_of = |m: usize| {
            (0..N2)
                .filter(|&k| newest(m * N2 + k) >= IMMEDIATE_ACTIVE)
                .count() as u8
        };
        let medium = medium_of(0);
        let long = (0..N3).filter(|&m| medium_of(m) >= MEDIUM_ACTIVE).count() as u8;
        (immediate, medium, long)
    }

    fn scores(&self, now: Instant) -> [f64; 3] {
        let (i, m, l) = self.activity(now);
        [
            score(i, N1, LAMBDA_IMMEDIATE),
            score(m, N2 as u8, LAMBDA_MEDIUM),
            score(l, N3 as u8, LAMBDA_LONG),
        ]
    }
}

/// Log-likelihood score of `active` of `n` units being speech.
fn score(active: u8, n: u8, lambda: f64) -> f64 {
    let (v, n) = (f64::from(active), f64::from(n));
    let s = ln_binomial(n, v) + v * P.ln() + (n - v) * (1.0 - P).ln() - lambda.ln() + lambda * v;
    s.max(MIN_SCORE)
}

fn ln_binomial(n: f64, k: f64) -> f64 {
    ln_factorial(n) - ln_factorial(k) - ln_factorial(n - k)
}

fn ln_factorial(n: f64) -> f64 {
    (2..=n as u32).map(|i| f64::from(i).ln()).sum()
}

/// The dominant speaker of one room. `K` identifies participants (a client id).
#[derive(Debug, Clone)]
pub struct DominantSpeaker<K> {
    speakers: HashMap<K, Speaker>,
    dominant: Option<K>,
    last_decision: Option<Instant>,
}

impl<K: Copy + Eq + Hash> Default for DominantSpeaker<K> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Copy + Eq + Hash> DominantSpeaker<K> {
    /// A room with nobody in it.
    pub fn new() -> Self {
        Self {
            speakers: HashMap::new(),
            dominant: None,
            last_decision: None,
        }
    }

    /// One audio frame of `who` with RFC 6464 level `level` (−dBov: 0 loudest, 127
    /// silence) at `now`. Call once per frame (packet) of each participant.
    pub fn level(&mut self, who: K, level: u8, now: Instant) {
        self.speakers
            .entry(who)
            .or_insert_with(Speaker::new)
            .push(level, now);
    }

    /// `who` left the room. When it was the dominant speaker, nobody is until the next
    /// decision picks someone.
    pub fn remove(&mut self, who: K) {
        self.speakers.remove(&who);
        if self.dominant == Some(who) {
            self.dominant = None;
        }
    }

    /// The dominant speaker now.
    pub fn dominant(&self) -> Option<K> {
        self.dominant
    }

    /// Decides again when [`DECISION_INTERVAL`] has passed; `Some` with the new dominant
    /// speaker when it changed.
    pub fn poll(&mut self, now: Instant) -> Option<K> {
        if self
            .last_decision
            .is_some_and(|t| now.saturating_duration_since(t) < DECISION_INTERVAL)
        {
            return None;
        }
        self.last_decision = Some(now);
        let next = self.decide(now);
        if next != self.dominant {
            self.dominant = next;
            return next;
        }
        None
    }

    fn decide(&self, now: Instant) -> Option<K> {
        let Some(current) = self.dominant.filter(|d| self.speakers.contains_key(d)) else {
            // Nobody yet: the most active on the medium scale, if anyone speaks.
            return self
                .speakers
                .iter()
                .map(|(k, s)| (*k, s.scores(now)))
                .filter(|(_, sc)| sc[1] > MIN_SCORE)
                .max_by(|a, b| a.1[1].total_cmp(&b.1[1]))
                .map(|(k, _)| k);
        };
        let base = self.speakers[&current].scores(now);
        let mut best: Option<(K, f64)> = None;
        for (&k, s) in &self.speakers {
            if k == current {
                continue;
            }
            let sc = s.scores(now);
            let ratio = |i: usize| (sc[i] / base[i]).ln();
            let (c1, c2, c3) = (ratio(0), ratio(1), ratio(2));
            if c1 > C1 && c2 > C2 && c3 > C3 && best.is_none_or(|(_, b)| c2 > b) {
                best = Some((k, c2));
            }
        }
        Some(best.map_or(current, |(k, _)| k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Simulated room: `script(participant, ms)` gives each participant's level per 20 ms
    /// frame; returns the dominant speaker changes with their times.
    fn simulate(
        parties: &[u64],
        ms: u64,
        script: impl Fn(u64, u64) -> u8,
    ) -> (DominantSpeaker<u64>, Vec<(u64, u64)>) {
        let t0 = Instant::now();
        let mut room = DominantSpeaker::new();
        let mut changes = Vec::new();
        for step in 0..ms / 20 {
            let at = step * 20;
            let now = t0 + Duration::from_millis(at);
            for &p in parties {
                room.level(p, script(p, at), now);
            }
            if let Some(k) = room.poll(now) {
                changes.push((at, k));
            }
        }
        (room, changes)
    }

    /// Speech: loud with a syllable rhythm (a silent gap every fourth frame); silence: 127
    /// with a little noise.
    fn speech(at: u64) -> u8 {
        if (at / 20) % 4 == 3 { 127 } else { 25 }
    }
    fn quiet(at: u64) -> u8 {
        if (at / 20).is_multiple_of(7) {
            120
        } else {
            127
        }
    }

    #[test]
    fn a_new_speaker_takes_over_within_a_second_and_a_half() {
        // 1 speaks for 5 s, then stops; 2 speaks from then on.
        let (room, changes) = simulate(&[1, 2, 3], 10_000, |p, at| match (p, at < 5000) {
            (1, true) | (2, false) => speech(at),
            _ => quiet(at),
        });
        assert_eq!(changes.first().map(|c| c.1), Some(1));
        let handover = changes.iter().find(|c| c.1 == 2).expect("2 takes over").0;
        assert!(
            (5000..=6500).contains(&handover),
            "handover at {handover} ms: {changes:?}"
        );
        assert_eq!(room.dominant(), Some(2));
        assert_eq!(changes.len(), 2, "no flapping: {changes:?}");
    }

    #[test]
    fn a_short_interjection_over_a_speaker_does_not_flip() {
        // 1 speaks throughout; 2 interjects for 0.9 s, three times.
        let (_, changes) = simulate(&[1, 2], 12_000, |p, at| {
            let interjecting = [3000..3900, 6000..6900, 9000..9900]
                .iter()
                .any(|r| r.contains(&at));
            match p {
                1 => speech(at),
                _ if interjecting => speech(at),
                _ => quiet(at),
            }
        });
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert_eq!(changes[0].1, 1);
    }

    #[test]
    fn silence_keeps_the_last_speaker_and_leaving_clears_it() {
        let (mut room, changes) = simulate(&[1, 2], 8000, |p, at| match (p, at < 3000) {
            (2, true) => speech(at),
            _ => quiet(at),
        });
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert_eq!(room.dominant(), Some(2));
        room.remove(2);
        assert_eq!(room.dominant(), None);
    }

    #[test]
    fn a_participant_that_stops_sending_counts_as_silent() {
        let t0 = Instant::now();
        let mut room = DominantSpeaker::new();
        for i in 0..100u64 {
            let now = t0 + Duration::from_millis(i * 20);
            room.level(1u64, speech(i * 20), now);
            room.poll(now);
        }
        assert_eq!(room.dominant(), Some(1));
        // 1 goes away without a word; 2 speaks.
        for i in 100..250u64 {
            let now = t0 + Duration::from_millis(i * 20);
            room.level(2u64, speech(i * 20), now);
            room.poll(now);
        }
        assert_eq!(room.dominant(), Some(2));
    }
}
