//! `TIMESTAMP_FORMAT`: event times held as strings, in Java's `DateTimeFormatter` patterns.

use chrono::{DateTime, NaiveDate, NaiveDateTime};

/// The Java pattern `java` as a chrono format string: `yyyy`, `MM`, `dd`, `HH`, `mm`, `ss`,
/// `SSS`, `X`/`XXX`, `Z` and quoted text.
fn to_chrono(java: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = java.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let mut n = 1;
        while i + n < chars.len() && chars[i + n] == c {
            n += 1;
        }
        match c {
            '\'' => {
                let mut j = i + 1;
                while j < chars.len() && chars[j] != '\'' {
                    out.push(chars[j]);
                    j += 1;
                }
                i = j + 1;
                continue;
            }
            'y' | 'u' => out.push_str(if n == 2 { "%y" } else { "%Y" }),
            'M' => out.push_str("%m"),
            'd' => out.push_str("%d"),
            'H' => out.push_str("%H"),
            'm' => out.push_str("%M"),
            's' => out.push_str("%S"),
            'S' => out.push_str("%3f"),
            'X' | 'x' => out.push_str(if n >= 3 { "%:z" } else { "%z" }),
            'Z' => out.push_str("%z"),
            other => {
                for _ in 0..n {
                    out.push(other);
                }
            }
        }
        i += n;
    }
    out
}

/// Epoch milliseconds of `text` written in the Java pattern `format`; without a zone, UTC.
pub(crate) fn parse(text: &str, format: &str) -> Option<i64> {
    let f = to_chrono(format);
    if let Ok(t) = DateTime::parse_from_str(text, &f) {
        return Some(t.timestamp_millis());
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(text, &f) {
        return Some(t.and_utc().timestamp_millis());
    }
    NaiveDate::parse_from_str(text, &f)
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_patterns() {
        assert_eq!(
            parse("2026-11-27 08:00:00", "yyyy-MM-dd HH:mm:ss"),
            Some(1_795_766_400_000)
        );
        assert_eq!(
            parse("2026-11-27T08:00:00.250", "yyyy-MM-dd'T'HH:mm:ss.SSS"),
            Some(1_795_766_400_250)
        );
        assert_eq!(parse("nonsense", "yyyy-MM-dd"), None);
    }
}
