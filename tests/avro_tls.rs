//! The registry client's TLS and basic-auth settings against the real Schema Registry behind
//! a TLS-terminating, auth-checking reverse proxy (`tests/registry/tls_proxy.py`), as
//! registries are commonly deployed: a custom CA (`schema.registry.ssl.ca.location`), client
//! certificates (`schema.registry.ssl.certificate.location` / `.key.location`) and
//! `basic.auth.user.info`, each also refused when wrong or missing. Certificates are made
//! with `openssl` for each run. Needs the registry (`SCHEMA_REGISTRY_URL_FILE`, see
//! tests/run.sh), and fails saying how to start it without.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use streams_avro::{RegistryConfig, SchemaRegistry};
use streams_tests::registry::{unique, url};

const USER_INFO: &str = "streams:s3cret";

/// Runs `openssl` with `args` in `dir`, failing the test when it fails.
fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("running openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, all signed by the CA.
struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        openssl(
            d,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "2",
                "-subj",
                "/CN=streams-test-ca",
            ],
        );
        for (name, ext) in [
            (
                "server",
                "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
            ),
            ("client", "extendedKeyUsage=clientAuth\n"),
        ] {
            std::fs::write(d.join(format!("{name}.ext")), ext).unwrap();
            openssl(
                d,
                &[
                    "req",
                    "-newkey",
                    "rsa:2048",
                    "-nodes",
                    "-keyout",
                    &format!("{name}.key"),
                    "-out",
                    &format!("{name}.csr"),
                    "-subj",
                    &format!("/CN={name}"),
                ],
            );
            openssl(
                d,
                &[
                    "x509",
                    "-req",
                    "-in",
                    &format!("{name}.csr"),
                    "-CA",
                    "ca.pem",
                    "-CAkey",
                    "ca.key",
                    "-CAcreateserial",
                    "-out",
                    &format!("{name}.pem"),
                    "-days",
                    "2",
                    "-extfile",
                    &format!("{name}.ext"),
                ],
            );
        }
        Pki { dir }
    }

    fn path(&self, file: &str) -> String {
        self.dir.path().join(file).display().to_string()
    }
}

/// The proxy, stopped (its stdin closed, then killed) on drop.
struct Proxy {
    child: Child,
    port: u16,
}

impl Proxy {
    fn start(pki: &Pki, client_ca: bool) -> Proxy {
        let script: PathBuf = [env!("CARGO_MANIFEST_DIR"), "registry", "tls_proxy.py"]
            .iter()
            .collect();
        let mut cmd = Command::new("python3");
        cmd.arg(script).args([
            url(),
            pki.path("server.pem"),
            pki.path("server.key"),
            USER_INFO.into(),
        ]);
        if client_ca {
            cmd.arg(pki.path("ca.pem"));
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting tls_proxy.py");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("PORT ")
            .unwrap_or_else(|| panic!("tls_proxy.py said '{line}'"))
            .parse()
            .unwrap();
        Proxy { child, port }
    }

    fn config(&self, pki: &Pki) -> RegistryConfig {
        // The registry's Confluent-compatible API sits under a path: keep it.
        let upstream = url();
        let path = upstream
            .split_once("://")
            .and_then(|(_, rest)| rest.find('/').map(|i| rest[i..].to_owned()))
            .unwrap_or_default();
        RegistryConfig::new()
            .set(
                "schema.registry.url",
                format!("https://127.0.0.1:{}{path}", self.port),
            )
            .set("schema.registry.ssl.ca.location", pki.path("ca.pem"))
            .set("basic.auth.credentials.source", "USER_INFO")
            .set("basic.auth.user.info", USER_INFO)
            .set("http.connect.timeout.ms", "5000")
            .set("http.read.timeout.ms", "20000")
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const SCHEMA: &str = r#"{"type":"record","name":"Order","fields":[{"name":"id","type":"string"}]}"#;

/// Registers [`SCHEMA`] under a new subject and reads it back by id.
fn round_trip(config: &RegistryConfig) -> Result<(), String> {
    let registry = SchemaRegistry::new(config).map_err(|e| e.to_string())?;
    let subject = unique("tls-orders-value");
    let id = registry
        .register(&subject, SCHEMA)
        .map_err(|e| error_chain(&e))?;
    let fresh = SchemaRegistry::new(config).map_err(|e| e.to_string())?;
    let schema = fresh.schema_by_id(id).map_err(|e| error_chain(&e))?;
    assert!(
        schema.canonical_form().contains("\"name\":\"Order\""),
        "{}",
        schema.canonical_form()
    );
    Ok(())
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(c) = source {
        s.push_str(": ");
        s.push_str(&c.to_string());
        source = c.source();
    }
    s
}

#[test]
fn a_custom_ca_and_basic_auth_reach_the_registry_and_wrong_ones_are_refused() {
    let pki = Pki::new();
    let proxy = Proxy::start(&pki, false);
    let good = proxy.config(&pki);
    round_trip(&good).unwrap();

    let wrong_password = good.clone().set("basic.auth.user.info", "streams:wrong");
    let err = round_trip(&wrong_password).unwrap_err();
    assert!(err.contains("401"), "{err}");

    let from_url = proxy
        .config(&pki)
        .set("basic.auth.credentials.source", "URL")
        .set(
            "schema.registry.url",
            good.get("schema.registry.url")
                .unwrap()
                .replace("https://", "https://streams:s3cret@"),
        );
    round_trip(&from_url).unwrap();

    let untrusted = RegistryConfig::new()
        .set(
            "schema.registry.url",
            good.get("schema.registry.url").unwrap(),
        )
        .set("basic.auth.user.info", USER_INFO)
        .set("http.connect.timeout.ms", "5000");
    let err = round_trip(&untrusted).unwrap_err();
    assert!(
        err.to_lowercase().contains("certificate") || err.to_lowercase().contains("issuer"),
        "{err}"
    );
}

#[test]
fn client_certificates_pass_mutual_tls_and_their_absence_is_refused() {
    let pki = Pki::new();
    let proxy = Proxy::start(&pki, true);
    let with_cert = proxy
        .config(&pki)
        .set(
            "schema.registry.ssl.certificate.location",
            pki.path("client.pem"),
        )
        .set("schema.registry.ssl.key.location", pki.path("client.key"));
    round_trip(&with_cert).unwrap();

    let without = proxy.config(&pki);
    assert!(
        round_trip(&without).is_err(),
        "a client without a certificate got through"
    );
}
