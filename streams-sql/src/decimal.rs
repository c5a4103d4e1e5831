//! Exact `DECIMAL` values, as ksqlDB's `BigDecimal`s: an unscaled integer and a scale, of up
//! to 38 digits (an `i128`).
//!
//! The arithmetic follows ksqlDB's: `+`, `-`, `*`, `/` and `%` are exact, at the scale
//! [`SqlType::Decimal`](crate::types::SqlType::Decimal) gives the result (ksqlDB's
//! `SqlDecimal.add`, `multiply`, `divide`, `modulus`), and an operation whose exact result
//! does not fit that scale, such as `1.0 / 3.0`, gives null, as ksqlDB's
//! `RoundingMode.UNNECESSARY` fails and it logs the error and emits null. So does a result of
//! more than 38 digits. `CAST` rounds half up, as ksqlDB's `DecimalUtil.cast` does.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The most digits a value holds.
pub const MAX_DIGITS: u32 = 38;

/// An exact decimal: `unscaled × 10^-scale`.
///
/// # Examples
///
/// ```
/// use streams_sql::decimal::Decimal;
///
/// let price: Decimal = "19.99".parse().unwrap();
/// let total = price.checked_mul(Decimal::from(3)).unwrap();
/// assert_eq!(total.to_string(), "59.97");
/// assert_eq!(total.round(1).unwrap().to_string(), "60.0");
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Decimal {
    unscaled: i128,
    scale: u8,
}

fn pow10(n: u32) -> Option<i128> {
    10i128.checked_pow(n)
}

fn digits(v: i128) -> u32 {
    match v.unsigned_abs().checked_ilog10() {
        Some(d) => d + 1,
        None => 1,
    }
}

impl Decimal {
    /// `unscaled × 10^-scale`.
    pub const fn new(unscaled: i128, scale: u8) -> Self {
        Decimal { unscaled, scale }
    }

    /// The unscaled integer.
    pub const fn unscaled(self) -> i128 {
        self.unscaled
    }

    /// The number of digits after the point.
    pub const fn scale(self) -> u8 {
        self.scale
    }

    /// The number of digits of the unscaled integer (1 for zero), as `BigDecimal.precision`.
    pub fn precision(self) -> u32 {
        digits(self.unscaled)
    }

    /// Whether it is a value of `DECIMAL(precision, scale)` once at that scale: fewer than
    /// `precision - scale` digits before the point.
    pub fn fits(self, precision: u8, scale: u8) -> bool {
        self.rescale(scale)
            .is_some_and(|d| d.precision() <= u32::from(precision))
    }

    /// The same value at `scale`, when no digit is lost and it fits in 38 digits.
    pub fn rescale(self, scale: u8) -> Option<Self> {
        match scale.cmp(&self.scale) {
            Ordering::Equal => Some(self),
            Ordering::Greater => {
                let f = pow10(u32::from(scale - self.scale))?;
                let unscaled = self.unscaled.checked_mul(f)?;
                (digits(unscaled) <= MAX_DIGITS).then_some(Decimal { unscaled, scale })
            }
            Ordering::Less => {
                let f = pow10(u32::from(self.scale - scale))?;
                (self.unscaled % f == 0).then_some(Decimal {
                    unscaled: self.unscaled / f,
                    scale,
                })
            }
        }
    }

    /// The value rounded half away from zero (`RoundingMode.HALF_UP`) to `scale` digits
    /// after the point; `None` when it does not fit in 38 digits.
    pub fn round(self, scale: u8) -> Option<Self> {
        if scale >= self.scale {
            return self.rescale(scale);
        }
        let Some(f) = pow10(u32::from(self.scale - scale)) else {
            // More than 38 digits dropped: the value rounds to zero.
            return Some(Decimal::new(0, scale));
        };
        let (q, r) = (self.unscaled / f, self.unscaled % f);
        let up = r.unsigned_abs() * 2 >= f.unsigned_abs();
        let unscaled = if up { q + self.unscaled.signum() } else { q };
        Some(Decimal { unscaled, scale })
    }

