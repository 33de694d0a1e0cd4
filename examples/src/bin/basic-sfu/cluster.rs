//! Cluster mode (`--redis URL`): nodes share one Redis for their directory, and a room
//! that spans nodes is a full mesh of relays ([`crate::cascade`]) between them.
//!
//! What Redis holds (every key under `sfu:`):
//! - `sfu:nodes`: the set of node ids; `sfu:node:{id}`: a hash of the node's HTTP `url`,
//!   `region` and load (`participants`, `rooms`, `pps`: datagrams received and sent per
//!   second, `cpu` in per cent of one core), which expires [`NODE_TTL`] after the node's
//!   last heartbeat;
//! - `sfu:room:{room}`: the set of nodes holding the room; `sfu:roomload:{room}`: each
//!   such node's participants in it; `sfu:noderooms:{id}`: the rooms a node holds.
//!
//! Every [`HEARTBEAT`] each node writes its own entries, removes every node whose hash
//! expired (from the node set and from the rooms it held), and links its rooms: for each
//! room it holds, it opens a relay to every node of the room whose id sorts before its
//! own, and closes relays to nodes that left. Each pair of nodes of a room is linked once
//! whatever the order they started the room in, and a node that dies is out of every
//! room within [`NODE_TTL`] plus a heartbeat.
//!
//! A join is routed where the room is: to the least loaded node holding the room in this
//! node's region, unless the room is full there; otherwise it stays here, and the room
//! spans one more node. The page follows the route itself (the join answers `421
//! Misdirected Request` with the node's URL) and talks to that node directly from then on, so signaling never needs
//! forwarding between nodes. Pages learn the cluster's nodes and, when their node dies,
//! join again through a live one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::watch;

use crate::cascade::Link;
use crate::rooms::Rooms;

/// How often a node writes its entries and links its rooms.
pub(crate) const HEARTBEAT: Duration = Duration::from_secs(1);
/// How long a node's entry outlives its last heartbeat.
pub(crate) const NODE_TTL: Duration = Duration::from_secs(3);
/// How long one Redis request may take before the heartbeat gives up on it.
const REDIS_TIMEOUT: Duration = Duration::from_secs(2);

/// What a node is in its cluster.
#[derive(Debug, Clone)]
pub(crate) struct NodeConfig {
    /// `redis://host:port`.
    pub(crate) redis: String,
    /// This node's id: unique in the cluster.
    pub(crate) node: String,
    /// Its region: joins stay in their entry node's region.
    pub(crate) region: String,
    /// Its HTTP base URL, as pages and other nodes reach it.
    pub(crate) url: String,
    /// The relay secret every node of the cluster shares.
    pub(crate) relay_secret: String,
    /// Participants a room takes on one node.
    pub(crate) max_participants: usize,
}

/// A node's view of its cluster. Cloning is cheap.
#[derive(Clone)]
pub(crate) struct Cluster {
    inner: Arc<Inner>,
}

struct Inner {
    con: ConnectionManager,
    config: NodeConfig,
    /// Relays this node opened, by (room, far node): dropping the sender ends the relay.
    links: Mutex<HashMap<(String, String), watch::Sender<()>>>,
}

/// Another node of the cluster, as its entry says.
#[derive(Debug, Clone)]
struct Node {
    id: String,
    url: String,
    region: String,
}

