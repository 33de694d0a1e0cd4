//! Data channels: messages a peer sends on a channel are relayed to the other peers'
//! channels of the same label, with the sender's identity in front.
//!
//! The peers open their channels (a page creates `chat` before its offer); the SFU relays
//! by label. Each relayed message starts with the sender's client id: for a text message
//! the id in decimal and a newline (`"3\nhello"`), for a binary one the id as 8 bytes big
//! endian. A receiver that cannot keep up loses messages (counted), never stalls the room:
//! a channel whose unsent bytes pass [`MAX_DATA_BUFFERED`] takes nothing more until it drains.
//! A sender is held to [`DATA_RATE`] messages a second (bursts of [`DATA_BURST`]): each
//! message costs the room one write per other peer, so a flood is dropped at its source.

use std::sync::Arc;
use std::time::Instant;

use sfu_ids::ClientId;
use str0m::channel::{ChannelData, ChannelId};

use super::Client;
use crate::channel::ChannelConfig;
use crate::propagate::{ClientOutput, Propagated};

/// Channels one peer may have open (its own and the room's); more are ignored.
pub const MAX_CHANNELS: usize = 16;
/// The largest message relayed; larger ones are dropped.
pub const MAX_DATA_MESSAGE: usize = 16 * 1024;
/// Unsent bytes a receiving channel may hold before messages to it are dropped.
pub const MAX_DATA_BUFFERED: usize = 1024 * 1024;
/// Messages a second one peer may send to the room, on average.
pub const DATA_RATE: f64 = 50.0;
/// Messages one peer may send at once before [`DATA_RATE`] holds.
pub const DATA_BURST: f64 = 100.0;

/// A token bucket of messages a peer may still send.
#[derive(Debug, Clone, Copy)]
pub(super) struct DataBudget {
    tokens: f64,
    at: Option<Instant>,
}

impl Default for DataBudget {
    fn default() -> Self {
        Self {
            tokens: DATA_BURST,
            at: None,
        }
    }
}

impl DataBudget {
    /// Takes one message's worth at `now`; `false` when the peer is over its rate.
    fn take(&mut self, now: Instant) -> bool {
        if let Some(at) = self.at {
            let refill = now.saturating_duration_since(at).as_secs_f64() * DATA_RATE;
            self.tokens = (self.tokens + refill).min(DATA_BURST);
        }
        self.at = Some(now);
        if self.tokens < 1.0 {
            return false;
        }
        self.tokens -= 1.0;
        true
    }
}

impl Client {
    /// Opens the data channel `config` on the peer (it sees it in `ondatachannel` once
    /// the SCTP association is up); the room relays messages on it by its label. `false`
    /// when the peer's offer negotiated no data channels (no `m=application` line) or
    /// the peer has [`MAX_CHANNELS`] open or opening.
    pub fn open_channel(&mut self, config: &ChannelConfig) -> bool {
        if !self.has_data_channels || self.channels.len() + self.opening.len() >= MAX_CHANNELS {
            return false;
        }
        let id = self.rtc.direct_api().create_data_channel(config.to_str0m());
        self.opening.push(id);
        true
    }

    /// The peer opened a channel.
    pub(super) fn on_channel_open(&mut self, id: ChannelId, label: String) {
        self.opening.retain(|&c| c != id);
        if self.channels.len() < MAX_CHANNELS {
            self.channels.push((id, Arc::from(label)));
        }
    }

    /// The peer closed a channel.
    pub(super) fn on_channel_close(&mut self, id: ChannelId) {
        self.channels.retain(|(c, _)| *c != id);
    }

    /// A message from the peer: to every other peer's channel of the same label. A relay's
    /// messages go nowhere (data does not cross a cascade).
    pub(super) fn on_channel_data(&mut self, d: ChannelData) {
        if self.config.role == crate::PeerRole::Relay {
            return;
        }
        let Some(label) = self
            .channels
            .iter()
            .find(|(c, _)| *c == d.id)
            .map(|(_, l)| Arc::clone(l))
        else {
            return;
        };
        if d.data.len() > MAX_DATA_MESSAGE || !self.data_budget.take(self.last_now) {
            self.stats.data_dropped += 1;
            return;
        }
        self.stats.data_in += 1;
        let data = relayed(self.id, d.binary, &d.data);
        self.queue
            .push_back(ClientOutput::Propagate(Propagated::Data {
                origin: self.id,
                label,
                binary: d.binary,
                data,
            }));
    }

    /// Another peer's message, for this peer's channel of that label.
    pub(super) fn relay_data(&mut self, label: &str, binary: bool, data: &[u8]) {
        let Some(id) = self
            .channels
            .iter()
            .find(|(_, l)| &**l == label)
            .map(|(c, _)| *c)
        else {
            return;
        };
        let Some(mut channel) = self.rtc.channel(id) else {
            return;
        };
        if channel.buffered_amount() > MAX_DATA_BUFFERED {
            self.stats.data_dropped += 1;
            return;
        }
        match channel.write(binary, data) {
            Ok(true) => self.stats.data_relayed += 1,
            _ => self.stats.data_dropped += 1,
        }
    }
}

/// The message as relayed: the sender's id in front.
fn relayed(origin: ClientId, binary: bool, data: &[u8]) -> Arc<[u8]> {
    let mut out = Vec::with_capacity(data.len() + 21);
    if binary {
        out.extend_from_slice(&origin.get().to_be_bytes());
    } else {
        out.extend_from_slice(origin.get().to_string().as_bytes());
        out.push(b'\n');
    }
    out.extend_from_slice(data);
    out.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sender_gets_its_burst_then_its_rate() {
        let mut b = DataBudget::default();
        let t0 = Instant::now();
        let sent = (0..500).filter(|_| b.take(t0)).count();
        assert_eq!(sent, DATA_BURST as usize);
        // One second later, one second's worth.
        let later = t0 + std::time::Duration::from_secs(1);
        let sent = (0..500).filter(|_| b.take(later)).count();
        assert_eq!(sent, DATA_RATE as usize);
    }

    #[test]
    fn the_sender_goes_in_front() {
        assert_eq!(&*relayed(ClientId::new(3), false, b"hi"), b"3\nhi");
        assert_eq!(
            &*relayed(ClientId::new(258), true, &[9]),
            &[0, 0, 0, 0, 0, 0, 1, 2, 9]
        );
    }
}
