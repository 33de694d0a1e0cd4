//! What the pacer queues: [`PacedPacket`] and its classification.

use sfu_bwe::{DataSize, Timestamp};

/// Identifies one outgoing RTP stream (e.g. its SSRC). Packets of one stream are never
/// reordered, provided the stream carries one [`PacketKind`] family (all audio or all
/// video), as an SSRC does: audio and video wait in separate queues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamId(pub u32);

/// How the pacer treats a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketKind {
    /// Audio: sent before any video, never dropped while video can be.
    Audio,
    /// Video; `keyframe` packets are dropped last, since losing one stalls the decoder
    /// until the next keyframe.
    Video {
        /// Whether the packet belongs to a keyframe.
        keyframe: bool,
    },
}

impl PacketKind {
    /// Non-keyframe video: the first candidate for dropping.
    #[must_use]
    pub const fn is_droppable_video(self) -> bool {
        matches!(self, Self::Video { keyframe: false })
    }
}

/// A packet handed to the pacer, carrying the caller's `payload` (e.g. `bytes::Bytes` or an
/// index into the caller's own buffer) untouched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacedPacket<T> {
    /// Its stream.
    pub stream: StreamId,
    /// Its class.
    pub kind: PacketKind,
    /// Its size on the wire, charged against the budget.
    pub size: DataSize,
    /// The caller's data.
    pub payload: T,
}

/// A queued packet and when it was queued.
#[derive(Debug, Clone)]
pub(crate) struct Queued<T> {
    pub(crate) packet: PacedPacket<T>,
    pub(crate) enqueued_at: Timestamp,
}
