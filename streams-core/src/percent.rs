//! Percent-encoding (RFC 3986): text carried where some characters are separators, such as
//! a URL's path segment or a group member's client id.

/// `text` with every byte but the unreserved characters (ASCII letters, digits, `-`, `.`,
/// `_`, `~`) as `%XX`.
///
/// # Examples
///
/// ```
/// use streams_core::percent;
///
/// assert_eq!(percent::encode("eu west/1@a"), "eu%20west%2F1%40a");
/// assert_eq!(percent::decode("eu%20west%2F1%40a").as_deref(), Some("eu west/1@a"));
/// ```
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Reverses [`encode`]; `None` for a malformed escape or bytes that are not UTF-8.
pub fn decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}
