//! The HTTP routes: probes, metrics, instances and store queries.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State as Extract};
use axum::http::header::{CONTENT_TYPE, LOCATION, RETRY_AFTER};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::registry::Registry;
use serde_json::{Value, json};
use streams_dsl::prelude::{HostInfo, State, StreamsHandle};

use crate::error::{Result, ServerError};
use crate::forward::{FORWARDED, relay};
use crate::keys::{Staleness, TimeRange};
use crate::options::{Forwarding, ServerOptions};
use crate::stores::StoreRoute;

/// What every route shares.
pub(crate) struct AppState {
    pub(crate) handle: StreamsHandle,
    pub(crate) stores: BTreeMap<String, Arc<dyn StoreRoute>>,
    pub(crate) registry: Registry,
    pub(crate) options: ServerOptions,
}

pub(crate) type Shared = Arc<AppState>;

/// The server's routes, with `aliases` (path with a `{key}` segment, store) answering as
/// `/stores/{store}/keys/{key}` does.
pub(crate) fn router(state: Shared, aliases: &[(String, String)]) -> axum::Router {
    let mut router = axum::Router::new();
    for (path, store) in aliases {
        let store = store.clone();
        router = router.route(
            path,
            get(
                move |Extract(app): Extract<Shared>,
                      Path(key): Path<String>,
                      Query(range): Query<TimeRange>,
                      Query(staleness): Query<Staleness>,
                      headers: HeaderMap,
                      uri: Uri| {
                    let store = store.clone();
                    let request = KeyRequest {
                        range,
                        stale: staleness.stale,
                    };
                    async move { key_request(app, store, key, request, &headers, &uri).await }
                },
            ),
        );
    }
    router
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .route("/instances", get(instances))
        .route("/stores/{store}/keys/{key}", get(store_key))
        .route("/stores/{store}/all", get(store_all))
        .with_state(state)
}

impl AppState {
    /// The answer to an error: its status, a JSON body naming it, and `Retry-After` on a
    /// 503.
    pub(crate) fn error(&self, err: &ServerError) -> Response {
        let status = err.status();
        let body = Json(json!({ "error": err.to_string() }));
        if status == StatusCode::SERVICE_UNAVAILABLE {
            let secs = self.options.retry_after.as_secs().max(1).to_string();
            return (status, [(RETRY_AFTER, secs)], body).into_response();
        }
        (status, body).into_response()
    }

    fn answer(&self, result: Result<Value>) -> Response {
        match result {
            Ok(v) => Json(v).into_response(),
            Err(e) => self.error(&e),
        }
    }

    /// Runs blocking work (a query, a forwarded request) off the async workers.
    pub(crate) async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> Result<T> + Send + 'static,
    ) -> Result<T> {
        tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| {
            Err(ServerError::Streams(streams_dsl::Error::IllegalState(
                format!("query task failed: {e}"),
            )))
        })
    }
}

async fn health() -> Response {
    Json(json!({ "status": "live" })).into_response()
}

async fn ready(Extract(app): Extract<Shared>) -> Response {
    let state = app.handle.state();
    let body = Json(json!({ "state": state.to_string() }));
    if state == State::Running {
        (StatusCode::OK, body).into_response()
    } else {
        let secs = app.options.retry_after.as_secs().max(1).to_string();
        (StatusCode::SERVICE_UNAVAILABLE, [(RETRY_AFTER, secs)], body).into_response()
    }
}

