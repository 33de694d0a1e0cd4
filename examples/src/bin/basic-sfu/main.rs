//! basic-sfu: a complete SFU you open in a browser.
//!
//! `cargo run --release -p examples --bin basic-sfu`, then open the printed URL in two
//! tabs. Each `?room=NAME` is its own room (its own task and UDP port). Signaling is plain
//! HTTP: the page posts its offer to `/api/join`, listens for the room's renegotiation
//! offers on a server-sent-event stream (`/api/events`) and posts answers to `/api/answer`.
//! Only the server offers after the join, so the exchange is glare-free.

mod http;
mod rooms;

use std::net::{IpAddr, SocketAddr};

use clap::Parser;
use sfu_kit::EstimatorKind;

/// A complete WebRTC SFU with its own web page.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
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
    /// First UDP port for rooms; each room takes the next free one (0: any free port).
    #[arg(long, env = "SFU_UDP_PORT", default_value_t = 0)]
    udp_port: u16,
    /// Bandwidth estimator that sets each subscriber's budget: googcc, kalman, str0m, or
    /// off (best layers for everyone).
    #[arg(long, env = "SFU_ESTIMATOR", default_value = "str0m")]
    estimator: EstimatorKind,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Logs go to stderr; stdout carries only the line with the URL.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "basic_sfu=info,sfu_udp=info".into()),
        )
        .init();
    let args = Args::parse();
    let rooms = rooms::Rooms::new(args.bind, args.public_ip, args.udp_port, args.estimator)?;
    // Event streams never end by themselves; they watch this to let graceful shutdown finish.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let app = http::router(rooms, stop_rx);
    let listener =
        tokio::net::TcpListener::bind(SocketAddr::new(args.bind, args.http_port)).await?;
    let addr = listener.local_addr()?;
    let host = if args.bind.is_unspecified() {
        "127.0.0.1".to_string()
    } else {
        args.bind.to_string()
    };
    println!("open http://{host}:{}/?room=demo", addr.port());
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = tokio::signal::ctrl_c().await;
            println!("shutting down");
            let _ = stop_tx.send(true);
        })
        .await?;
    Ok(())
}
