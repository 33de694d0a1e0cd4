//! basic-sfu: a complete SFU you open in a browser.
//!
//! `cargo run --release -p examples --bin basic-sfu`, then open the printed URL in two
//! tabs. Each `?room=NAME` is its own room (its own task and UDP port). Signaling is plain
//! HTTP: the page posts its offer to `/api/join`, listens for the room's renegotiation
//! offers on a server-sent-event stream (`/api/events`) and posts answers to `/api/answer`.
//! Only the server offers after the join, so the exchange is glare-free.
//!
//! Joining takes an access token (`basic-sfu token` prints a join link); without
//! `--api-secret` the server runs in dev mode and gives tokens to anyone who asks.

mod auth;
mod cascade;
mod cluster;
mod http;
mod rooms;
mod session;
mod tls;
mod whep;
mod whip;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use sfu_kit::EstimatorKind;

use crate::auth::{Auth, Grants};

/// A complete WebRTC SFU with its own web page.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    /// Secret that signs access tokens (at least 16 bytes). Without it the server runs in
    /// dev mode: anyone can get a token from `/api/dev-token`.
    #[arg(long, env = "SFU_API_SECRET", hide_env_values = true, global = true)]
    api_secret: Option<String>,
    /// Most rooms open at once.
    #[arg(long, env = "SFU_MAX_ROOMS", default_value_t = 100)]
    max_rooms: usize,
    /// Most participants per room.
    #[arg(long, env = "SFU_MAX_PARTICIPANTS", default_value_t = 50)]
    max_participants: usize,
    /// Serve https with this certificate chain (PEM; needs --tls-key).
    #[arg(long, env = "SFU_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM).
    #[arg(long, env = "SFU_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Serve https with a self-signed certificate made at start (for testing on phones;
    /// browsers warn about it).
    #[arg(long, conflicts_with = "tls_cert")]
    tls_self_signed: bool,
    /// Joins (and dev tokens) per client address per minute; 0 for no limit.
    #[arg(long, env = "SFU_JOIN_RATE", default_value_t = 60)]
    join_rate: u32,
    /// Most m-lines (tracks) a participant's offer may carry.
    #[arg(long, env = "SFU_MAX_TRACKS", default_value_t = 16)]
    max_tracks: usize,
    /// HTTP port for the page and signaling (0 picks a free one).
    #[arg(long, env = "SFU_HTTP_PORT", default_value_t = 8080)]
    http_port: u16,
    /// Address to bind HTTP and UDP on.
    #[arg(long, env = "SFU_BIND", default_value = "127.0.0.1")]
    bind: IpAddr,
    /// IP advertised to browsers as the media address (default: the bind address, or
    /// 127.0.0.1 when binding 0.0.0.0).
    #[arg(long, env = "SFU_PUBLIC_IP")]
    public_ip: Option<IpAddr>,
    /// The UDP port every room's media shares (0: any free port); with --port-per-room,
    /// the first of the ports the rooms take.
    #[arg(long, env = "SFU_UDP_PORT", default_value_t = 0)]
    udp_port: u16,
    /// Give every room a UDP port of its own (the lowest free one from --udp-port) instead
    /// of one port for all.
    #[arg(long, env = "SFU_PORT_PER_ROOM")]
    port_per_room: bool,
    /// Bandwidth estimator that sets each subscriber's budget: googcc, kalman, str0m, or
    /// off (best layers for everyone).
    #[arg(long, env = "SFU_ESTIMATOR", default_value = "str0m")]
    estimator: EstimatorKind,
    /// Fanout workers of every room: its own thread and N-1 helper threads, all rooms
    /// sharing the helpers. A room fans a batch of packets out shard by shard, and hands
    /// shards to the helpers when the batch is large enough (participants × (packets + 2) ≥
    /// 400).
    #[arg(long, env = "SFU_WORKERS", default_value_t = 1)]
    workers: usize,
    /// Accept relays from other nodes that present this secret (at least 16 bytes): a
    /// room then spans the nodes whose rooms open relays here.
    #[arg(long, env = "SFU_RELAY_SECRET", hide_env_values = true)]
    relay_secret: Option<String>,
    /// Another node (its HTTP base URL) every room started here opens a relay to, with
    /// --relay-secret as that node's secret. Repeat for several; link each pair of nodes
    /// once (one side lists the other).
    #[arg(
        long = "cascade",
        env = "SFU_CASCADE",
        value_delimiter = ',',
        requires = "relay_secret"
    )]
    cascade: Vec<String>,
    /// This node's name: in the other nodes' logs, and its id in a cluster (unique there;
    /// letters, digits, '-' and '_').
    #[arg(long, env = "SFU_NODE_ID", default_value = "sfu")]
    node_id: String,
    /// Join a cluster of nodes that share this Redis (`redis://host:port`): joins are
    /// routed to the nodes holding their room, and rooms that span nodes are relayed
    /// between them (needs --relay-secret, the same on every node).
    #[arg(long, env = "SFU_REDIS", requires = "relay_secret")]
    redis: Option<String>,
    /// This node's region in a cluster: a join stays in the region of the node it came
    /// through.
    #[arg(long, env = "SFU_REGION", default_value = "default")]
    region: String,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Prints a join link carrying an access token for one participant (needs
    /// --api-secret, the server's).
    Token {
        /// The room.
        #[arg(long)]
        room: String,
        /// The display name.
        #[arg(long)]
        name: String,
        /// The identity in your application (default: the name).
        #[arg(long)]
        identity: Option<String>,
        /// Grant admin: cap anyone's bandwidth, read the room's reports.
        #[arg(long)]
        admin: bool,
        /// Watch only: refuse offers that send media.
        #[arg(long)]
        no_publish: bool,
        /// Validity in seconds.
        #[arg(long, default_value_t = 6 * 3600)]
        ttl: u64,
        /// The server's address, for the link.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        url: String,
        /// Print the token alone instead of a link.
        #[arg(long)]
        token_only: bool,
    },
}

