//! veza-stream's slot entry: HOST, PORT, VEZA_RELEASE_SHA, VEZA_COLOR and
//! VEZA_ENV from the environment; a malformed value is refused with one line
//! and exit 2; SIGTERM or SIGINT stops it gracefully with exit 0.
use std::io::Write;
use std::net::ToSocketAddrs;
use std::process::ExitCode;
use std::sync::Arc;

use tokio::signal::unix::{signal, SignalKind};
use veza_stream::contract;
use veza_stream::server::{first, serve, Either, State};

const COMPONENT: &str = "veza-stream";
const DEFAULT_PORT: u16 = 8082;

fn main() -> ExitCode {
    let cfg = match contract::read(&|k| std::env::var(k).ok(), DEFAULT_PORT) {
        Ok(cfg) => cfg,
        Err(line) => {
            eprintln!("{COMPONENT}: {line}");
            return ExitCode::from(2);
        }
    };
    // One thread is plenty for generated segments, and leaves the slot's CPU to its neighbours.
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{COMPONENT}: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    rt.block_on(run(cfg))
}

async fn run(cfg: contract::Config) -> ExitCode {
    let addr = match (cfg.host.as_str(), cfg.port).to_socket_addrs().map(|mut a| a.next()) {
        Ok(Some(a)) => a,
        _ => {
            eprintln!("{COMPONENT}: cannot resolve HOST={} — use an IP address or a resolvable host name", cfg.host);
            return ExitCode::from(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("{COMPONENT}: cannot listen on {addr}: {e} — free the port or set PORT/HOST");
            return ExitCode::from(1);
        }
    };
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
        eprintln!("{COMPONENT}: cannot install the SIGTERM/SIGINT handlers");
        return ExitCode::from(1);
    };
    let local = listener.local_addr().map(|a| a.to_string()).unwrap_or_else(|_| addr.to_string());
    let none = |v: &Option<String>| v.clone().unwrap_or_else(|| "none".into());
    println!(
        "{COMPONENT} start listen={local} release={} color={} env={}",
        none(&cfg.release),
        none(&cfg.color),
        none(&cfg.env)
    );
    let _ = std::io::stdout().flush();
    let stop = async {
        match first(term.recv(), int.recv()).await {
            Either::Left(_) => "SIGTERM",
            Either::Right(_) => "SIGINT",
        }
    };
    let signal = serve(listener, Arc::new(State::new(&cfg)), stop).await;
    println!("{COMPONENT} stop signal={signal}");
    ExitCode::SUCCESS
}
