//! Media kinds and the forwarded media packet.

use std::sync::Arc;
use std::time::Instant;

use sfu_av1_dd::{Av1DdInfo, DecodeTargetMask, TemplateStructure};
use sfu_vfm::FrameMarkingInfo;
use str0m::media::{MediaKind, MediaTime};
use str0m::rtp::{AbsCaptureTime, ExtensionValues, VideoOrientation, Vp8Descriptor};

use crate::{SfuMid, SfuPt, SfuRid};

/// Audio or video.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SfuMediaKind {
    /// An audio track.
    Audio,
    /// A video track.
    Video,
}

impl SfuMediaKind {
    /// `true` for video.
    pub const fn is_video(self) -> bool {
        matches!(self, Self::Video)
    }
}

impl From<MediaKind> for SfuMediaKind {
    fn from(kind: MediaKind) -> Self {
        match kind {
            MediaKind::Audio => Self::Audio,
            MediaKind::Video => Self::Video,
        }
    }
}

impl From<SfuMediaKind> for MediaKind {
    fn from(kind: SfuMediaKind) -> Self {
        match kind {
            SfuMediaKind::Audio => Self::Audio,
            SfuMediaKind::Video => Self::Video,
        }
    }
}

/// One RTP packet received from a publisher, as the room forwards it.
///
/// The payload is shared (`Arc<[u8]>`, the type str0m both emits and accepts), so handing
/// the packet to every subscriber clones a pointer, never the bytes. Sequence number and
/// RTP time are the publisher's; each subscriber rewrites them into its own continuous
/// sequence space.
#[derive(Debug, Clone)]
pub struct SfuMediaPayload {
    /// The publisher's media line.
    pub mid: SfuMid,
    /// The simulcast layer, when the publisher sends simulcast.
    pub rid: Option<SfuRid>,
    /// The publisher's payload type.
    pub pt: SfuPt,
    /// Extended (roll-over free) RTP sequence number.
    pub seq_no: u64,
    /// RTP timestamp in the codec's clock rate.
    pub rtp_time: u32,
    /// The RTP marker bit (end of a video frame).
    pub marker: bool,
    /// Whether this packet starts a keyframe (codec-specific detection).
    pub keyframe: bool,
    /// The picture size a keyframe announces (set on the first packet of a keyframe, for
    /// codecs that carry it cheaply: VP8, VP9).
    pub frame_size: Option<FrameSize>,
    /// The VP8 payload descriptor, parsed once by the publisher's client so each
    /// subscriber can rewrite picture ids without parsing again.
    pub vp8: Option<Vp8Descriptor>,
    /// Where the packet sits in a scalable (SVC) stream, for codecs and streams that say
    /// (VP9 with layer indices); `None` for a stream with one layer.
    pub svc: Option<SfuSvcLayer>,
    /// The AV1 Dependency Descriptor the packet carried, parsed once by the publisher's
    /// client (any codec may carry one; WebRTC sends it with AV1 SVC). Shared: the parsed
    /// form is large and every subscriber reads the same one.
    pub dependency_descriptor: Option<Arc<SfuDependencyDescriptor>>,
    /// The Video Frame Marking extension the packet carried (RFC 9626), parsed once.
    pub frame_marking: Option<FrameMarkingInfo>,
    /// The RTP payload, without header.
    pub payload: Arc<[u8]>,
    /// When the SFU received the packet.
    pub received_at: Instant,
    /// Header extensions that travel with the packet to every subscriber.
    pub extensions: SfuHeaderExtensions,
}

/// A packet's AV1 Dependency Descriptor: the bytes to forward and what they say.
#[derive(Debug, Clone)]
pub struct SfuDependencyDescriptor {
    /// The extension's value as received.
    pub raw: Arc<[u8]>,
    /// The parsed descriptor.
    pub info: Av1DdInfo,
    /// The template structure in effect for it (shared until the publisher sends another).
    pub structure: Arc<TemplateStructure>,
    /// The decode targets the publisher currently sends.
    pub active: DecodeTargetMask,
}