    /// The value with its digits after the point dropped towards negative (`floor`) or
    /// positive (`!floor`) infinity, at scale 0.
    pub fn floor_or_ceil(self, floor: bool) -> Self {
        let f = pow10(u32::from(self.scale)).unwrap_or(i128::MAX);
        let (q, r) = (self.unscaled / f, self.unscaled % f);
        let q = match (r.signum(), floor) {
            (-1, true) => q - 1,
            (1, false) => q + 1,
            _ => q,
        };
        Decimal::new(q, 0)
    }

    /// Both values at the larger scale.
    fn aligned(self, other: Self) -> Option<(i128, i128, u8)> {
        let scale = self.scale.max(other.scale);
        Some((
            self.rescale(scale)?.unscaled,
            other.rescale(scale)?.unscaled,
            scale,
        ))
    }

    fn bounded(unscaled: i128, scale: u8) -> Option<Self> {
        (digits(unscaled) <= MAX_DIGITS).then_some(Decimal { unscaled, scale })
    }

    /// `self + other`, exactly; `None` past 38 digits.
    pub fn checked_add(self, other: Self) -> Option<Self> {
        let (a, b, scale) = self.aligned(other)?;
        Self::bounded(a.checked_add(b)?, scale)
    }

    /// `self - other`, exactly; `None` past 38 digits.
    pub fn checked_sub(self, other: Self) -> Option<Self> {
        let (a, b, scale) = self.aligned(other)?;
        Self::bounded(a.checked_sub(b)?, scale)
    }

    /// `self × other`, exactly; `None` past 38 digits.
    pub fn checked_mul(self, other: Self) -> Option<Self> {
        let scale = self.scale.checked_add(other.scale)?;
        Self::bounded(self.unscaled.checked_mul(other.unscaled)?, scale)
    }

    /// `self ÷ other` at `scale` digits after the point, when that is exact; `None` when it
    /// is not (or `other` is zero).
    pub fn checked_div(self, other: Self, scale: u8) -> Option<Self> {
        if other.unscaled == 0 {
            return None;
        }
        // q × 10^-scale = (a × 10^-sa) / (b × 10^-sb)  ⇒  q = a × 10^(scale - sa + sb) / b
        let exp = i32::from(scale) - i32::from(self.scale) + i32::from(other.scale);
        let (num, den) = if exp >= 0 {
            (
                self.unscaled.checked_mul(pow10(exp.unsigned_abs())?)?,
                other.unscaled,
            )
        } else {
            (
                self.unscaled,
                other.unscaled.checked_mul(pow10(exp.unsigned_abs())?)?,
            )
        };
        if num % den != 0 {
            return None;
        }
        Self::bounded(num / den, scale)
    }

    /// The remainder of `self ÷ other`, with the sign of `self` (`BigDecimal.remainder`);
    /// `None` when `other` is zero.
    pub fn checked_rem(self, other: Self) -> Option<Self> {
        let (a, b, scale) = self.aligned(other)?;
        Some(Decimal::new(a.checked_rem(b)?, scale))
    }

    /// `|self|`.
    pub fn abs(self) -> Self {
        Decimal::new(self.unscaled.abs(), self.scale)
    }

    /// The nearest double.
    pub fn to_f64(self) -> f64 {
        self.to_string().parse().unwrap_or(f64::NAN)
    }

    /// The integer part, truncated towards zero, as Java's `BigDecimal.longValue()` (which
    /// keeps the low 64 bits of a larger one).
    pub fn to_i64(self) -> i64 {
        let f = pow10(u32::from(self.scale)).unwrap_or(i128::MAX);
        (self.unscaled / f) as i64
    }