impl Cluster {
    /// Connects to Redis and starts this node's heartbeat over `rooms`.
    pub(crate) async fn start(config: NodeConfig, rooms: Rooms) -> anyhow::Result<Self> {
        let client = redis::Client::open(config.redis.as_str()).context("the Redis URL")?;
        let con = client
            .get_connection_manager_with_config(
                ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(REDIS_TIMEOUT))
                    .set_response_timeout(Some(REDIS_TIMEOUT)),
            )
            .await
            .with_context(|| format!("connecting to {}", config.redis))?;
        let cluster = Self {
            inner: Arc::new(Inner {
                con,
                config,
                links: Mutex::default(),
            }),
        };
        let beat = cluster.clone();
        tokio::spawn(async move {
            let mut meters = Meters::default();
            let mut held: Vec<String> = Vec::new();
            loop {
                if let Err(e) = beat.heartbeat(&rooms, &mut meters, &mut held).await {
                    tracing::warn!("cluster heartbeat: {e:#}");
                }
                tokio::time::sleep(HEARTBEAT).await;
            }
        });
        tracing::info!(
            node = cluster.inner.config.node,
            region = cluster.inner.config.region,
            "cluster node up"
        );
        Ok(cluster)
    }

    fn con(&self) -> ConnectionManager {
        self.inner.con.clone()
    }

    /// Where a participant who entered through this node joins `room`: `None` here, or
    /// the URL of the node to join on.
    pub(crate) async fn route(&self, room: &str) -> anyhow::Result<Option<String>> {
        let me = &self.inner.config;
        let mut con = self.con();
        let members: Vec<String> = redis::cmd("SMEMBERS")
            .arg(format!("sfu:room:{room}"))
            .query_async(&mut con)
            .await?;
        let loads: HashMap<String, usize> = redis::cmd("HGETALL")
            .arg(format!("sfu:roomload:{room}"))
            .query_async(&mut con)
            .await?;
        let mut best: Option<(usize, bool, String)> = None;
        for id in members {
            let Some(node) = self.node(&id).await? else {
                continue;
            };
            let load = loads.get(&id).copied().unwrap_or(0);
            if node.region != me.region || load >= me.max_participants {
                continue;
            }
            // The least loaded; on a tie, this node (no redirect).
            let key = (load, id != me.node, node.url);
            if best.as_ref().is_none_or(|b| key < *b) {
                best = Some(key);
            }
        }
        Ok(best.and_then(|(_, elsewhere, url)| elsewhere.then_some(url)))
    }

    /// The HTTP URLs of the live nodes, this one first.
    pub(crate) async fn node_urls(&self) -> anyhow::Result<Vec<String>> {
        let mut urls = vec![self.inner.config.url.clone()];
        for node in self.live_nodes().await? {
            if node.url != urls[0] {
                urls.push(node.url);
            }
        }
        Ok(urls)
    }

    /// The entry of node `id`, if it is alive.
    async fn node(&self, id: &str) -> anyhow::Result<Option<Node>> {
        let fields: HashMap<String, String> = redis::cmd("HGETALL")
            .arg(format!("sfu:node:{id}"))
            .query_async(&mut self.con())
            .await?;
        Ok(fields.get("url").map(|url| Node {
            id: id.to_string(),
            url: url.clone(),
            region: fields.get("region").cloned().unwrap_or_default(),
        }))
    }

    /// The ids in the node set, alive or not.
    async fn node_ids(&self) -> anyhow::Result<Vec<String>> {
        Ok(redis::cmd("SMEMBERS")
            .arg("sfu:nodes")
            .query_async(&mut self.con())
            .await?)
    }

    /// Every node whose entry has not expired.
    async fn live_nodes(&self) -> anyhow::Result<Vec<Node>> {
        let mut live = Vec::new();
        for id in self.node_ids().await? {
            if let Some(n) = self.node(&id).await? {
                live.push(n);
            }
        }
        Ok(live)
    }

    /// One heartbeat: this node's entries, the dead nodes' removal, the relays.
    async fn heartbeat(
        &self,
        rooms: &Rooms,
        meters: &mut Meters,
        held: &mut Vec<String>,
    ) -> anyhow::Result<()> {
        let me = &self.inner.config;
        let loads = rooms.local_loads();
        let pps = meters.packets.per_second(rooms.datagrams().await);
        let participants: usize = loads.iter().map(|(_, n)| n).sum();
        let node_key = format!("sfu:node:{}", me.node);
        let rooms_key = format!("sfu:noderooms:{}", me.node);
        let mut pipe = redis::pipe();
        pipe.cmd("HSET")
            .arg(&node_key)
            .arg("url")
            .arg(&me.url)
            .arg("region")
            .arg(&me.region)
            .arg("participants")
            .arg(participants)
            .arg("rooms")
            .arg(loads.len())
            .arg("pps")
            .arg(pps)
            .arg("cpu")
            .arg(meters.cpu.percent())
            .ignore()
            .cmd("PEXPIRE")
            .arg(&node_key)
            .arg(NODE_TTL.as_millis() as u64)
            .ignore()
            .cmd("SADD")
            .arg("sfu:nodes")
            .arg(&me.node)
            .ignore();
        for (room, n) in &loads {
            pipe.cmd("SADD")
                .arg(format!("sfu:room:{room}"))
                .arg(&me.node)
                .ignore()
                .cmd("HSET")
                .arg(format!("sfu:roomload:{room}"))
                .arg(&me.node)
                .arg(*n)
                .ignore()
                .cmd("SADD")
                .arg(&rooms_key)
                .arg(room)
                .ignore();
        }
        for room in held.iter().filter(|r| !loads.iter().any(|(l, _)| l == *r)) {
            leave_room(&mut pipe, &me.node, room);
        }
        pipe.query_async::<()>(&mut self.con()).await?;
        *held = loads.iter().map(|(r, _)| r.clone()).collect();

        let live = self.remove_dead().await?;
        self.link(rooms, held, &live).await
    }

    /// Removes the nodes whose entry expired from the node set and from their rooms;
    /// returns the live ones.
    async fn remove_dead(&self) -> anyhow::Result<Vec<Node>> {
        let mut live = Vec::new();
        for id in self.node_ids().await? {
            if let Some(n) = self.node(&id).await? {
                live.push(n);
                continue;
            }
            let their_rooms: Vec<String> = redis::cmd("SMEMBERS")
                .arg(format!("sfu:noderooms:{id}"))
                .query_async(&mut self.con())
                .await?;
            let mut pipe = redis::pipe();
            for room in &their_rooms {
                leave_room(&mut pipe, &id, room);
            }
            pipe.cmd("DEL")
                .arg(format!("sfu:noderooms:{id}"))
                .ignore()
                .cmd("SREM")
                .arg("sfu:nodes")
                .arg(&id)
                .ignore();
            pipe.query_async::<()>(&mut self.con()).await?;
            tracing::warn!(
                node = id,
                rooms = their_rooms.len(),
                "node gone from the cluster"
            );
        }
        Ok(live)
    }

    /// Opens the relays this node's rooms lack (to each node of the room whose id sorts
    /// before ours), ends those to nodes no longer in the room, and removes the relays
    /// that dead nodes opened here.
    async fn link(&self, rooms: &Rooms, held: &[String], live: &[Node]) -> anyhow::Result<()> {
        let me = &self.inner.config;
        let mut wanted: HashMap<(String, String), Node> = HashMap::new();
        for room in held {
            let members: Vec<String> = redis::cmd("SMEMBERS")
                .arg(format!("sfu:room:{room}"))
                .query_async(&mut self.con())
                .await?;
            for id in members.into_iter().filter(|id| *id < me.node) {
                if let Some(node) = live.iter().find(|n| n.id == id) {
                    wanted.insert((room.clone(), id), node.clone());
                }
            }
        }
        {
            let mut links = self.inner.links.lock().unwrap_or_else(|e| e.into_inner());
            links.retain(|key, _| wanted.contains_key(key));
            for ((room, id), node) in wanted {
                if links.contains_key(&(room.clone(), id.clone())) {
                    continue;
                }
                let Some(handle) = rooms.handle(&room) else {
                    continue;
                };
                let (open, watch) = watch::channel(());
                crate::cascade::spawn_relay(
                    rooms.clone(),
                    room.clone(),
                    handle,
                    Link {
                        url: node.url,
                        secret: me.relay_secret.clone(),
                        node: me.node.clone(),
                    },
                    watch,
                );
                tracing::info!(room, far = id, "linking the room to a node that holds it");
                links.insert((room, id), open);
            }
        }
        for (room, client, node) in rooms.accepted_relays() {
            if !live.iter().any(|n| n.id == node) {
                tracing::info!(room, far = node, "dropping the relay of a node gone");
                if let Some(h) = rooms.handle(&room) {
                    h.leave(sfu_kit::ClientId::new(client)).await;
                }
                rooms.remove_participant(&room, sfu_kit::ClientId::new(client));
            }
        }
        Ok(())
    }
}

