//! The registry client and serdes against a real Schema Registry (Apicurio Registry's
//! Confluent-compatible API, started by `tests/registry/apicurio.sh`; tests/run.sh starts it
//! and exports `SCHEMA_REGISTRY_URL_FILE`, and without it these tests fail, saying how to
//! start it): every compatibility mode with changes it allows and refuses, the offline
//! checker agreeing with the registry on each, the error of a refused registration naming
//! subject, mode and the registry's reason, and records written and read through it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use apache_avro::Schema;
use serde::{Deserialize, Serialize};
use streams_avro::{
    AvroError, AvroSerde, CompatibilityMode, RegistryConfig, SchemaRegistry, is_compatible,
};
use streams_dsl::prelude::*;
use streams_tests::registry::{unique, url};

fn config() -> RegistryConfig {
    RegistryConfig::new()
        .set("schema.registry.url", url())
        .set("http.connect.timeout.ms", "5000")
        .set("http.read.timeout.ms", "20000")
}

fn registry() -> SchemaRegistry {
    SchemaRegistry::new(&config()).unwrap()
}

/// A record `Order` with `id: string` and the given extra fields (JSON).
fn order(extra: &[&str]) -> String {
    let mut fields = vec![r#"{"name":"id","type":"string"}"#.to_owned()];
    fields.extend(extra.iter().map(|f| (*f).to_owned()));
    format!(
        r#"{{"type":"record","name":"Order","namespace":"com.example","fields":[{}]}}"#,
        fields.join(",")
    )
}

const NOTE: &str = r#"{"name":"note","type":"string"}"#;
const NOTE_DEFAULT: &str = r#"{"name":"note","type":"string","default":""}"#;
const QTY_INT: &str = r#"{"name":"qty","type":"int"}"#;
const QTY_INT_DEFAULT: &str = r#"{"name":"qty","type":"int","default":0}"#;
const QTY_LONG: &str = r#"{"name":"qty","type":"long"}"#;

fn status(symbols: &str) -> String {
    format!(
        r#"{{"type":"record","name":"Order","namespace":"com.example","fields":[{{"name":"status","type":{{"type":"enum","name":"Status","symbols":[{symbols}]}}}}]}}"#
    )
}

/// One change: the subject's earlier schemas (oldest first), the new one, and whether the
/// mode allows it.
struct Case {
    what: &'static str,
    mode: CompatibilityMode,
    previous: Vec<String>,
    new: String,
    allowed: bool,
}

fn case(
    what: &'static str,
    mode: CompatibilityMode,
    previous: Vec<String>,
    new: String,
    allowed: bool,
) -> Case {
    Case {
        what,
        mode,
        previous,
        new,
        allowed,
    }
}

/// Schema Registry's table of allowed changes, mode by mode, and where the transitive modes
/// differ from the plain ones.
fn cases() -> Vec<Case> {
    use CompatibilityMode::*;
    let plain = order(&[]);
    vec![
        case(
            "add a field with a default",
            Backward,
            vec![plain.clone()],
            order(&[NOTE_DEFAULT]),
            true,
        ),
        case(
            "add a field without a default",
            Backward,
            vec![plain.clone()],
            order(&[NOTE]),
            false,
        ),
        case(
            "delete a field",
            Backward,
            vec![order(&[NOTE])],
            plain.clone(),
            true,
        ),
        case(
            "promote int to long",
            Backward,
            vec![order(&[QTY_INT])],
            order(&[QTY_LONG]),
            true,
        ),
        case(
            "change string to int",
            Backward,
            vec![order(&[NOTE])],
            order(&[r#"{"name":"note","type":"int"}"#]),
            false,
        ),
        case(
            "add an enum symbol",
            Backward,
            vec![status(r#""NEW","PAID""#)],
            status(r#""NEW","PAID","SHIPPED""#),
            true,
        ),
        case(
            "add a field without a default",
            Forward,
            vec![plain.clone()],
            order(&[NOTE]),
            true,
        ),
        case(
            "delete a field with a default",
            Forward,
            vec![order(&[NOTE_DEFAULT])],
            plain.clone(),
            true,
        ),
        case(
            "delete a field without a default",
            Forward,
            vec![order(&[NOTE])],
            plain.clone(),
            false,
        ),
        case(
            "promote int to long",
            Forward,
            vec![order(&[QTY_INT])],
            order(&[QTY_LONG]),
            false,
        ),
        case(
            "add an enum symbol",
            Forward,
            vec![status(r#""NEW","PAID""#)],
            status(r#""NEW","PAID","SHIPPED""#),
            false,
        ),
        case(
            "add a field with a default",
            Full,
            vec![plain.clone()],
            order(&[NOTE_DEFAULT]),
            true,
        ),
        case(
            "delete a field with a default",
            Full,
            vec![order(&[NOTE_DEFAULT])],
            plain.clone(),
            true,
        ),
        case(
            "add a field without a default",
            Full,
            vec![plain.clone()],
            order(&[NOTE]),
            false,
        ),
        case(
            "delete a field without a default",
            Full,
            vec![order(&[NOTE])],
            plain.clone(),
            false,
        ),
        case(
            "change string to int",
            None,
            vec![order(&[NOTE])],
            order(&[r#"{"name":"note","type":"int"}"#]),
            true,
        ),
        case(
            "add a field without a default",
            None,
            vec![plain.clone()],
            order(&[NOTE]),
            true,
        ),
        // v1 {id}, v2 adds qty with a default, v3 drops the default: v3 reads v2's data but
        // not v1's.
        case(
            "drop a default the first version lacked the field of",
            Backward,
            vec![plain.clone(), order(&[QTY_INT_DEFAULT])],
            order(&[QTY_INT]),
            true,
        ),
        case(
            "drop a default the first version lacked the field of",
            BackwardTransitive,
            vec![plain.clone(), order(&[QTY_INT_DEFAULT])],
            order(&[QTY_INT]),
            false,
        ),
        case(
            "drop a default the first version lacked the field of",
            Full,
            vec![plain.clone(), order(&[QTY_INT_DEFAULT])],
            order(&[QTY_INT]),
            true,
        ),
        case(
            "drop a default the first version lacked the field of",
            FullTransitive,
            vec![plain.clone(), order(&[QTY_INT_DEFAULT])],
            order(&[QTY_INT]),
            false,
        ),
        case(
            "add a field with a default",
            FullTransitive,
            vec![plain.clone(), order(&[NOTE_DEFAULT])],
            order(&[NOTE_DEFAULT, QTY_INT_DEFAULT]),
            true,
        ),
        // v1 {id, qty}, v2 gives qty a default, v3 deletes it: v2 reads v3's data, v1 does not.
        case(
            "delete a field only the latest version has a default for",
            Forward,
            vec![order(&[QTY_INT]), order(&[QTY_INT_DEFAULT])],
            plain.clone(),
            true,
        ),
        case(
            "delete a field only the latest version has a default for",
            ForwardTransitive,
            vec![order(&[QTY_INT]), order(&[QTY_INT_DEFAULT])],
            plain.clone(),
            false,
        ),
        case(
            "add a field with a default",
            BackwardTransitive,
            vec![plain.clone(), order(&[NOTE_DEFAULT])],
            order(&[NOTE_DEFAULT, QTY_INT_DEFAULT]),
            true,
        ),
        case(
            "add a field without a default",
            BackwardTransitive,
            vec![plain.clone(), order(&[NOTE_DEFAULT])],
            order(&[NOTE_DEFAULT, QTY_INT]),
            false,
        ),
        case(
            "add a field without a default",
            ForwardTransitive,
            vec![plain.clone(), order(&[NOTE_DEFAULT])],
            order(&[NOTE_DEFAULT, QTY_INT]),
            true,
        ),
    ]
}

/// A subject of its own holding the case's earlier schemas (registered whatever their own
/// compatibility) under the case's mode, and the offline checker's answer for the new one.
fn prepare(registry: &SchemaRegistry, c: &Case) -> (String, bool) {
    let subject = unique(&format!("compat-{}", c.mode.as_str().to_lowercase()));
    registry
        .set_compatibility(Some(&subject), CompatibilityMode::None)
        .unwrap();
    for s in &c.previous {
        registry.register(&subject, s).unwrap();
    }
    registry.set_compatibility(Some(&subject), c.mode).unwrap();
    assert_eq!(registry.compatibility(Some(&subject)).unwrap(), c.mode);
    let previous: Vec<Schema> = c
        .previous
        .iter()
        .map(|s| Schema::parse_str(s).unwrap())
        .collect();
    let offline = is_compatible(c.mode, &Schema::parse_str(&c.new).unwrap(), &previous);
    (subject, offline)
}

#[test]
fn every_mode_allows_and_refuses_what_the_registry_does_and_the_offline_checker_agrees() {
    let registry = registry();
    let cases = cases();
    for mode in CompatibilityMode::ALL {
        assert!(
            cases.iter().any(|c| c.mode == mode && c.allowed)
                && (mode == CompatibilityMode::None
                    || cases.iter().any(|c| c.mode == mode && !c.allowed)),
            "{mode} has an allowed and a refused change"
        );
    }
    let mut disagreements = Vec::new();
    for c in &cases {
        let (subject, offline) = prepare(&registry, c);
        let registered = registry.register(&subject, &c.new);
        let label = format!("{} under {} ({subject})", c.what, c.mode);
        if offline != registered.is_ok() {
            disagreements.push(format!(
                "{label}: offline {offline}, registry {registered:?}"
            ));
        }
        match registered {
            Ok(_) => assert!(c.allowed, "{label}: the registry accepted it"),
            Err(AvroError::Incompatible {
                subject: s,
                mode,
                reason,
            }) => {
                assert!(!c.allowed, "{label}: the registry refused it: {reason}");
                assert_eq!(s, subject);
                assert_eq!(mode, c.mode.as_str(), "{label}");
                assert!(!reason.is_empty(), "{label}");
            }
            Err(e) => panic!("{label}: {e}"),
        }
        assert_eq!(offline, c.allowed, "{label}: the offline checker");
    }
    assert!(disagreements.is_empty(), "{disagreements:#?}");
}

#[test]
fn the_registrys_compatibility_test_agrees_with_the_offline_checker() {
    let registry = registry();
    for c in cases() {
        let (subject, offline) = prepare(&registry, &c);
        let tested = registry.test_compatibility(&subject, &c.new).unwrap();
        assert_eq!(
            tested, offline,
            "{} under {}: POST /compatibility/subjects/{subject}/versions[/latest]",
            c.what, c.mode
        );
        // Testing registers nothing.
        assert_eq!(registry.versions(&subject).unwrap().len(), c.previous.len());
    }
}

#[test]
fn a_refused_registration_names_the_subject_the_mode_and_the_registrys_reason() {
    let registry = registry();
    let subject = unique("orders.placed-value");
    registry.register(&subject, &order(&[])).unwrap();
    registry
        .set_compatibility(Some(&subject), CompatibilityMode::Backward)
        .unwrap();
    let err = registry.register(&subject, &order(&[NOTE])).unwrap_err();
    let text = err.to_string();
    let prefix =
        format!("schema refused for subject '{subject}' under compatibility mode BACKWARD: ");
    assert!(text.starts_with(&prefix), "{text}");
    // Apicurio names the offending field in its reason.
    assert!(text.contains("note"), "{text}");
    assert_eq!(registry.versions(&subject).unwrap(), [1]);
}

#[test]
fn every_mode_can_be_set_and_read_back_and_unknown_modes_are_refused() {
    let registry = registry();
    let subject = unique("modes");
    registry.register(&subject, &order(&[])).unwrap();
    for mode in CompatibilityMode::ALL {
        registry.set_compatibility(Some(&subject), mode).unwrap();
        assert_eq!(registry.compatibility(Some(&subject)).unwrap(), mode);
    }
    // The registry's own word on a mode it does not know.
    let client = ureq_put(
        &format!("{}/config/{subject}", url()),
        r#"{"compatibility":"SIDEWAYS"}"#,
    );
    assert!(client.contains("42203"), "{client}");
}

/// `curl -X PUT` as the README shows it, without curl: the raw answer.
fn ureq_put(url: &str, body: &str) -> String {
    let output = std::process::Command::new("curl")
        .args([
            "-s",
            "-X",
            "PUT",
            "-H",
            "Content-Type: application/vnd.schemaregistry.v1+json",
            "--data",
            body,
            url,
        ])
        .output()
        .expect("run curl");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct OrderV1 {
    id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct OrderV2 {
    id: String,
    note: String,
}

#[test]
fn serdes_write_and_read_through_the_real_registry() {
    let config = config();
    let topic = unique("orders");
    let subject = format!("{topic}-value");
    let writer_registry = registry();
    let v1 =
        AvroSerde::<OrderV1>::with_schema(writer_registry.clone(), &config, false, &order(&[]))
            .unwrap();
    let mut bytes = Vec::new();
    v1.serialize(&topic, &OrderV1 { id: "o1".into() }, &mut bytes)
        .unwrap();
    let latest = writer_registry.latest_version(&subject).unwrap();
    assert_eq!(bytes[0], 0);
    assert_eq!(
        u32::from_be_bytes(bytes[1..5].try_into().unwrap()),
        latest.id
    );
    assert_eq!(&bytes[5..], [4, b'o', b'1']);

    // A reader with a client of its own fetches the writer's schema by id.
    let reader =
        AvroSerde::<OrderV1>::with_schema(registry(), &config, false, &order(&[])).unwrap();
    assert_eq!(
        reader.deserialize(&topic, Some(&bytes)).unwrap(),
        OrderV1 { id: "o1".into() }
    );

    // Under BACKWARD a field without a default is refused when the record is written: a
    // serialization error naming subject and mode, and nothing registered.
    writer_registry
        .set_compatibility(Some(&subject), CompatibilityMode::Backward)
        .unwrap();
    let v2 =
        AvroSerde::<OrderV2>::with_schema(registry(), &config, false, &order(&[NOTE])).unwrap();
    let err = v2
        .serialize(
            &topic,
            &OrderV2 {
                id: "o2".into(),
                note: "n".into(),
            },
            &mut Vec::new(),
        )
        .unwrap_err();
    assert!(matches!(err, Error::Serialization { .. }), "{err:?}");
    let cause = std::error::Error::source(&err).unwrap().to_string();
    assert!(
        cause.starts_with(&format!(
            "schema refused for subject '{subject}' under compatibility mode BACKWARD"
        )),
        "{cause}"
    );
    assert_eq!(writer_registry.versions(&subject).unwrap(), [1]);

    // An id the registry never gave out.
    let err = reader
        .deserialize(&topic, Some(&[0, 0x7f, 0xff, 0xff, 0xf0, 0]))
        .unwrap_err();
    let cause = std::error::Error::source(&err).unwrap().to_string();
    assert!(
        cause.starts_with("unknown schema id 2147483632: the schema registry at http://127.0.0.1:"),
        "{cause}"
    );
}
