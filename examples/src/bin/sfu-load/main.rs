//! sfu-load: a load generator for basic-sfu, with str0m peers over loopback.
//!
//! ```sh
//! cargo build --release -p examples
//! target/release/sfu-load --scenario 1x10 --seconds 10 --baseline relay
//! target/release/sfu-load --scenario 1x10 --count-at-socket --ramp --kbps 8000
//! target/release/sfu-load --scenario churn --cycles 1000
//! target/release/sfu-load --scenario flood --flood-rate 100000 --seconds 10
//! ```
//!
//! It starts basic-sfu (pinned to one core with `taskset` when there is one, so its CPU
//! time is its own) and joins str0m peers through the real signaling (tokens, join, event
//! stream, answers), each on its own UDP socket and thread. Publishers send VP8-shaped
//! video at `--kbps` and `--fps` with a keyframe every `--keyframe-secs` (2 s), three
//! times the size of another frame, each frame at once or, with `--pace`, paced as a
//! browser paces it; every peer counts the frames it receives. Scenarios:
//!
//! - `PxS` (e.g. `1x10`): per room P publishers and S watchers. After a warm-up it
//!   measures over `--seconds`: frames sent and received (the loss), the SFU's datagrams
//!   sent (its `/metrics`) and its CPU time (`/proc`), and reports **datagrams sent per SFU
//!   CPU-second**, the figure that does not depend on how busy the machine is; the
//!   forwarding latency of each frame (publisher's write to the arrival of the frame's
//!   first packet at the watcher); and the SFU's hold time of what it received (its
//!   `sfu_datagram_hold_seconds`). `--baseline relay` then runs the same load against
//!   `raw-relay` (the same fanout and I/O path without WebRTC, pinned to the same core)
//!   and reports the ratio; `--ramp` raises the rate by 1.5x a step until loss passes 2 %
//!   or the SFU uses 90 % of its core. The generator's own peers decrypt everything they receive, so on a small
//!   machine it can be the bottleneck: pin it to other cores (`taskset -c 0 sfu-load
//!   --sfu-core 1`), or let watchers count at the socket (`--count-at-socket`).
//! - `churn`: a pair of publishers stays while `--cycles` newcomers each join, connect and
//!   leave; reports the pair's offer size, the SFU's memory, file descriptors and threads
//!   over the cycles (and their slope per cycle), and whether the pair lost media.
//! - `flood`: three publishers exchange media while junk datagrams hit the room's media
//!   port at `--flood-rate` per second for `--seconds` and signaling calls try to act for
//!   one of them; reports each peer's media rate during the flood against its rate before,
//!   the calls that were not refused, whether a new peer can join afterwards, and the
//!   SFU's memory before and after.
//! - `idle`: `--participants` watchers (rooms of 50) join, connect and stay idle; reports
//!   the SFU's resident memory per participant.

mod churn;
mod fanout;
mod flood;
mod idle;
mod janus;
mod pace;
mod peer;
mod raw;
mod sfu;
mod signaling;
mod socket;

use std::path::PathBuf;

use clap::Parser;

use crate::peer::Media;
use crate::sfu::{Sfu, random_secret};
use crate::signaling::Signaling;