    /// `d` as ksqlDB casts a double to `DECIMAL(precision, scale)`: its exact binary value
    /// rounded half up to `precision` significant digits, then to `scale`; `None` for NaN,
    /// the infinities and values that do not fit.
    pub fn from_f64(d: f64, precision: u8, scale: u8) -> Option<Self> {
        if !d.is_finite() {
            return None;
        }
        // 37 significant digits, correctly rounded, stand in for the exact expansion; a
        // value far below any scale rounds to zero.
        let d = if d.abs() < 1e-200 { 0.0 } else { d };
        let exact: Decimal = format!("{d:.36e}").parse().ok()?;
        let sig = exact.precision();
        let keep = u32::from(precision.max(1));
        let rounded = if sig > keep {
            let drop = sig - keep;
            let scale = i64::from(exact.scale) - i64::from(drop);
            if scale >= 0 {
                exact.round(u8::try_from(scale).ok()?)?
            } else {
                // Rounded left of the point: the digits kept, times 10^-scale.
                let f = pow10(drop)?;
                let (q, r) = (exact.unscaled / f, exact.unscaled % f);
                let q = if r.unsigned_abs() * 2 >= f.unsigned_abs() {
                    q + exact.unscaled.signum()
                } else {
                    q
                };
                let unscaled = q.checked_mul(pow10(u32::try_from(-scale).ok()?)?)?;
                Decimal::new(unscaled, 0)
            }
        } else {
            exact
        };
        let out = rounded.round(scale)?;
        out.fits(precision, scale).then_some(out)
    }

    /// As ksqlDB casts to `DECIMAL(precision, scale)`: rounded half up to `scale`, `None`
    /// when it does not fit.
    pub fn cast(self, precision: u8, scale: u8) -> Option<Self> {
        let out = self.round(scale)?;
        out.fits(precision, scale).then_some(out)
    }
}

impl Decimal {
    /// The unscaled integer as big-endian two's complement in as few bytes as hold it, as
    /// Avro's `decimal` logical type writes it.
    pub fn to_be_bytes(self) -> Vec<u8> {
        let bytes = self.unscaled.to_be_bytes();
        let sign = if self.unscaled < 0 { 0xff } else { 0 };
        // Drop leading sign bytes while the next byte still carries the sign bit.
        let mut start = 0;
        while start < 15 && bytes[start] == sign && (bytes[start + 1] & 0x80) == (sign & 0x80) {
            start += 1;
        }
        bytes[start..].to_vec()
    }

    /// The value whose unscaled integer `bytes` hold as big-endian two's complement (Avro's
    /// `decimal`), at `scale`; `None` past 16 bytes.
    pub fn from_be_bytes(bytes: &[u8], scale: u8) -> Option<Self> {
        if bytes.len() > 16 {
            return None;
        }
        let fill = if bytes.first().is_some_and(|b| b & 0x80 != 0) {
            0xff
        } else {
            0
        };
        let mut buf = [fill; 16];
        buf[16 - bytes.len()..].copy_from_slice(bytes);
        Self::bounded(i128::from_be_bytes(buf), scale)
    }
}

impl std::ops::Neg for Decimal {
    type Output = Decimal;

    fn neg(self) -> Self {
        Decimal::new(-self.unscaled, self.scale)
    }
}

impl From<i64> for Decimal {
    fn from(v: i64) -> Self {
        Decimal::new(i128::from(v), 0)
    }
}

impl PartialEq for Decimal {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Decimal {}

impl PartialOrd for Decimal {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Decimal {
    /// By value, whatever the scales (`BigDecimal.compareTo`): 1.0 equals 1.00.
    fn cmp(&self, other: &Self) -> Ordering {
        match self.aligned(*other) {
            Some((a, b, _)) => a.cmp(&b),
            // Aligning overflowed: the integer parts differ, or compare the rest.
            None => {
                let ia = self.floor_or_ceil(true).unscaled;
                let ib = other.floor_or_ceil(true).unscaled;
                ia.cmp(&ib)
                    .then_with(|| self.to_f64().total_cmp(&other.to_f64()))
            }
        }
    }
}

impl std::hash::Hash for Decimal {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // Equal values hash alike whatever their scale: hash the value without trailing zeros.
        let mut d = *self;
        while d.scale > 0 && d.unscaled % 10 == 0 {
            d = Decimal::new(d.unscaled / 10, d.scale - 1);
        }
        d.unscaled.hash(state);
        d.scale.hash(state);
    }
}

impl fmt::Display for Decimal {
    /// The plain digits with `scale` of them after the point (`BigDecimal.toPlainString`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.unscaled.unsigned_abs().to_string();
        let sign = if self.unscaled < 0 { "-" } else { "" };
        let scale = usize::from(self.scale);
        if scale == 0 {
            return write!(f, "{sign}{digits}");
        }
        let padded = format!("{digits:0>width$}", width = scale + 1);
        let (int, frac) = padded.split_at(padded.len() - scale);
        write!(f, "{sign}{int}.{frac}")
    }
}