async fn metrics(Extract(app): Extract<Shared>) -> Response {
    let encoded = {
        let app = Arc::clone(&app);
        tokio::task::spawn_blocking(move || {
            let mut text = String::new();
            prometheus_client::encoding::text::encode(&mut text, &app.registry).map(|()| text)
        })
        .await
    };
    match encoded {
        Ok(Ok(text)) => (
            [(
                CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        _ => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn instances(Extract(app): Extract<Shared>) -> Response {
    let handle = app.handle.clone();
    let result = app
        .blocking(move || {
            let all = handle.metadata_for_all_stores()?;
            Ok(Value::Array(
                all.into_iter()
                    .map(|m| {
                        json!({
                            "host": m.host_info.to_string(),
                            "process_id": m.process_id,
                            "stores": m.state_store_names,
                            "partitions": m.topic_partitions
                                .iter()
                                .map(|(t, p)| json!({ "topic": t, "partition": p }))
                                .collect::<Vec<_>>(),
                        })
                    })
                    .collect(),
            ))
        })
        .await;
    app.answer(result)
}

fn store(app: &AppState, name: &str) -> Result<Arc<dyn StoreRoute>> {
    app.stores.get(name).cloned().ok_or_else(|| {
        ServerError::Streams(streams_dsl::Error::UnknownStore(format!(
            "{name} (not served over HTTP)"
        )))
    })
}

async fn store_key(
    Extract(app): Extract<Shared>,
    Path((name, key)): Path<(String, String)>,
    Query(range): Query<TimeRange>,
    Query(staleness): Query<Staleness>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let request = KeyRequest {
        range,
        stale: staleness.stale,
    };
    key_request(app, name, key, request, &headers, &uri).await
}

/// A key request's query parameters.
#[derive(Clone, Copy)]
struct KeyRequest {
    range: TimeRange,
    stale: bool,
}

/// The instances to ask for a key, in order (see the crate docs' routing); none when this
/// instance answers it: it holds the key's active task, or with `stale` a standby of it, or
/// nobody is known to hold it. Otherwise the active instance, then with `stale` the
/// standbys' instances.
fn hosts_to_ask(
    active: Option<&HostInfo>,
    standbys: &[HostInfo],
    this: Option<&HostInfo>,
    stale: bool,
) -> Vec<HostInfo> {
    let here = |host: &HostInfo| Some(host) == this;
    let standbys: &[HostInfo] = if stale { standbys } else { &[] };
    if active.is_some_and(here) || standbys.iter().any(here) {
        return Vec::new();
    }
    active.into_iter().chain(standbys).cloned().collect()
}

/// Answers a key of store `name` here, or forwards or redirects it to its owner.
async fn key_request(
    app: Shared,
    name: String,
    key: String,
    request: KeyRequest,
    headers: &HeaderMap,
    uri: &Uri,
) -> Response {
    let route = match store(&app, &name) {
        Ok(r) => r,
        Err(e) => return app.error(&e),
    };
    let forwarded = headers.contains_key(FORWARDED);
    let this = app.handle.application_server().cloned();
    let located = {
        let (route, key) = (Arc::clone(&route), key.clone());
        app.blocking(move || {
            if forwarded {
                return Ok(Vec::new());
            }
            match route.locate(&key) {
                Ok(meta) => Ok(hosts_to_ask(
                    meta.active_host.as_ref(),
                    &meta.standby_hosts,
                    this.as_ref(),
                    request.stale,
                )),
                // While the group rebalances nobody is known to hold the key; a stale read
                // is answered from whatever this instance holds, standbys included.
                Err(_) if request.stale => Ok(Vec::new()),
                Err(e) => Err(e),
            }
        })
        .await
    };
    let hosts = match located {
        Ok(hosts) => hosts,
        Err(e) => return app.error(&e),
    };
    let path = uri
        .path_and_query()
        .map_or_else(|| uri.path().to_owned(), |p| p.as_str().to_owned());
    if let Some(first) = hosts.first() {
        return match app.options.forwarding {
            Forwarding::Redirect => (
                StatusCode::TEMPORARY_REDIRECT,
                [(LOCATION, format!("http://{first}{path}"))],
            )
                .into_response(),
            Forwarding::Proxy => {
                let timeout = app.options.timeout;
                let relayed = app
                    .blocking(move || {
                        // A stale read goes on to the next instance when one cannot answer.
                        let mut last = None;
                        for host in &hosts {
                            match relay(host, &path, timeout) {
                                Ok(r) if r.status != 503 => return Ok(r),
                                other => last = Some(other),
                            }
                        }
                        last.unwrap_or_else(|| {
                            Err(ServerError::Streams(streams_dsl::Error::IllegalState(
                                "no instance to forward to".into(),
                            )))
                        })
                    })
                    .await;
                match relayed {
                    Ok(r) => {
                        let status =
                            StatusCode::from_u16(r.status).unwrap_or(StatusCode::BAD_GATEWAY);
                        let mut response =
                            (status, [(CONTENT_TYPE, "application/json")], r.body).into_response();
                        if status == StatusCode::SERVICE_UNAVAILABLE {
                            let secs = app.options.retry_after.as_secs().max(1).to_string();
                            if let Ok(v) = secs.parse() {
                                response.headers_mut().insert(RETRY_AFTER, v);
                            }
                        }
                        response
                    }
                    Err(e) => app.error(&e),
                }
            }
        };
    }
    let answer = app
        .blocking(move || route.key(&key, request.range, request.stale))
        .await;
    match answer {
        Ok(Some(v)) => Json(v).into_response(),
        Ok(None) => (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": format!("no such key in store '{name}'") })),
        )
            .into_response(),
        Err(e) => app.error(&e),
    }
}

async fn store_all(
    Extract(app): Extract<Shared>,
    Path(name): Path<String>,
    Query(range): Query<TimeRange>,
    Query(staleness): Query<Staleness>,
) -> Response {
    let route = match store(&app, &name) {
        Ok(r) => r,
        Err(e) => return app.error(&e),
    };
    let result = app
        .blocking(move || route.all(range, staleness.stale))
        .await;
    app.answer(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_reads_stay_on_a_standby_and_fall_back_to_the_standbys() {
        let (a, b, c) = (
            HostInfo::new("a", 1),
            HostInfo::new("b", 1),
            HostInfo::new("c", 1),
        );
        let (on_a, on_c) = (vec![a.clone()], vec![c.clone()]);
        let ask = |active: Option<&HostInfo>, standbys: &[HostInfo], stale| {
            hosts_to_ask(active, standbys, Some(&a), stale)
        };
        assert_eq!(ask(Some(&b), &on_a, false), vec![b.clone()]);
        assert!(ask(Some(&b), &on_a, true).is_empty(), "a holds a standby");
        assert!(
            hosts_to_ask(Some(&b), &[], Some(&b), false).is_empty(),
            "b is active"
        );
        assert_eq!(ask(Some(&b), &on_c, false), vec![b.clone()]);
        assert_eq!(ask(Some(&b), &on_c, true), vec![b, c.clone()]);
        assert!(ask(None, &on_c, false).is_empty());
        assert_eq!(ask(None, &on_c, true), vec![c]);
    }
}
