//! What a multi-flow run records: per flow and per time bin, what was sent, delivered and
//! lost and the flow's target rate; per packet, the queueing delay it met.

use std::time::Duration;

use sfu_bwe::{Bitrate, DataSize, Timestamp};

/// One time bin of one flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Bin {
    /// Bytes the sender handed to the network in the bin.
    pub sent: DataSize,
    /// New bytes that reached the receiver in the bin (by arrival time; TCP duplicates
    /// excluded).
    pub delivered: DataSize,
    /// Packets sent in the bin.
    pub packets: u32,
    /// Of those, packets lost (queue drop or random loss).
    pub lost: u32,
    /// The rate the sender aimed at when the bin ended: a media flow's estimate within its
    /// encoder range, a TCP flow's congestion window over its smoothed RTT.
    pub target: Bitrate,
    /// Whether the flow was meant to send during the bin (started, not paused or stopped).
    pub active: bool,
}

/// The queueing delay one packet met at the bottleneck.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueSample {
    /// When the packet reached the bottleneck.
    pub at: Timestamp,
    /// How long it waited there.
    pub delay: Duration,
}

/// Everything recorded about one flow.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FlowRecord {
    /// Time bins of [`Record::bin`] width from time zero.
    pub bins: Vec<Bin>,
    /// Queueing delay of every packet that entered the queue, in send order.
    pub queue: Vec<QueueSample>,
}

/// Everything recorded in one run.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Width of a bin.
    pub bin: Duration,
    /// Bottleneck capacity at the start of each bin.
    pub capacity: Vec<Bitrate>,
    /// One record per flow, in the order of the flows given.
    pub flows: Vec<FlowRecord>,
}

impl Record {
    pub(crate) fn new(bin: Duration, duration: Duration, flows: usize) -> Self {
        let n = bin_count(duration, bin);
        Self {
            bin,
            capacity: vec![Bitrate::ZERO; n],
            flows: vec![
                FlowRecord {
                    bins: vec![Bin::default(); n],
                    queue: Vec::new(),
                };
                flows
            ],
        }
    }

    /// The bin holding `t`, if within the run.
    #[must_use]
    pub fn index(&self, t: Timestamp) -> Option<usize> {
        let i = usize::try_from(t.as_micros() / self.bin.as_micros().max(1) as u64).ok()?;
        (i < self.capacity.len()).then_some(i)
    }

    /// The bin index at which second `s` starts (clamped to the run).
    #[must_use]
    pub fn index_at_secs(&self, s: f64) -> usize {
        let i = (s / self.bin.as_secs_f64()).floor().max(0.0) as usize;
        i.min(self.capacity.len())
    }

    /// Start time of bin `i`, in seconds.
    #[must_use]
    pub fn secs(&self, i: usize) -> f64 {
        i as f64 * self.bin.as_secs_f64()
    }

    pub(crate) fn bin_mut(&mut self, flow: usize, t: Timestamp) -> Option<&mut Bin> {
        let i = self.index(t)?;
        self.flows.get_mut(flow)?.bins.get_mut(i)
    }

    /// Rate of `size` over one bin.
    #[must_use]
    pub fn rate(&self, size: DataSize) -> Bitrate {
        Bitrate::from_size_over(size, self.bin).unwrap_or(Bitrate::ZERO)
    }
}

fn bin_count(duration: Duration, bin: Duration) -> usize {
    let b = bin.as_micros().max(1);
    usize::try_from(duration.as_micros().div_ceil(b)).unwrap_or(usize::MAX)
}