/// A text that is not a decimal number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseDecimalError;

impl fmt::Display for ParseDecimalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not a decimal number of at most 38 digits")
    }
}

impl std::error::Error for ParseDecimalError {}

impl FromStr for Decimal {
    type Err = ParseDecimalError;

    /// `[+-]digits[.digits][(e|E)[+-]digits]`, as `new BigDecimal(String)` reads; the scale
    /// is the number of digits after the point less the exponent (at least 0).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let (mantissa, exp) = match s.find(['e', 'E']) {
            Some(i) => (
                &s[..i],
                s[i + 1..].parse::<i32>().map_err(|_| ParseDecimalError)?,
            ),
            None => (s, 0),
        };
        let (negative, body) = match mantissa.as_bytes().first() {
            Some(b'-') => (true, &mantissa[1..]),
            Some(b'+') => (false, &mantissa[1..]),
            _ => (false, mantissa),
        };
        let (int, frac) = body.split_once('.').unwrap_or((body, ""));
        if int.is_empty() && frac.is_empty()
            || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
        {
            return Err(ParseDecimalError);
        }
        let all = format!("{int}{frac}");
        let trimmed = all.trim_start_matches('0');
        if trimmed.len() > MAX_DIGITS as usize {
            return Err(ParseDecimalError);
        }
        let mut unscaled: i128 = if trimmed.is_empty() {
            0
        } else {
            trimmed.parse().map_err(|_| ParseDecimalError)?
        };
        if negative {
            unscaled = -unscaled;
        }
        let scale = i32::try_from(frac.len()).map_err(|_| ParseDecimalError)? - exp;
        if scale >= 0 {
            let scale = u8::try_from(scale).map_err(|_| ParseDecimalError)?;
            Ok(Decimal::new(unscaled, scale))
        } else {
            let f = pow10(scale.unsigned_abs()).ok_or(ParseDecimalError)?;
            let unscaled = unscaled.checked_mul(f).ok_or(ParseDecimalError)?;
            Self::bounded(unscaled, 0).ok_or(ParseDecimalError)
        }
    }
}

impl Serialize for Decimal {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Decimal {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn parses_and_prints_plain_digits_keeping_the_scale() {
        for (text, shown, scale) in [
            ("12.50", "12.50", 2),
            ("-0.005", "-0.005", 3),
            ("0", "0", 0),
            ("+7", "7", 0),
            ("1.5e2", "150", 0),
            ("1.25E-1", "0.125", 3),
            (".5", "0.5", 1),
            (
                "12345678901234567890123456789012345678",
                "12345678901234567890123456789012345678",
                0,
            ),
        ] {
            let v = d(text);
            assert_eq!(v.to_string(), shown, "{text}");
            assert_eq!(v.scale(), scale, "{text}");
        }
        for bad in [
            "",
            "-",
            "1.2.3",
            "abc",
            "1e",
            "123456789012345678901234567890123456789",
        ] {
            assert!(bad.parse::<Decimal>().is_err(), "{bad}");
        }
    }

    #[test]
    fn arithmetic_is_exact() {
        assert_eq!(d("0.1").checked_add(d("0.2")).unwrap().to_string(), "0.3");
        assert_eq!(
            d("1.10").checked_sub(d("2.5")).unwrap().to_string(),
            "-1.40"
        );
        assert_eq!(
            d("1.5").checked_mul(d("-0.25")).unwrap().to_string(),
            "-0.375"
        );
        assert_eq!(
            d("10").checked_div(d("4"), 6).unwrap().to_string(),
            "2.500000"
        );
        // Not exact at the scale asked: null in ksqlDB.
        assert_eq!(d("1").checked_div(d("3"), 6), None);
        assert_eq!(d("1").checked_div(d("0"), 6), None);
        assert_eq!(d("-7.5").checked_rem(d("2")).unwrap().to_string(), "-1.5");
        let big = d("99999999999999999999999999999999999999");
        assert_eq!(big.checked_add(d("1")), None);
        assert_eq!(big.checked_mul(d("10")), None);
    }

