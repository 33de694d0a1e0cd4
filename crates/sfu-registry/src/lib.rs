//! A room of sfu-kit: many [`sfu_client::Client`]s, the routing of datagrams to them, and
//! the fanout of their events.
//!
//! [`Registry`] is sans-I/O: datagrams and time come in through `handle_*`, datagrams and
//! signaling events go out through `poll_*`. One task owns a registry; rooms scale over
//! cores as several registries in several tasks, and one large room over [`Workers`]: the
//! threads that share its fanout, each serving a fixed shard of its clients.
//!
//! Routing is O(1) per datagram: a hash lookup of the remote address, or for a peer's first
//! STUN request a lookup of the ICE username fragment. The seed design asked every client
//! `rtc.accepts()` per datagram; here the cost does not grow with the room (see the
//! `routing` benchmark).
//!
//! # Example
//!
//! ```
//! use std::time::Instant;
//! use sfu_ids::IncomingDatagram;
//! use sfu_registry::{Registry, RouteError};
//!
//! let mut room = Registry::new();
//! let now = Instant::now();
//! let junk = IncomingDatagram::udp(
//!     "127.0.0.1:5000".parse().unwrap(),
//!     "127.0.0.1:3478".parse().unwrap(),
//!     vec![0xde, 0xad, 0xbe, 0xef],
//! );
//! // Unknown sources are dropped and counted, never a panic.
//! assert!(matches!(room.handle_incoming(&junk, now), Err(RouteError::UnknownSource)));
//! assert_eq!(room.stats().dropped_unknown_source, 1);
//! while let Some(datagram) = room.poll_transmit() {
//!     let _ = datagram; // send it
//! }
//! ```

mod dynacast;
mod registry;
mod route;
mod shards;
pub mod testing;
mod workers;

pub use registry::{AcceptedOffer, Registry, RegistryError, RegistryStats, RoomEvent, RouteError};
pub use route::{MAX_ADDRESSES_PER_CLIENT, RouteMiss, Routed, Router};
pub use workers::{TransmitSink, Workers};
