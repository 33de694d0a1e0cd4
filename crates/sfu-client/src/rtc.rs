//! Building the str0m `Rtc` a client wraps.

use std::net::SocketAddr;
use std::time::Instant;

use str0m::rtp::Extension;
use str0m::{Candidate, Rtc, RtcConfig};

use crate::dependency_descriptor::{DD_URI, DdSerializer};
use crate::estimator::{EstimatorKind, INITIAL_ESTIMATE};
use crate::frame_marking::{VFM_URI, VfmSerializer};

/// The underlying str0m `Rtc`. **Semver-exempt**: it follows str0m's versioning, not ours.
pub type RawRtc = Rtc;
/// The underlying str0m `RtcConfig`. **Semver-exempt**, like [`RawRtc`].
pub type RawRtcConfig = RtcConfig;

/// The str0m configuration an SFU peer needs: RTP mode (the SFU forwards packets, it does
/// not reassemble frames), ICE-lite (the SFU has a reachable address and only answers
/// connectivity checks), stats once a second (for [`PeerRtcpStats`](crate::PeerRtcpStats)),
/// and, beside str0m's standard header extensions (audio level, video orientation, MID,
/// RID, transport-wide sequence numbers), the ones a receiver wants from the publisher:
/// playout delay, absolute capture time, the AV1 Dependency Descriptor and Video Frame
/// Marking (which SVC forwarding reads and the receiver needs). Every video codec str0m offers by default has
/// keyframe detection in [`is_keyframe`](crate::is_keyframe).
/// Start from this when customising through [`SfuRtcBuilder::raw_config`].
pub fn rtc_config() -> RawRtcConfig {
    RtcConfig::new()
        .set_rtp_mode(true)
        .set_ice_lite(true)
        .set_stats_interval(Some(std::time::Duration::from_secs(1)))
        .set_extension(PLAYOUT_DELAY_ID, Extension::PlayoutDelay)
        .set_extension(ABS_CAPTURE_TIME_ID, Extension::AbsoluteCaptureTime)
        .set_extension(
            DEPENDENCY_DESCRIPTOR_ID,
            Extension::with_serializer(DD_URI, DdSerializer),
        )
        .set_extension(
            FRAME_MARKING_ID,
            Extension::with_serializer(VFM_URI, VfmSerializer),
        )
}

/// Extension ids the standard map leaves free (it uses 1–4, 10, 11 and 13). A peer's offer
/// may number them differently; str0m follows the offer.
const PLAYOUT_DELAY_ID: u8 = 6;
const ABS_CAPTURE_TIME_ID: u8 = 7;
const DEPENDENCY_DESCRIPTOR_ID: u8 = 8;
const FRAME_MARKING_ID: u8 = 9;

/// An SFU-configured str0m `Rtc`, ready to be wrapped in a [`Client`](crate::Client).
#[derive(Debug)]
pub struct SfuRtc {
    rtc: Rtc,
    created: Instant,
    estimator: EstimatorKind,
}

impl SfuRtc {
    /// A builder with the SFU defaults of [`rtc_config`].
    pub fn builder() -> SfuRtcBuilder {
        SfuRtcBuilder::new()
    }

    /// Escape hatch to the underlying str0m `Rtc`. **Semver-exempt.**
    pub fn raw(&mut self) -> &mut RawRtc {
        &mut self.rtc
    }

    /// Unwraps the str0m `Rtc`. **Semver-exempt.**
    pub fn into_raw(self) -> RawRtc {
        self.rtc
    }

    /// The time it was built at.
    pub fn created(&self) -> Instant {
        self.created
    }

    /// The estimator the `Rtc` was configured for.
    pub fn estimator(&self) -> EstimatorKind {
        self.estimator
    }
}

/// Builds an [`SfuRtc`].
#[derive(Debug)]
pub struct SfuRtcBuilder {
    config: RawRtcConfig,
    candidates: Vec<SocketAddr>,
    estimator: EstimatorKind,
}

impl Default for SfuRtcBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl SfuRtcBuilder {
    /// The SFU defaults of [`rtc_config`].
    pub fn new() -> Self {
        Self {
            config: rtc_config(),
            candidates: Vec::new(),
            estimator: EstimatorKind::default(),
        }
    }

    /// Which estimate sets the subscriber's budget (default [`EstimatorKind::default`]).
    /// Configures str0m for it at [`build`](Self::build): its estimator, pacer and probes
    /// for every adaptive kind, and its raw packet events for ours.
    pub fn estimator(mut self, kind: EstimatorKind) -> Self {
        self.estimator = kind;
        self
    }

    /// Adds a local UDP host candidate: the address the SFU's socket is reachable at.
    pub fn host_candidate(mut self, addr: SocketAddr) -> Self {
        self.candidates.push(addr);
        self
    }

    /// Full ICE instead of ICE-lite: the `Rtc` makes the connectivity checks. For a
    /// connection the SFU opens itself, to another SFU (which is ICE-lite), with
    /// [`Client::create_offer`](crate::Client::create_offer).
    pub fn full_ice(mut self) -> Self {
        self.config = self.config.set_ice_lite(false);
        self
    }

    /// Escape hatch to the str0m configuration. **Semver-exempt.** Keep RTP mode on:
    /// the client forwards RTP packets and does not work in frame mode.
    pub fn raw_config(&mut self) -> &mut RawRtcConfig {
        &mut self.config
    }

    /// Builds the `Rtc` at time `now`. Candidates that str0m rejects (for example an
    /// unspecified address) are skipped.
    pub fn build(self, now: Instant) -> SfuRtc {
        let kind = self.estimator;
        let mut config = self.config;
        if kind.is_adaptive() {
            let initial = str0m::bwe::Bitrate::bps(INITIAL_ESTIMATE.bps());
            config = config.enable_bwe(Some(initial));
        }
        if kind.needs_raw_packets() {
            config = config.enable_raw_packets(true);
        }
        let mut rtc = config.build(now);
        for addr in self.candidates {
            if let Ok(c) = Candidate::host(addr, "udp") {
                rtc.add_local_candidate(c);
            }
        }
        SfuRtc {
            rtc,
            created: now,
            estimator: kind,
        }
    }
}