    #[test]
    fn compares_and_hashes_by_value_whatever_the_scale() {
        use std::collections::hash_map::DefaultHasher;
        use std::hash::{Hash, Hasher};
        let hash = |v: Decimal| {
            let mut h = DefaultHasher::new();
            v.hash(&mut h);
            h.finish()
        };
        assert_eq!(d("1.0"), d("1.00"));
        assert_eq!(hash(d("1.0")), hash(d("1.00")));
        assert!(d("-0.01") < d("0"));
        assert!(d("2.5") > d("2.49"));
        // Aligning these overflows 38 digits; the integer parts decide.
        assert!(
            d("99999999999999999999999999999999999999")
                > d("0.0000000000000000000000000000000000001")
        );
    }

    #[test]
    fn rounds_half_up_and_casts_as_ksqldb() {
        assert_eq!(d("2.345").round(2).unwrap().to_string(), "2.35");
        assert_eq!(d("-2.345").round(2).unwrap().to_string(), "-2.35");
        assert_eq!(d("2.344").round(2).unwrap().to_string(), "2.34");
        assert_eq!(d("12.5").cast(4, 0).unwrap().to_string(), "13");
        // DECIMAL(4, 2) holds less than 100.
        assert_eq!(d("99.994").cast(4, 2).unwrap().to_string(), "99.99");
        assert_eq!(d("99.995").cast(4, 2), None);
        assert_eq!(Decimal::from_f64(0.1, 5, 2).unwrap().to_string(), "0.10");
        assert_eq!(Decimal::from_f64(2.675, 10, 2).unwrap().to_string(), "2.68");
        // The double 0.125 is exact, and half up rounds it up.
        assert_eq!(Decimal::from_f64(0.125, 10, 2).unwrap().to_string(), "0.13");
        assert_eq!(
            Decimal::from_f64(1234.5678, 6, 2).unwrap().to_string(),
            "1234.57"
        );
        // 1.23E+5 at three significant digits does not fit DECIMAL(3, 0).
        assert_eq!(Decimal::from_f64(123456.0, 3, 0), None);
        assert_eq!(Decimal::from_f64(f64::NAN, 10, 2), None);
        assert_eq!(
            Decimal::from_f64(1e-300, 10, 2).unwrap().to_string(),
            "0.00"
        );
        assert_eq!(Decimal::from_f64(1e6, 4, 0), None);
        assert_eq!(d("-1.5").floor_or_ceil(true).to_string(), "-2");
        assert_eq!(d("-1.5").floor_or_ceil(false).to_string(), "-1");
        assert_eq!(d("-1.9").to_i64(), -1);
        assert!((d("19.99").to_f64() - 19.99).abs() < 1e-12);
    }

    #[test]
    fn avro_bytes_are_minimal_twos_complement() {
        for (text, bytes) in [
            ("0", vec![0u8]),
            ("1.27", vec![0x7f]),
            ("1.28", vec![0x00, 0x80]),
            ("-1.28", vec![0x80]),
            ("-1.29", vec![0xff, 0x7f]),
            ("-0.01", vec![0xff]),
        ] {
            let v = d(text);
            assert_eq!(v.to_be_bytes(), bytes, "{text}");
            assert_eq!(Decimal::from_be_bytes(&bytes, 2).unwrap(), v, "{text}");
        }
        let big = d("-12345678901234567890123456789012345678");
        assert_eq!(Decimal::from_be_bytes(&big.to_be_bytes(), 0).unwrap(), big);
    }

    #[test]
    fn serializes_as_its_text() {
        let v = d("-12.340");
        let json = serde_json::to_string(&v).unwrap();
        assert_eq!(json, "\"-12.340\"");
        let back: Decimal = serde_json::from_str(&json).unwrap();
        assert_eq!(back.to_string(), "-12.340");
    }
}
