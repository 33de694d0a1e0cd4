//! Dynacast: the simulcast layers no subscriber may be sent are paused at their publisher,
//! so nobody encodes or uploads video nobody watches.
//!
//! Every [`INTERVAL`] the room asks each subscriber which layers of each track it may be
//! sent ([`Client::wanted_layers`]: every layer unless its hints cut them, none while it is
//! unsubscribed or muted). A layer wanted by nobody for [`HOLD`] is paused; a layer wanted
//! again is resumed at once. The lowest layer is never paused: a subscriber that comes
//! finds something to start with. What a subscriber's bandwidth cannot carry is not a
//! reason to pause a layer: estimates move, and every publisher's encoder would follow.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sfu_client::Client;
use sfu_ids::{ClientId, SfuMid, SfuRid};

/// How often the room collects what its subscribers want.
pub(crate) const INTERVAL: Duration = Duration::from_millis(500);
/// How long a layer must be wanted by nobody before it is paused.
pub(crate) const HOLD: Duration = Duration::from_secs(2);

/// One publisher track's layers.
#[derive(Debug)]
struct TrackLayers {
    declared: Arc<[SfuRid]>,
    /// Layers (by index into `declared`) the publisher is asked to send.
    active: u32,
    /// Since when each layer has been wanted by nobody.
    unwanted_since: Vec<Option<Instant>>,
}

/// A change to tell a publisher: the layers of its track `mid` to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LayersChange {
    pub(crate) client: ClientId,
    pub(crate) mid: SfuMid,
    pub(crate) active: Vec<SfuRid>,
}

/// The dynacast state of a room.
#[derive(Debug, Default)]
pub(crate) struct Dynacast {
    tracks: HashMap<(ClientId, SfuMid), TrackLayers>,
    next: Option<Instant>,
}

impl Dynacast {
    /// When [`Dynacast::evaluate`] is due next.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.next
    }

    /// Makes the next evaluation due at `now` (a client came or went).
    pub(crate) fn wake(&mut self, now: Instant) {
        self.next = Some(self.next.map_or(now, |n| n.min(now)));
    }

    /// Collects what `clients` want and returns the publishers whose active layers change.
    pub(crate) fn evaluate<'a>(
        &mut self,
        clients: impl Iterator<Item = &'a Client> + Clone,
        now: Instant,
    ) -> Vec<LayersChange> {
        self.next = Some(now + INTERVAL);
        // Every published simulcast track, and nobody wanting anything yet.
        let mut wanted: HashMap<(ClientId, SfuMid), u32> = HashMap::new();
        for c in clients.clone() {
            for t in c.published_tracks().filter(|t| t.rids.len() > 1) {
                let key = (t.origin, t.mid);
                wanted.insert(key, 0);
                self.tracks.entry(key).or_insert_with(|| TrackLayers {
                    declared: Arc::clone(&t.rids),
                    active: mask_of(t.rids.len()),
                    unwanted_since: vec![None; t.rids.len()],
                });
            }
        }
        self.tracks.retain(|k, _| wanted.contains_key(k));
        for c in clients {
            c.wanted_layers(|publisher, mid, rids| {
                let key = (publisher, mid);
                if let (Some(w), Some(t)) = (wanted.get_mut(&key), self.tracks.get(&key)) {
                    for r in rids {
                        if let Some(i) = t.declared.iter().position(|d| d == r) {
                            *w |= 1 << i;
                        }
                    }
                }
            });
        }
        let mut changes = Vec::new();
        for (&(client, mid), t) in &mut self.tracks {
            // The lowest layer always runs.
            let want = wanted.get(&(client, mid)).copied().unwrap_or(0) | 1;
            let mut active = t.active | want;
            for (i, since) in t.unwanted_since.iter_mut().enumerate() {
                if want & (1 << i) != 0 {
                    *since = None;
                } else if now.saturating_duration_since(*since.get_or_insert(now)) >= HOLD {
                    active &= !(1 << i);
                }
            }
            if active != t.active {
                t.active = active;
                changes.push(LayersChange {
                    client,
                    mid,
                    active: t
                        .declared
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| active & (1 << i) != 0)
                        .map(|(_, r)| *r)
                        .collect(),
                });
            }
        }
        changes
    }
}

fn mask_of(n: usize) -> u32 {
    if n >= 32 { u32::MAX } else { (1 << n) - 1 }
}
