//! Prometheus metrics for sfu-kit.
//!
//! [`SfuMetrics`] owns a `prometheus::Registry` with the SFU's counters and gauges. The
//! library carries the handles; the application decides how to expose them (for example
//! `GET /metrics` with [`SfuMetrics::encode`]). Nothing here touches the packet path: feed
//! it room snapshots (deltas of monotonic counters) from wherever you collect them. A
//! histogram counted elsewhere in the same way (a room's hold times) is exported with a
//! [`BulkHistogram`] registered in [`SfuMetrics::registry`].
//!
//! # Example
//!
//! ```
//! use sfu_metrics::SfuMetrics;
//!
//! let m = SfuMetrics::new().expect("metric names are valid");
//! m.clients.set(3);
//! m.datagrams_in.inc_by(120);
//! let text = m.encode();
//! assert!(text.contains("sfu_clients 3"));
//! assert!(text.contains("sfu_datagrams_received_total 120"));
//! ```

mod bulk;

pub use bulk::BulkHistogram;
use prometheus::{
    Encoder, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};

/// The metrics of an SFU process.
#[derive(Debug, Clone)]
pub struct SfuMetrics {
    /// The registry holding every metric below.
    pub registry: Registry,
    /// Rooms currently open.
    pub rooms: IntGauge,
    /// Clients currently connected, over all rooms.
    pub clients: IntGauge,
    /// UDP datagrams received.
    pub datagrams_in: IntCounter,
    /// UDP datagrams sent.
    pub datagrams_out: IntCounter,
    /// Messages handed to the kernel for them (a GSO train of datagrams counts once).
    pub messages_out: IntCounter,
    /// Datagrams dropped: unknown source address.
    pub dropped_unknown_source: IntCounter,
    /// Datagrams dropped: malformed or rejected by the peer's state machine.
    pub dropped_malformed: IntCounter,
    /// Datagrams dropped: STUN naming a client that failed authentication.
    pub dropped_unauthenticated: IntCounter,
    /// Datagrams dropped: their room's queue on a shared UDP port was full.
    pub dropped_room_busy: IntCounter,
    /// Datagrams the kernel dropped: a socket's receive buffer was full.
    pub dropped_kernel: IntCounter,
    /// Media packets fanned out to subscribers.
    pub media_fanned_out: IntCounter,
    /// Clients removed (left, timed out, failed).
    pub clients_removed: IntCounter,
    /// Changes of a subscriber's forwarded layer or pause state.
    pub layer_changes: IntCounter,
    /// RTP packets forwarded to subscribers.
    pub packets_forwarded: IntCounter,
    /// Keyframe requests subscribers' tracks made of their publishers.
    pub keyframe_requests: IntCounter,
    /// Keyframe requests (PLI/FIR) sent to publishers, after throttling.
    pub keyframe_requests_to_publishers: IntCounter,
    /// Simulcast layer switches on subscribers' tracks.
    pub layer_switches: IntCounter,
    /// Clients in each open room, labelled `room`.
    pub room_clients: IntGaugeVec,
    /// The send-side bandwidth estimate towards each client, labelled `room` and `client`.
    pub subscriber_estimate_bps: IntGaugeVec,
    /// Signaling requests refused, labelled `status` (the HTTP status: 401 unauthenticated,
    /// 403 forbidden, 413 too large, 429 a limit reached).
    pub signaling_refused: IntCounterVec,
}

