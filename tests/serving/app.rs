//! serve-app: the application the serving suite (`tests/serving.rs`) runs as separate OS
//! processes, so that one instance can be killed with SIGKILL while the others answer.
//!
//! ```text
//! serve-app BOOTSTRAP APPLICATION_ID INPUT STATE_DIR [KEY=VALUE ...]
//! ```
//!
//! It runs [`topology`](topology::topology) (counts per key in `counts`, sums and counts
//! per key and hour in `hourly`) under exactly-once, serves both stores over HTTP on a port
//! of its own (`application.server`), and prints `SERVING <host:port>` once the server
//! listens. `KEY=VALUE` entries are streams configs, except `server.forwarding=redirect`,
//! which makes the server redirect requests for keys other instances own instead of
//! forwarding them. Closing stdin closes it cleanly.

#[path = "../../examples/hourly_revenue/log.rs"]
mod log;
mod topology;

use std::io::BufRead as _;
use std::process::ExitCode;

use streams_dsl::prelude::*;
use streams_server::{Forwarding, ServerOptions, StreamsServer};

fn main() -> ExitCode {
    log::init();
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("serve-app: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [bootstrap, app_id, input, state_dir, extra @ ..] = args.as_slice() else {
        return Err(
            "usage: serve-app BOOTSTRAP APPLICATION_ID INPUT STATE_DIR [KEY=VALUE ...]".into(),
        );
    };
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let mut config = StreamsConfig::new()
        .set("application.id", app_id)
        .set("bootstrap.servers", bootstrap)
        .set("state.dir", state_dir)
        .set("processing.guarantee", "exactly_once_v2")
        .set("commit.interval.ms", "100")
        .set("session.timeout.ms", "6000")
        .set("application.server", addr.to_string());
    let mut options = ServerOptions::default();
    for entry in extra {
        let (k, v) = entry
            .split_once('=')
            .ok_or_else(|| format!("'{entry}' is not KEY=VALUE"))?;
        match (k, v) {
            ("server.forwarding", "redirect") => {
                options = options.forwarding(Forwarding::Redirect);
            }
            ("server.forwarding", _) => return Err(format!("unknown forwarding '{v}'").into()),
            _ => {
                config.insert(k, v);
            }
        }
    }
    let mut streams = KafkaStreams::new(topology::topology(input)?, config)?;
    let server = StreamsServer::new(streams.handle())
        .options(options)
        .key_value_store::<String, i64>(topology::COUNTS, Serdes::string())
        .window_store::<String, topology::Totals>(topology::HOURLY, Serdes::string())
        .session_store::<String, i64>(topology::SESSIONS, Serdes::string())
        .spawn(listener)?;
    println!("SERVING {addr}");
    streams.start()?;
    // Runs until stdin closes (the runner drops it) or the process is killed.
    for line in std::io::stdin().lock().lines() {
        if line.is_err() {
            break;
        }
    }
    server.shutdown();
    streams.close()?;
    Ok(())
}