/// Adds to `pipe` what takes node `id` out of `room`'s entries.
fn leave_room(pipe: &mut redis::Pipeline, id: &str, room: &str) {
    pipe.cmd("SREM")
        .arg(format!("sfu:room:{room}"))
        .arg(id)
        .ignore()
        .cmd("HDEL")
        .arg(format!("sfu:roomload:{room}"))
        .arg(id)
        .ignore()
        .cmd("SREM")
        .arg(format!("sfu:noderooms:{id}"))
        .arg(room)
        .ignore();
}

/// What a heartbeat measures of this node between two beats.
#[derive(Default)]
struct Meters {
    cpu: CpuMeter,
    packets: RateMeter,
}

/// The rate of a count between two readings.
#[derive(Default)]
struct RateMeter {
    last: Option<(std::time::Instant, u64)>,
}

impl RateMeter {
    /// The count's growth per second since the last call (0 on the first). Rooms that
    /// closed take their counts with them: a fall reads as 0.
    fn per_second(&mut self, count: u64) -> u64 {
        let now = std::time::Instant::now();
        let rate = self.last.map_or(0, |(then, before)| {
            let secs = now.duration_since(then).as_secs_f64().max(0.001);
            (count.saturating_sub(before) as f64 / secs) as u64
        });
        self.last = Some((now, count));
        rate
    }
}

/// The process's CPU use between two readings, from `/proc/self/stat`.
#[derive(Default)]
struct CpuMeter {
    last: Option<(std::time::Instant, u64)>,
}

impl CpuMeter {
    /// Per cent of one core since the last call (0 on the first, or where `/proc` is
    /// not there).
    fn percent(&mut self) -> u64 {
        let Some(ticks) = process_ticks() else {
            return 0;
        };
        let now = std::time::Instant::now();
        let used = self.last.map_or(0, |(then, before)| {
            let secs = now.duration_since(then).as_secs_f64();
            // Linux counts these in USER_HZ, 100 per second.
            let busy = ticks.saturating_sub(before) as f64 / 100.0;
            (100.0 * busy / secs.max(0.001)) as u64
        });
        self.last = Some((now, ticks));
        used
    }
}

/// User plus system time of this process, in clock ticks.
fn process_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name may hold spaces; the fields after it are plain.
    let rest = stat.rsplit_once(')')?.1;
    let mut fields = rest.split_whitespace();
    // After the name: state is field 3, utime 14, stime 15.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}
