//! The registry's REST API over HTTP(S), blocking, with basic auth, TLS settings and
//! timeouts.

use std::sync::Arc;

use base64::Engine as _;
use ureq::Agent;
use ureq::tls::{Certificate, ClientCert, PemItem, PrivateKey, RootCerts, TlsConfig};

use super::transport::{Method, Reply, Transport};
use crate::config::{self, RegistryConfig};
use crate::error::{AvroError, Result};
use crate::rest::CONTENT_TYPE;

/// A real registry, at one or more URLs tried in order.
pub(crate) struct HttpTransport {
    agent: Agent,
    /// The URLs without credentials.
    urls: Vec<String>,
    /// The `Authorization` header, when basic auth is configured.
    authorization: Option<String>,
    /// The URLs joined, for messages.
    described: String,
}

impl HttpTransport {
    pub(crate) fn new(config: &RegistryConfig) -> Result<Self> {
        let urls: Vec<String> = config.urls()?.iter().map(|u| strip_user_info(u)).collect();
        let authorization = config.basic_auth()?.map(|(user, password)| {
            let token =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            format!("Basic {token}")
        });
        let agent: Agent = Agent::config_builder()
            // Error statuses carry the registry's error body, which the client reads.
            .http_status_as_error(false)
            .timeout_connect(Some(config.connect_timeout()?))
            .timeout_recv_response(Some(config.read_timeout()?))
            .timeout_recv_body(Some(config.read_timeout()?))
            .tls_config(tls_config(config)?)
            .build()
            .into();
        Ok(HttpTransport {
            agent,
            described: urls.join(","),
            urls,
            authorization,
        })
    }

    fn send_to(
        &self,
        url: &str,
        method: Method,
        path: &str,
        body: Option<&str>,
    ) -> Result<Reply, ureq::Error> {
        let uri = format!("{url}{path}");
        let auth = self.authorization.as_deref();
        let with_headers = |r: ureq::RequestBuilder<ureq::typestate::WithBody>| {
            let r = r
                .header("Content-Type", CONTENT_TYPE)
                .header("Accept", CONTENT_TYPE);
            match auth {
                Some(a) => r.header("Authorization", a),
                None => r,
            }
        };
        let without_body = |r: ureq::RequestBuilder<ureq::typestate::WithoutBody>| {
            let r = r.header("Accept", CONTENT_TYPE);
            match auth {
                Some(a) => r.header("Authorization", a),
                None => r,
            }
        };
        let body = body.unwrap_or("");
        let mut response = match method {
            Method::Get => without_body(self.agent.get(&uri)).call()?,
            Method::Delete => without_body(self.agent.delete(&uri)).call()?,
            Method::Post => with_headers(self.agent.post(&uri)).send(body)?,
            Method::Put => with_headers(self.agent.put(&uri)).send(body)?,
        };
        let status = response.status().as_u16();
        let body = response.body_mut().read_to_string()?;
        Ok(Reply { status, body })
    }
}

impl Transport for HttpTransport {
    fn send(&self, method: Method, path: &str, body: Option<&str>) -> Result<Reply> {
        let mut last = None;
        for url in &self.urls {
            match self.send_to(url, method, path, body) {
                Ok(reply) => return Ok(reply),
                Err(e) => {
                    tracing::debug!(url = %url, error = %e, "schema registry did not answer");
                    last = Some(e);
                }
            }
        }
        Err(AvroError::Unreachable {
            url: self.described.clone(),
            what: format!("{} {path}", method.as_str()),
            source: match last {
                Some(e) => Box::new(e),
                None => "no URL configured".into(),
            },
        })
    }

    fn url(&self) -> &str {
        &self.described
    }
}

/// `http://user:pass@host/x` without `user:pass@`: credentials go in a header, and must not
/// appear in messages.
fn strip_user_info(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((_, host)) => format!("{scheme}://{host}{path}"),
        None => url.to_owned(),
    }
}

fn tls_config(config: &RegistryConfig) -> Result<TlsConfig> {
    let mut tls = TlsConfig::builder();
    if let Some(path) = config.get(config::SSL_CA_LOCATION) {
        let certs = pem_items(path)?
            .into_iter()
            .filter_map(|item| match item {
                PemItem::Certificate(c) => Some(c),
                _ => None,
            })
            .collect::<Vec<Certificate<'static>>>();
        if certs.is_empty() {
            return Err(AvroError::config(
                config::SSL_CA_LOCATION,
                format!("{path} holds no PEM certificate"),
            ));
        }
        tls = tls.root_certs(RootCerts::Specific(Arc::new(certs)));
    }
    match (
        config.get(config::SSL_CERTIFICATE_LOCATION),
        config.get(config::SSL_KEY_LOCATION),
    ) {
        (None, None) => {}
        (Some(cert_path), Some(key_path)) => {
            let chain: Vec<Certificate<'static>> = pem_items(cert_path)?
                .into_iter()
                .filter_map(|item| match item {
                    PemItem::Certificate(c) => Some(c),
                    _ => None,
                })
                .collect();
            let key: PrivateKey<'static> = pem_items(key_path)?
                .into_iter()
                .find_map(|item| match item {
                    PemItem::PrivateKey(k) => Some(k),
                    _ => None,
                })
                .ok_or_else(|| {
                    AvroError::config(
                        config::SSL_KEY_LOCATION,
                        format!("{key_path} holds no PEM private key"),
                    )
                })?;
            tls = tls.client_cert(Some(ClientCert::new_with_certs(&chain, key)));
        }
        (Some(_), None) => {
            return Err(AvroError::config(
                config::SSL_KEY_LOCATION,
                "missing, but a client certificate is set",
            ));
        }
        (None, Some(_)) => {
            return Err(AvroError::config(
                config::SSL_CERTIFICATE_LOCATION,
                "missing, but a client key is set",
            ));
        }
    }
    Ok(tls.build())
}

fn pem_items(path: &str) -> Result<Vec<PemItem<'static>>> {
    let pem = std::fs::read(path).map_err(|source| AvroError::Io {
        path: path.to_owned(),
        source,
    })?;
    ureq::tls::parse_pem(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| AvroError::Config {
            key: path.to_owned(),
            reason: format!("not a PEM file: {e}"),
        })
}

#[cfg(test)]
mod tests {
    use super::strip_user_info;

    #[test]
    fn credentials_are_taken_out_of_urls() {
        assert_eq!(
            strip_user_info("https://u:p@reg:8081/x"),
            "https://reg:8081/x"
        );
        assert_eq!(strip_user_info("http://reg:8081"), "http://reg:8081");
    }
}