/// Prints what `basic-sfu token` asks for.
fn print_token(secret: Option<&str>, command: Command) -> anyhow::Result<()> {
    let Command::Token {
        room,
        name,
        identity,
        admin,
        no_publish,
        ttl,
        url,
        token_only,
    } = command;
    let Some(secret) = secret else {
        anyhow::bail!("a token needs the server's secret: --api-secret or SFU_API_SECRET");
    };
    let auth = Auth::new(Some(secret))?;
    let grants = Grants {
        publish: !no_publish,
        admin,
    };
    let identity = identity.unwrap_or_else(|| name.clone());
    let claims = auth::claims(&room, &identity, &name, grants, Duration::from_secs(ttl));
    let token = auth.mint(&claims)?;
    if token_only {
        println!("{token}");
    } else {
        println!("{}/?room={room}&token={token}", url.trim_end_matches('/'));
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Logs go to stderr; stdout carries only the line with the URL. Colours only on a
    // terminal: a log written to a file or a pipe stays plain text.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "basic_sfu=info,sfu_udp=info".into()),
        )
        .init();
    let args = Args::parse();
    if let Some(command) = args.command {
        return print_token(args.api_secret.as_deref(), command);
    }
    let auth = Auth::new(args.api_secret.as_deref())?;
    if auth.is_dev() {
        tracing::warn!(
            "dev mode: no --api-secret, anyone can get an access token; do not expose this server"
        );
    }
    let limits = rooms::Limits {
        max_rooms: args.max_rooms,
        max_participants: args.max_participants,
    };
    let mux = if args.port_per_room {
        None
    } else {
        let mux = sfu_kit::UdpMux::bind(std::net::SocketAddr::new(args.bind, args.udp_port))
            .await
            .with_context(|| format!("binding UDP port {}", args.udp_port))?;
        tracing::info!(addr = %mux.local_addr(), "media for every room on one UDP port");
        Some(mux)
    };
    if args.relay_secret.as_ref().is_some_and(|s| s.len() < 16) {
        anyhow::bail!("--relay-secret must be at least 16 bytes");
    }
    let name_ok = |s: &str| {
        !s.is_empty()
            && s.len() <= 32
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    if !name_ok(&args.node_id) || !name_ok(&args.region) {
        anyhow::bail!("--node-id and --region are 1-32 letters, digits, '-' or '_'");
    }
    let links = args
        .cascade
        .iter()
        .map(|url| cascade::Link {
            url: url.clone(),
            secret: args.relay_secret.clone().unwrap_or_default(),
            node: args.node_id.clone(),
        })
        .collect();
    let rooms = rooms::Rooms::new(
        args.bind,
        args.public_ip,
        args.udp_port,
        mux,
        args.estimator,
        sfu_kit::Workers::new(args.workers),
        limits,
    )?
    .with_cascade(links);
    let host = match (args.public_ip, args.bind.is_unspecified()) {
        (Some(ip), _) => ip.to_string(),
        (None, true) => "127.0.0.1".to_string(),
        (None, false) => args.bind.to_string(),
    };
    let tls = match (args.tls_cert, args.tls_key, args.tls_self_signed) {
        (Some(cert), Some(key), _) => Some(tls::TlsSource::Files { cert, key }),
        (_, _, true) => Some(tls::TlsSource::SelfSigned(vec![
            host.clone(),
            "localhost".into(),
        ])),
        _ => None,
    };
    let listener = std::net::TcpListener::bind(SocketAddr::new(args.bind, args.http_port))?;
    let port = listener.local_addr()?.port();
    let scheme = if tls.is_some() { "https" } else { "http" };
    let cluster = match &args.redis {
        Some(redis) => Some(
            cluster::Cluster::start(
                cluster::NodeConfig {
                    redis: redis.clone(),
                    node: args.node_id.clone(),
                    region: args.region.clone(),
                    url: format!("{scheme}://{host}:{port}"),
                    relay_secret: args.relay_secret.clone().unwrap_or_default(),
                    max_participants: args.max_participants,
                },
                rooms.clone(),
            )
            .await?,
        ),
        None => None,
    };
    // Event streams never end by themselves; they watch this to let graceful shutdown finish.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let app = http::router(
        rooms,
        auth,
        args.max_tracks,
        http::join_limiter(args.join_rate),
        stop_rx,
        args.relay_secret,
        cluster,
    );
    let shutdown = async move {
        let _ = tokio::signal::ctrl_c().await;
        println!("shutting down");
        let _ = stop_tx.send(true);
    };
    let service = app.into_make_service_with_connect_info::<SocketAddr>();
    match tls {
        None => {
            println!("open http://{host}:{port}/?room=demo");
            listener.set_nonblocking(true)?;
            axum::serve(tokio::net::TcpListener::from_std(listener)?, service)
                .with_graceful_shutdown(shutdown)
                .await?;
        }
        Some(source) => {
            let config = tls::config(source).await?;
            println!("open https://{host}:{port}/?room=demo");
            let handle = axum_server::Handle::new();
            let stopper = handle.clone();
            tokio::spawn(async move {
                shutdown.await;
                stopper.graceful_shutdown(Some(std::time::Duration::from_secs(5)));
            });
            axum_server::from_tcp_rustls(listener, config)?
                .handle(handle)
                .serve(service)
                .await?;
        }
    }
    Ok(())
}
