//! Runtime configuration.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use sfu_client::{ClientConfig, EstimatorKind};

/// Where and how a room listens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

    /// Sets [`SfuConfig::socket_buffer_bytes`].
    pub fn with_socket_buffer_bytes(mut self, bytes: usize) -> Self {
        self.socket_buffer_bytes = bytes;
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