impl SfuMetrics {
    /// Creates and registers every metric in a fresh registry.
    pub fn new() -> prometheus::Result<Self> {
        let registry = Registry::new();
        let gauge = |name: &str, help: &str| -> prometheus::Result<IntGauge> {
            let g = IntGauge::new(name, help)?;
            registry.register(Box::new(g.clone()))?;
            Ok(g)
        };
        let counter = |name: &str, help: &str| -> prometheus::Result<IntCounter> {
            let c = IntCounter::new(name, help)?;
            registry.register(Box::new(c.clone()))?;
            Ok(c)
        };
        Ok(Self {
            rooms: gauge("sfu_rooms", "Rooms currently open")?,
            clients: gauge("sfu_clients", "Clients currently connected")?,
            datagrams_in: counter("sfu_datagrams_received_total", "UDP datagrams received")?,
            datagrams_out: counter("sfu_datagrams_sent_total", "UDP datagrams sent")?,
            messages_out: counter(
                "sfu_send_messages_total",
                "Messages handed to the kernel for the datagrams sent (a segmented train counts once)",
            )?,
            dropped_unknown_source: counter(
                "sfu_dropped_unknown_source_total",
                "Datagrams dropped because no client owns the source address",
            )?,
            dropped_malformed: counter(
                "sfu_dropped_malformed_total",
                "Datagrams dropped as malformed or rejected by the peer",
            )?,
            dropped_unauthenticated: counter(
                "sfu_dropped_unauthenticated_total",
                "STUN from new addresses dropped: bad MESSAGE-INTEGRITY or too many addresses",
            )?,
            dropped_room_busy: counter(
                "sfu_dropped_room_busy_total",
                "Datagrams dropped on a shared UDP port because their room was behind",
            )?,
            dropped_kernel: counter(
                "sfu_dropped_kernel_total",
                "Datagrams the kernel dropped because a socket's receive buffer was full",
            )?,
            media_fanned_out: counter(
                "sfu_media_fanned_out_total",
                "Media packets fanned out to subscribers",
            )?,
            clients_removed: counter("sfu_clients_removed_total", "Clients removed from rooms")?,
            layer_changes: counter(
                "sfu_layer_changes_total",
                "Changes of a subscriber's forwarded layer or pause state",
            )?,
            packets_forwarded: counter(
                "sfu_packets_forwarded_total",
                "RTP packets forwarded to subscribers",
            )?,
            keyframe_requests: counter(
                "sfu_keyframe_requests_total",
                "Keyframe requests subscribers' tracks made of their publishers",
            )?,
            keyframe_requests_to_publishers: counter(
                "sfu_keyframe_requests_to_publishers_total",
                "Keyframe requests (PLI/FIR) sent to publishers, after throttling",
            )?,
            layer_switches: counter(
                "sfu_layer_switches_total",
                "Simulcast layer switches on subscribers' tracks",
            )?,
            room_clients: {
                let g = IntGaugeVec::new(
                    Opts::new("sfu_room_clients", "Clients in each open room"),
                    &["room"],
                )?;
                registry.register(Box::new(g.clone()))?;
                g
            },
            subscriber_estimate_bps: {
                let g = IntGaugeVec::new(
                    Opts::new(
                        "sfu_subscriber_estimate_bps",
                        "Send-side bandwidth estimate towards each client, bits per second",
                    ),
                    &["room", "client"],
                )?;
                registry.register(Box::new(g.clone()))?;
                g
            },
            signaling_refused: {
                let c = IntCounterVec::new(
                    Opts::new(
                        "sfu_signaling_refused_total",
                        "Signaling requests refused, by HTTP status",
                    ),
                    &["status"],
                )?;
                registry.register(Box::new(c.clone()))?;
                c
            },
            registry,
        })
    }

    /// The metrics in Prometheus text exposition format.
    pub fn encode(&self) -> String {
        let mut buf = Vec::new();
        // Encoding into a Vec cannot fail for I/O reasons; an invalid metric family would,
        // and ours are validated at registration.
        if TextEncoder::new()
            .encode(&self.registry.gather(), &mut buf)
            .is_err()
        {
            return String::new();
        }
        String::from_utf8(buf).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_is_exposed() {
        let m = SfuMetrics::new().unwrap();
        let text = m.encode();
        for name in [
            "sfu_rooms",
            "sfu_clients",
            "sfu_datagrams_received_total",
            "sfu_datagrams_sent_total",
            "sfu_dropped_unknown_source_total",
            "sfu_dropped_malformed_total",
            "sfu_dropped_unauthenticated_total",
            "sfu_dropped_room_busy_total",
            "sfu_dropped_kernel_total",
            "sfu_media_fanned_out_total",
            "sfu_clients_removed_total",
            "sfu_layer_changes_total",
        ] {
            assert!(text.contains(name), "{name} missing");
        }
        m.subscriber_estimate_bps
            .with_label_values(&["demo", "1"])
            .set(700_000);
        assert!(
            m.encode()
                .contains("sfu_subscriber_estimate_bps{client=\"1\",room=\"demo\"} 700000")
        );
    }
}
