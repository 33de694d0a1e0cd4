//! The tokio runtime of sfu-kit: a ready-to-use loop that runs a room over UDP.
//!
//! One task owns one [`sfu_registry::Registry`]; signaling code talks to it through a
//! cloneable [`RoomHandle`] (join with an SDP offer, deliver answers, leave). Several rooms
//! are several tasks and spread over the runtime's worker threads. A room has a socket of
//! its own ([`serve`]), or many rooms share one port through a [`UdpMux`], which hands
//! each room the datagrams of its peers (firewalls then need one port open).
//!
//! This crate is the only one below the applications that touches sockets or reads the
//! clock; everything under it is sans-I/O.
//!
//! # Example
//!
//! ```no_run
//! use sfu_udp::{SfuConfig, serve};
//!
//! # async fn run() -> std::io::Result<()> {
//! let (room, addr) = serve(SfuConfig::default().with_udp_port(3478)).await?;
//! println!("room listening on {addr}");
//! // From signaling: a browser's offer in, the answer out.
//! # let offer_from_browser = String::new();
//! match room.join(offer_from_browser).await {
//!     Ok(joined) => println!("client {} answer {} bytes", joined.client, joined.answer.len()),
//!     Err(e) => eprintln!("join refused: {e}"),
//! }
//! # Ok(()) }
//! ```

pub mod batch;
mod config;
mod handle;
mod hold;
mod mux;
mod relay_socket;
mod sink;
mod udp_loop;

pub use config::{DEFAULT_SOCKET_BUFFER, RtcConfigFn, SelectorFactory, SfuConfig};
pub use handle::{
    ClientSignal, JoinOptions, Joined, ROOM_EVENTS_BUFFER, RelayOffer, RoomError, RoomHandle,
    RoomInbox, RoomStats, room_channel,
};
pub use hold::{HOLD_BUCKETS, HoldTimes};
pub use mux::{MuxStats, UdpMux};
pub use udp_loop::{bind, run_udp_loop, serve, serve_socket};
