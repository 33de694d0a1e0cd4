//! The vocabulary of sfu-kit.
//!
//! Every other sfu-kit crate speaks in these types: identifiers of peers, media lines,
//! payload types and simulcast layers; the datagrams that cross the socket boundary; the
//! media packets a room forwards; keyframe requests; where a publisher comes from; SFrame
//! key epochs.
//!
//! The id types are newtypes over [str0m]'s ids, so a user of sfu-kit never has to name a
//! str0m type to use the room API, and str0m can move underneath without a breaking change
//! here. Conversions in both directions are provided and are lossless unless documented.
//!
//! This crate deliberately holds no behaviour beyond validation and conversion: no I/O, no
//! clocks, no state machines.
//!
//! # Example
//!
//! ```
//! use sfu_ids::{ClientId, SfuRid, SfuKeyframeKind, SfuKeyframeRequest, SfuMid};
//!
//! let publisher = ClientId::new(7);
//! let rid: SfuRid = "h".parse().expect("a valid RFC 8851 rid");
//! let request = SfuKeyframeRequest {
//!     mid: SfuMid::from("0"),
//!     rid: Some(rid),
//!     kind: SfuKeyframeKind::Pli,
//! };
//! assert_eq!(publisher.to_string(), "7");
//! assert_eq!(request.rid.unwrap().as_str(), "h");
//!
//! // Invalid rids are a typed error, never a panic.
//! assert!("no spaces".parse::<SfuRid>().is_err());
//! ```

mod id;
mod keyframe;
mod media;
mod net;
mod origin;
mod sframe;

pub use id::{ClientId, InvalidPt, InvalidRid, SfuMid, SfuPt, SfuRid};
pub use keyframe::{SfuKeyframeKind, SfuKeyframeRequest};
pub use media::{
    FrameSize, SfuDependencyDescriptor, SfuHeaderExtensions, SfuMediaKind, SfuMediaPayload,
    SfuSvcLayer,
};
pub use net::{DatagramError, IncomingDatagram, OutgoingDatagram, SfuProtocol};
pub use origin::{ClientOrigin, SfuNodeId};
pub use sframe::KeyEpoch;
