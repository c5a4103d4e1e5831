//! Compatibility modes and the offline compatibility checker.

use std::fmt;
use std::str::FromStr;

use apache_avro::Schema;
use apache_avro::schema_compatibility::{Compatibility, SchemaCompatibility};

/// A subject's compatibility mode: which earlier schemas a new one is checked against, and
/// in which direction, as Schema Registry defines them.
///
/// | mode | a new schema must | checked against |
/// | --- | --- | --- |
/// | `NONE` | nothing | — |
/// | `BACKWARD` | read data written with the earlier schema (delete fields, add fields with defaults) | the latest |
/// | `FORWARD` | be readable by the earlier schema (add fields, delete fields with defaults) | the latest |
/// | `FULL` | both | the latest |
/// | `*_TRANSITIVE` | the same | every earlier version |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CompatibilityMode {
    /// No check.
    None,
    /// The new schema reads data of the latest one.
    Backward,
    /// The new schema reads data of every earlier one.
    BackwardTransitive,
    /// The latest schema reads data of the new one.
    Forward,
    /// Every earlier schema reads data of the new one.
    ForwardTransitive,
    /// Backward and forward against the latest.
    Full,
    /// Backward and forward against every earlier one.
    FullTransitive,
}

impl CompatibilityMode {
    /// Every mode, in the registry's order.
    pub const ALL: [CompatibilityMode; 7] = [
        CompatibilityMode::None,
        CompatibilityMode::Backward,
        CompatibilityMode::BackwardTransitive,
        CompatibilityMode::Forward,
        CompatibilityMode::ForwardTransitive,
        CompatibilityMode::Full,
        CompatibilityMode::FullTransitive,
    ];

    /// The registry's name of the mode, such as `BACKWARD_TRANSITIVE`.
    pub fn as_str(self) -> &'static str {
        match self {
            CompatibilityMode::None => "NONE",
            CompatibilityMode::Backward => "BACKWARD",
            CompatibilityMode::BackwardTransitive => "BACKWARD_TRANSITIVE",
            CompatibilityMode::Forward => "FORWARD",
            CompatibilityMode::ForwardTransitive => "FORWARD_TRANSITIVE",
            CompatibilityMode::Full => "FULL",
            CompatibilityMode::FullTransitive => "FULL_TRANSITIVE",
        }
    }

    /// Whether the mode checks every earlier version rather than the latest.
    pub fn is_transitive(self) -> bool {
        matches!(
            self,
            CompatibilityMode::BackwardTransitive
                | CompatibilityMode::ForwardTransitive
                | CompatibilityMode::FullTransitive
        )
    }

    fn backward(self) -> bool {
        matches!(
            self,
            CompatibilityMode::Backward
                | CompatibilityMode::BackwardTransitive
                | CompatibilityMode::Full
                | CompatibilityMode::FullTransitive
        )
    }

    fn forward(self) -> bool {
        matches!(
            self,
            CompatibilityMode::Forward
                | CompatibilityMode::ForwardTransitive
                | CompatibilityMode::Full
                | CompatibilityMode::FullTransitive
        )
    }
}

impl fmt::Display for CompatibilityMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CompatibilityMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        CompatibilityMode::ALL
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                format!(
                    "'{s}' is not a compatibility mode; use one of {}",
                    CompatibilityMode::ALL
                        .map(CompatibilityMode::as_str)
                        .join(", ")
                )
            })
    }
}

/// Whether `new` may follow `previous` (oldest first) under `mode`, as the registry decides
/// when `new` is registered.
///
/// # Examples
///
/// ```
/// use apache_avro::Schema;
/// use streams_avro::{CompatibilityMode, is_compatible};
///
/// let v1 = Schema::parse_str(r#"{"type":"record","name":"Order","fields":[{"name":"id","type":"string"}]}"#)?;
/// let v2 = Schema::parse_str(r#"{"type":"record","name":"Order","fields":[
///     {"name":"id","type":"string"},
///     {"name":"currency","type":"string","default":"USD"}]}"#)?;
/// let v3 = Schema::parse_str(r#"{"type":"record","name":"Order","fields":[
///     {"name":"id","type":"string"},
///     {"name":"note","type":"string"}]}"#)?;
/// // A field added with a default: old data is readable, and the new data by old readers.
/// assert!(is_compatible(CompatibilityMode::Full, &v2, &[v1.clone()]));
/// // A field added without a default: old data lacks it.
/// assert!(!is_compatible(CompatibilityMode::Backward, &v3, &[v1.clone()]));
/// assert!(is_compatible(CompatibilityMode::Forward, &v3, &[v1.clone()]));
/// assert!(is_compatible(CompatibilityMode::None, &v3, &[v1]));
/// # Ok::<(), apache_avro::Error>(())
/// ```
pub fn is_compatible(mode: CompatibilityMode, new: &Schema, previous: &[Schema]) -> bool {
    check_compatibility(mode, new, previous).is_ok()
}

/// As [`is_compatible`], with the reasons when `new` is refused.
///
/// # Errors
///
/// The reasons, one per earlier schema and direction that fails, naming the version (1 for
/// the oldest of `previous`).
pub fn check_compatibility(
    mode: CompatibilityMode,
    new: &Schema,
    previous: &[Schema],
) -> Result<(), Vec<String>> {
    let first = if mode.is_transitive() {
        0
    } else {
        previous.len().saturating_sub(1)
    };
    let mut reasons = Vec::new();
    for (i, old) in previous.iter().enumerate().skip(first) {
        let version = i + 1;
        if mode.backward()
            && let Err(why) = can_read(old, new)
        {
            reasons.push(format!(
                "the new schema cannot read data written with version {version}: {why}"
            ));
        }
        if mode.forward()
            && let Err(why) = can_read(new, old)
        {
            reasons.push(format!(
                "version {version} cannot read data written with the new schema: {why}"
            ));
        }
    }
    if reasons.is_empty() {
        Ok(())
    } else {
        Err(reasons)
    }
}

/// Whether a reader with schema `reader` reads every datum written with `writer`. A partial
/// match (an enum symbol or union branch the reader lacks) fails, as in Avro's Java checker,
/// which the registries use.
fn can_read(writer: &Schema, reader: &Schema) -> Result<(), String> {
    match SchemaCompatibility::can_read(writer, reader) {
        Ok(Compatibility::Full) => Ok(()),
        Ok(Compatibility::Partial) => {
            Err("some values (enum symbols or union branches) cannot be read".to_owned())
        }
        Err(e) => Err(e.to_string()),
    }
}
