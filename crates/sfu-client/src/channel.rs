//! Data channels the room opens on a peer itself.

use std::time::Duration;

/// A data channel the room opens on a peer (the page learns of it from
/// `ondatachannel`), with its label, ordering and reliability. Messages a peer sends on
/// it are relayed like those of the peers' own channels: to every other peer's channel of
/// the same label, sender first.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ChannelConfig {
    /// The label; the room relays by it.
    pub label: String,
    /// Messages arrive in the order they were sent.
    pub ordered: bool,
    /// How hard the transport tries to deliver each message.
    pub reliability: ChannelReliability,
}

/// How hard a data channel's transport (SCTP, RFC 8831) tries to deliver a message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ChannelReliability {
    /// Every message, retransmitted until it arrives.
    #[default]
    Reliable,
    /// At most this many retransmissions; 0 sends each message once.
    MaxRetransmits(u16),
    /// Retransmitted only while younger than this (whole milliseconds, at most 65.5 s).
    MaxLifetime(Duration),
}

impl ChannelConfig {
    /// An ordered, reliable channel (chat, commands).
    pub fn reliable(label: impl Into<String>) -> Self {
        Self {
            label: label.into(),
            ordered: true,
            reliability: ChannelReliability::Reliable,
        }
    }

    /// An unordered channel that sends each message once (positions, cursors, game
    /// state: a late message is worth less than the next one).
    pub fn unreliable(label: impl Into<String>) -> Self {
        Self {
            label: label.into(),
            ordered: false,
            reliability: ChannelReliability::MaxRetransmits(0),
        }
    }

    /// Sets [`ChannelConfig::ordered`].
    pub fn with_ordered(mut self, ordered: bool) -> Self {
        self.ordered = ordered;
        self
    }

    /// Sets [`ChannelConfig::reliability`].
    pub fn with_reliability(mut self, reliability: ChannelReliability) -> Self {
        self.reliability = reliability;
        self
    }

    /// str0m's form of it (opened in-band, DCEP).
    pub(crate) fn to_str0m(&self) -> str0m::channel::ChannelConfig {
        use str0m::channel::Reliability;
        let reliability = match self.reliability {
            ChannelReliability::Reliable => Reliability::Reliable,
            ChannelReliability::MaxRetransmits(retransmits) => {
                Reliability::MaxRetransmits { retransmits }
            }
            ChannelReliability::MaxLifetime(d) => Reliability::MaxPacketLifetime {
                lifetime: u16::try_from(d.as_millis()).unwrap_or(u16::MAX),
            },
        };
        str0m::channel::ChannelConfig {
            label: self.label.clone(),
            ordered: self.ordered,
            reliability,
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use str0m::channel::Reliability;

    #[test]
    fn the_presets_map_onto_str0m() {
        let c = ChannelConfig::unreliable("state").to_str0m();
        assert_eq!(c.label, "state");
        assert!(!c.ordered);
        assert_eq!(
            c.reliability,
            Reliability::MaxRetransmits { retransmits: 0 }
        );
        assert_eq!(c.negotiated, None);
        let r = ChannelConfig::reliable("chat")
            .with_reliability(ChannelReliability::MaxLifetime(Duration::from_secs(100)))
            .to_str0m();
        assert!(r.ordered);
        assert_eq!(
            r.reliability,
            Reliability::MaxPacketLifetime { lifetime: u16::MAX }
        );
    }
}
