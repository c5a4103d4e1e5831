//! Kafka's rules for names: topics, and the node, store and application names that end up
//! in topic names (repartition and changelog topics are named after them).

/// Checks `name` against Kafka's rules for topic names: 1 to 249 ASCII letters, digits,
/// `.`, `_` and `-`. The error says what is wrong, without a prefix.
pub(crate) fn validate(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("name is empty".into());
    }
    if name.len() > 249 {
        return Err(format!("name '{name}' is longer than 249 characters"));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(format!(
            "name '{name}' contains '{c}'; only ASCII letters, digits, '.', '_' and '-' are allowed"
        ));
    }
    Ok(())
}