/// Load basic-sfu with str0m peers: forwarding rate, churn, or a junk flood.
#[derive(Debug, Parser)]
#[command(version, about)]
pub(crate) struct Args {
    /// `PxS` (publishers x watchers per room, e.g. 1x10), `churn`, `flood` or `idle`.
    #[arg(long, default_value = "1x10")]
    scenario: String,
    /// Rooms, each with the scenario's peers (`PxS` only).
    #[arg(long, default_value_t = 1)]
    rooms: usize,
    /// Measurement window in seconds (`flood`: how long the flood lasts).
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Warm-up in seconds, after every peer connected.
    #[arg(long, default_value_t = 3)]
    warmup: u64,
    /// Video bitrate per publisher, kbit/s.
    #[arg(long, default_value_t = 1000)]
    kbps: u32,
    /// Video frames per second.
    #[arg(long, default_value_t = 30)]
    fps: u32,
    /// Seconds between keyframes (0: only the first frame is one).
    #[arg(long, default_value_t = 2)]
    keyframe_secs: u64,
    /// Publishers pace their packets as a browser does (2.5 times their rate, a burst
    /// every 5 ms) instead of sending each frame at once: what an SFU meets from real
    /// clients, and the load under which its latency means what a user sees.
    #[arg(long)]
    pace: bool,
    /// Join-connect-leave cycles (`churn`).
    #[arg(long, default_value_t = 1000)]
    cycles: usize,
    /// Participants (`idle`).
    #[arg(long, default_value_t = 500)]
    participants: usize,
    /// Junk datagrams per second (`flood`).
    #[arg(long, default_value_t = 100_000)]
    flood_rate: u64,
    /// The basic-sfu binary (default: next to this one).
    #[arg(long)]
    sfu_bin: Option<PathBuf>,
    /// Watchers but the first of each room count video at the socket once one frame
    /// decrypted, instead of decrypting everything (`PxS` only): the generator then costs
    /// less than the SFU it loads. The first decrypts all and gives the latency.
    #[arg(long)]
    count_at_socket: bool,
    /// Peers receive with UDP GRO, so a GSO train from the SFU reaches them whole and the
    /// peer cuts it. Over loopback the kernel's delivery to each receiver runs inside the
    /// sender's send call; with this the SFU is not charged for cutting its trains and
    /// queueing each datagram on a subscriber's socket, work a network leaves to the
    /// subscribers' machines.
    #[arg(long)]
    gro: bool,
    /// Also run the load against these (`PxS` only), one after the other, and report the
    /// ratios: `relay` is raw-relay, a plain UDP fanout with the SFU's I/O path; `janus`
    /// is Janus's VideoRoom (its publishers only publish, so only watchers receive);
    /// `cascade` is two basic-sfu nodes joined by a relay, the publishers on the first
    /// and the watchers on the second (the ratio is the relay's overhead).
    #[arg(long, value_enum, value_delimiter = ',')]
    baseline: Vec<Baseline>,
    /// The raw-relay binary (default: next to this one).
    #[arg(long)]
    relay_bin: Option<PathBuf>,
    /// The Janus binary.
    #[arg(long, default_value = "janus")]
    janus_bin: PathBuf,
    /// Raise the rate from `--kbps` by 1.5x a step until loss passes 2 % or the SFU uses
    /// 90 % of its core (`PxS` only).
    #[arg(long)]
    ramp: bool,
    /// Steps of a ramp at most.
    #[arg(long, default_value_t = 8)]
    ramp_steps: usize,
    /// Run the SFU with a UDP port per room instead of one port for all.
    #[arg(long)]
    port_per_room: bool,
    /// The SFU's bandwidth estimator (`basic-sfu --estimator`: off, str0m, googcc or
    /// kalman). `off` measures forwarding alone; an estimator adds each subscriber's
    /// transport-wide feedback, its estimate and the padding that probes it.
    #[arg(long, default_value = "off")]
    sfu_estimator: String,
    /// The SFU's fanout workers (`basic-sfu --workers`); give `--sfu-core` as many cores.
    #[arg(long, default_value_t = 1)]
    sfu_workers: usize,
    /// Core to pin the SFU to (`none`: no pinning).
    #[arg(long, default_value = "1")]
    sfu_core: String,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

/// What a load run is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Baseline {
    /// raw-relay: the same fanout over the same I/O path, without WebRTC.
    Relay,
    /// Janus's VideoRoom (Debian's `janus`), started with a configuration sfu-load writes.
    Janus,
    /// Two basic-sfu nodes joined by a relay (`--cascade`).
    Cascade,
}

impl Args {
    /// Publishers' media at `kbps`.
    fn media(&self, kbps: u32) -> Media {
        Media {
            fps: self.fps.max(1),
            frame_bytes: (kbps as usize * 1000 / 8 / self.fps.max(1) as usize).max(10),
            keyframe_every: u64::from(self.fps.max(1)) * self.keyframe_secs,
            pace: self.pace,
        }
    }
}

/// Prints `report` as JSON, or its `line` for people.
fn print(json: bool, report: &impl serde::Serialize, line: String) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(report)?);
    } else {
        println!("{line}");
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.gro {
        socket::receive_trains();
    }
    let bin = match args.sfu_bin.clone() {
        Some(b) => b,
        None => std::env::current_exe()?.with_file_name("basic-sfu"),
    };
    let secret = random_secret();
    let sfu = Sfu::start(
        &bin,
        &args.sfu_core,
        &secret,
        &args.sfu_estimator,
        args.sfu_workers,
        args.port_per_room,
        &[],
    )?;
    let signaling = Signaling {
        base: sfu.base.clone(),
        bin,
        secret,
    };
    match args.scenario.as_str() {
        "churn" => churn::run(&args, &sfu, &signaling),
        "flood" => flood::run(&args, &sfu, &signaling),
        "idle" => idle::run(&args, &sfu, &signaling),
        _ => fanout::run(&args, &sfu, &signaling),
    }
}
