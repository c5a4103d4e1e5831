//! Confluent's wire format: the magic byte 0, the schema id as 4 big-endian bytes, then the
//! Avro binary body, byte for byte what Confluent's serializers write.

use crate::error::{AvroError, Result};

/// The first byte of every Confluent-framed record.
pub const MAGIC_BYTE: u8 = 0;

/// The length of the header: the magic byte and the 4-byte schema id.
pub const HEADER_LEN: usize = 5;

/// Appends the header for schema `id` to `out`.
///
/// # Examples
///
/// ```
/// let mut out = Vec::new();
/// streams_avro::wire::write_header(258, &mut out);
/// assert_eq!(out, [0, 0, 0, 1, 2]);
/// ```
pub fn write_header(id: u32, out: &mut Vec<u8>) {
    out.push(MAGIC_BYTE);
    out.extend_from_slice(&id.to_be_bytes());
}

/// Splits a framed record into its schema id and its Avro body.
///
/// # Errors
///
/// [`AvroError::FrameTooShort`] when `data` is shorter than the header,
/// [`AvroError::UnknownMagicByte`] when it does not start with [`MAGIC_BYTE`].
///
/// # Examples
///
/// ```
/// use streams_avro::{AvroError, wire};
///
/// assert_eq!(wire::split(&[0, 0, 0, 0, 7, 42])?, (7, &[42u8][..]));
/// assert!(matches!(wire::split(b"{\"json\":1}"), Err(AvroError::UnknownMagicByte { found: b'{' })));
/// assert!(matches!(wire::split(&[0, 0]), Err(AvroError::FrameTooShort { len: 2 })));
/// # Ok::<(), AvroError>(())
/// ```
pub fn split(data: &[u8]) -> Result<(u32, &[u8])> {
    // A record that does not start with the magic byte is reported as such even when it is
    // short: "not Confluent's format" is the more useful reason for a JSON or text line.
    match data.first() {
        Some(&b) if b != MAGIC_BYTE => return Err(AvroError::UnknownMagicByte { found: b }),
        _ => {}
    }
    let Some((header, body)) = data.split_first_chunk::<HEADER_LEN>() else {
        return Err(AvroError::FrameTooShort { len: data.len() });
    };
    let id = u32::from_be_bytes([header[1], header[2], header[3], header[4]]);
    Ok((id, body))
}
