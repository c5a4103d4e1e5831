//! Waiting for SIGINT or SIGTERM, for
//! [`KafkaStreams::run_until_signal`](super::KafkaStreams::run_until_signal).

use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::runtime::shared::Shared;
use crate::runtime::state::State;

/// Waits until SIGINT or SIGTERM arrives, or until the instance stops on its own (a failed
/// stream thread); returns which of these happened.
pub(crate) fn wait_for_signal(shared: &Arc<Shared>) -> Result<&'static str> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Io {
            context: "building the signal runtime".into(),
            source: e,
        })?;
    let shared = Arc::clone(shared);
    let signal = runtime.block_on(async move {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        let mut tick = tokio::time::interval(Duration::from_millis(200));
        loop {
            tokio::select! {
                r = tokio::signal::ctrl_c() => { r?; return Ok::<_, std::io::Error>("SIGINT"); }
                _ = term.recv() => return Ok("SIGTERM"),
                _ = tick.tick() => {
                    if matches!(shared.lock().state, State::Error | State::NotRunning) {
                        return Ok("failure");
                    }
                }
            }
        }
    });
    signal.map_err(|e| Error::Io {
        context: "waiting for SIGINT/SIGTERM".into(),
        source: e,
    })
}
