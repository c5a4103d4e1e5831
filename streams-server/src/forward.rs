//! Relaying a key request to the instance that owns the key.

use std::time::Duration;

use streams_dsl::prelude::HostInfo;

use crate::error::{Result, ServerError};

/// The header that marks a forwarded request: its receiver answers it itself.
pub(crate) const FORWARDED: &str = "x-streams-forwarded";

/// An owner's answer, relayed as it came.
pub(crate) struct Relayed {
    pub(crate) status: u16,
    pub(crate) body: String,
}

/// Asks `host` for `path_and_query` (blocking; run off the async workers).
pub(crate) fn relay(host: &HostInfo, path_and_query: &str, timeout: Duration) -> Result<Relayed> {
    let failed = |reason: String| ServerError::Forward {
        host: host.to_string(),
        reason,
    };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .build()
        .into();
    let mut response = agent
        .get(format!("http://{host}{path_and_query}"))
        .header(FORWARDED, "1")
        .call()
        .map_err(|e| failed(e.to_string()))?;
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .read_to_string()
        .map_err(|e| failed(e.to_string()))?;
    Ok(Relayed { status, body })
}