/// Where one packet sits in a scalable video stream: its spatial and temporal layer, and
/// what a forwarder that drops layers needs to know to do it safely.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SfuSvcLayer {
    /// Spatial layer id, 0 the base (lowest resolution).
    pub spatial: u8,
    /// Temporal layer id, 0 the base (lowest frame rate).
    pub temporal: u8,
    /// The packet starts a layer frame (one spatial layer of one picture).
    pub frame_start: bool,
    /// The packet ends a layer frame.
    pub frame_end: bool,
    /// A subscriber receiving the lower temporal layers may start receiving this temporal
    /// layer here.
    pub temporal_switch: bool,
}

/// Width and height of a video picture in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FrameSize {
    /// Width in pixels.
    pub width: u16,
    /// Height in pixels.
    pub height: u16,
}

impl FrameSize {
    /// Number of pixels: how layers of different resolutions are ordered.
    pub fn pixels(self) -> u32 {
        u32::from(self.width) * u32::from(self.height)
    }
}

/// The RTP header extensions a receiver needs from the publisher's packet. Transport
/// extensions (MID, RID, transport-wide sequence number, send times) are per hop and are
/// written by the SFU's own stack instead.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SfuHeaderExtensions {
    /// RFC 6464 audio level (−dBov, 0 loudest … −127 silence).
    pub audio_level: Option<i8>,
    /// RFC 6464 voice activity flag.
    pub voice_activity: Option<bool>,
    /// Coordination of video orientation (3GPP TS 26.114 CVO): how to rotate the picture.
    pub video_orientation: Option<VideoOrientation>,
    /// Absolute capture time (the capture clock of the original source), for A/V sync
    /// and end-to-end delay measurement across the SFU.
    pub abs_capture_time: Option<AbsCaptureTime>,
    /// Playout delay limits the sender asks the receiver's jitter buffer to respect.
    pub playout_delay: Option<(MediaTime, MediaTime)>,
}

impl SfuHeaderExtensions {
    /// The forwarded values of a received packet's extensions.
    pub fn from_str0m(ext: &ExtensionValues) -> Self {
        Self {
            audio_level: ext.audio_level,
            voice_activity: ext.voice_activity,
            video_orientation: ext.video_orientation,
            abs_capture_time: ext.abs_capture_time,
            playout_delay: ext.play_delay_min.zip(ext.play_delay_max),
        }
    }

    /// str0m extension values for an outgoing packet: these, and nothing per-hop.
    pub fn to_str0m(self) -> ExtensionValues {
        ExtensionValues {
            audio_level: self.audio_level,
            voice_activity: self.voice_activity,
            video_orientation: self.video_orientation,
            abs_capture_time: self.abs_capture_time,
            play_delay_min: self.playout_delay.map(|d| d.0),
            play_delay_max: self.playout_delay.map(|d| d.1),
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_extensions_round_trip_and_drop_per_hop_values() {
        let ext = ExtensionValues {
            audio_level: Some(-30),
            voice_activity: Some(true),
            video_orientation: Some(VideoOrientation::Deg90),
            play_delay_min: Some(MediaTime::from_millis(0)),
            play_delay_max: Some(MediaTime::from_millis(100)),
            transport_cc: Some(7),
            ..Default::default()
        };
        let fwd = SfuHeaderExtensions::from_str0m(&ext);
        let out = fwd.to_str0m();
        assert_eq!(out.audio_level, Some(-30));
        assert_eq!(out.voice_activity, Some(true));
        assert_eq!(out.video_orientation, Some(VideoOrientation::Deg90));
        assert_eq!(out.play_delay_max, Some(MediaTime::from_millis(100)));
        assert_eq!(out.transport_cc, None);
        assert_eq!(out.mid, None);
    }

    #[test]
    fn kind_round_trips_through_str0m() {
        for kind in [SfuMediaKind::Audio, SfuMediaKind::Video] {
            assert_eq!(SfuMediaKind::from(MediaKind::from(kind)), kind);
        }
        assert!(SfuMediaKind::Video.is_video());
        assert!(!SfuMediaKind::Audio.is_video());
    }
}
