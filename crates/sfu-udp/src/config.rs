//! Runtime configuration.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use std::fmt;
use std::sync::Arc;

use sfu_client::{ChannelConfig, ClientConfig, EstimatorKind, LayerSelector, RawRtcConfig};
use sfu_registry::Workers;

/// Edits the str0m configuration of each peer of a room before its connection is built:
/// codecs, RED, DTX, header extensions. It starts from
/// [`rtc_config`](sfu_client::rtc_config); keep RTP mode and ICE-lite on.
#[derive(Clone)]
pub struct RtcConfigFn(Arc<dyn Fn(RawRtcConfig) -> RawRtcConfig + Send + Sync>);

impl RtcConfigFn {
    /// Wraps `f`.
    pub fn new(f: impl Fn(RawRtcConfig) -> RawRtcConfig + Send + Sync + 'static) -> Self {
        Self(Arc::new(f))
    }

    /// Applies it to `config`.
    pub fn apply(&self, config: RawRtcConfig) -> RawRtcConfig {
        (self.0)(config)
    }
}

impl fmt::Debug for RtcConfigFn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RtcConfigFn(..)")
    }
}

/// Makes the simulcast layer policy of each peer of a room.
#[derive(Clone)]
pub struct SelectorFactory(Arc<dyn Fn() -> Box<dyn LayerSelector> + Send + Sync>);

impl SelectorFactory {
    /// Wraps `f`.
    pub fn new(f: impl Fn() -> Box<dyn LayerSelector> + Send + Sync + 'static) -> Self {
        Self(Arc::new(f))
    }

    /// A new selector.
    pub fn make(&self) -> Box<dyn LayerSelector> {
        (self.0)()
    }
}

impl fmt::Debug for SelectorFactory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SelectorFactory(..)")
    }
}

/// Where and how a room listens, and how it configures its peers.
///
/// ```
/// use sfu_udp::SfuConfig;
/// use sfu_client::{BestFitSelector, ClientConfig};
///
/// // VP8 and Opus (with RED) only, the default layer policy made explicit, and peers
/// // that may stay silent for 30 s.
/// let config = SfuConfig::default()
///     .with_rtc_config(|c| c.clear_codecs().enable_vp8(true).enable_opus(true, true))
///     .with_layer_selector(|| Box::new(BestFitSelector))
///     .with_client(
///         ClientConfig::default().with_inactivity_timeout(std::time::Duration::from_secs(30)),
///     );
/// # let _ = config;
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SfuConfig {
    /// UDP port; 0 picks a free one.
    pub udp_port: u16,
    /// Address to bind.
    pub bind_addr: IpAddr,
    /// Address advertised to peers as the host candidate. Defaults to the bind address,
    /// or 127.0.0.1 when binding the unspecified address.
    pub public_ip: Option<IpAddr>,
    /// Per-client tunables.
    pub client: ClientConfig,
    /// Which bandwidth estimate sets each subscriber's budget.
    pub estimator: EstimatorKind,
    /// Kernel buffer of a socket [`bind`](crate::bind) opens, each way, in bytes: room for
    /// bursts (a keyframe fanned out to many subscribers) while the loop is busy. Beyond
    /// the system's limit (`net.core.rmem_max`) only for a process allowed to force it.
    pub socket_buffer_bytes: usize,
    /// Edits each peer's str0m configuration (`None`: [`rtc_config`](sfu_client::rtc_config)
    /// as it is).
    pub rtc_config: Option<RtcConfigFn>,
    /// Makes each peer's layer policy (`None`: [`BestFitSelector`](sfu_client::BestFitSelector)).
    pub layer_selector: Option<SelectorFactory>,
    /// Data channels the room opens on every peer whose offer negotiated data channels,
    /// besides those the peers open themselves.
    pub channels: Vec<ChannelConfig>,
    /// The threads a large room spreads each packet's subscribers over (default: one, the
    /// room's own). Rooms started with clones of one config share them.
    pub workers: Workers,
}

/// The default [`SfuConfig::socket_buffer_bytes`]: 4 MiB.
pub const DEFAULT_SOCKET_BUFFER: usize = 4 << 20;

impl Default for SfuConfig {
    fn default() -> Self {
        Self {
            udp_port: 0,
            bind_addr: IpAddr::V4(Ipv4Addr::LOCALHOST),
            public_ip: None,
            client: ClientConfig::default(),
            estimator: EstimatorKind::default(),
            socket_buffer_bytes: DEFAULT_SOCKET_BUFFER,
            rtc_config: None,
            layer_selector: None,
            channels: Vec::new(),
            workers: Workers::default(),
        }
    }
}

impl SfuConfig {
    /// Sets [`SfuConfig::udp_port`].
    pub fn with_udp_port(mut self, port: u16) -> Self {
        self.udp_port = port;
        self
    }

    /// Sets [`SfuConfig::bind_addr`].
    pub fn with_bind_addr(mut self, ip: IpAddr) -> Self {
        self.bind_addr = ip;
        self
    }

    /// Sets [`SfuConfig::estimator`].
    pub fn with_estimator(mut self, kind: EstimatorKind) -> Self {
        self.estimator = kind;
        self
    }

    /// Sets [`SfuConfig::workers`] to `count` threads (0 and 1: the room's own only).
    pub fn with_workers(mut self, count: usize) -> Self {
        self.workers = Workers::new(count);
        self
    }

    /// Sets [`SfuConfig::socket_buffer_bytes`].
    pub fn with_socket_buffer_bytes(mut self, bytes: usize) -> Self {
        self.socket_buffer_bytes = bytes;
        self
    }

    /// Sets [`SfuConfig::client`]: the per-peer limits and timings.
    pub fn with_client(mut self, client: ClientConfig) -> Self {
        self.client = client;
        self
    }

    /// Sets [`SfuConfig::rtc_config`].
    pub fn with_rtc_config(
        mut self,
        f: impl Fn(RawRtcConfig) -> RawRtcConfig + Send + Sync + 'static,
    ) -> Self {
        self.rtc_config = Some(RtcConfigFn::new(f));
        self
    }

    /// Sets [`SfuConfig::layer_selector`].
    pub fn with_layer_selector(
        mut self,
        f: impl Fn() -> Box<dyn LayerSelector> + Send + Sync + 'static,
    ) -> Self {
        self.layer_selector = Some(SelectorFactory::new(f));
        self
    }

    /// Adds a channel to [`SfuConfig::channels`].
    pub fn with_channel(mut self, channel: ChannelConfig) -> Self {
        self.channels.push(channel);
        self
    }

    /// Sets [`SfuConfig::public_ip`].
    pub fn with_public_ip(mut self, ip: Option<IpAddr>) -> Self {
        self.public_ip = ip;
        self
    }

    /// The address peers are told to send to, given the socket's bound port.
    pub fn candidate_addr(&self, port: u16) -> SocketAddr {
        let ip = self
            .public_ip
            .unwrap_or(if self.bind_addr.is_unspecified() {
                IpAddr::V4(Ipv4Addr::LOCALHOST)
            } else {
                self.bind_addr
            });
        SocketAddr::new(ip, port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unspecified_bind_advertises_loopback() {
        let c = SfuConfig::default().with_bind_addr(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        assert_eq!(c.candidate_addr(9), "127.0.0.1:9".parse().unwrap());
        let c = c.with_public_ip(Some("192.0.2.7".parse().unwrap()));
        assert_eq!(c.candidate_addr(9), "192.0.2.7:9".parse().unwrap());
    }
}
