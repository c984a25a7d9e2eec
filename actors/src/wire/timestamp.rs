//! Timestamps on the wire: RFC 3339 in UTC exactly as chrono's serde form writes them
//! (`2025-12-30T23:58:50Z`, with 3, 6 or 9 fraction digits only when they are not zero), but
//! written straight into a stack buffer. A page carries a timestamp per row, and chrono's
//! route through `fmt` was the costliest cell of a page's encoding (BENCHMARKS.md).

use chrono::{DateTime, Datelike, Timelike, Utc};
use serde::{Serialize, Serializer};

/// A timestamp serialised as its RFC 3339 string.
pub struct Rfc3339<'a>(pub &'a DateTime<Utc>);

impl Serialize for Rfc3339<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0u8; 30];
        match write(self.0, &mut buf) {
            // Only ASCII digits and separators were written.
            Some(n) => s.serialize_str(std::str::from_utf8(&buf[..n]).unwrap_or_default()),
            // Years outside 0..=9999 and leap seconds: chrono's own (rare, slower) form.
            None => self.0.serialize(s),
        }
    }
}

/// Write `t` into `buf`, returning the length, or `None` when chrono's form needs more than
/// four year digits or a leap second.
fn write(t: &DateTime<Utc>, buf: &mut [u8; 30]) -> Option<usize> {
    let year = t.year();
    let nanos = t.nanosecond();
    if !(0..=9999).contains(&year) || nanos >= 1_000_000_000 {
        return None;
    }
    let mut out = Out { buf, at: 0 };
    out.digits(year as u32, 4);
    out.byte(b'-');
    out.digits(t.month(), 2);
    out.byte(b'-');
    out.digits(t.day(), 2);
    out.byte(b'T');
    out.digits(t.hour(), 2);
    out.byte(b':');
    out.digits(t.minute(), 2);
    out.byte(b':');
    out.digits(t.second(), 2);
    if nanos != 0 {
        out.byte(b'.');
        if nanos.is_multiple_of(1_000_000) {
            out.digits(nanos / 1_000_000, 3);
        } else if nanos.is_multiple_of(1_000) {
            out.digits(nanos / 1_000, 6);
        } else {
            out.digits(nanos, 9);
        }
    }
    out.byte(b'Z');
    Some(out.at)
}

struct Out<'a> {
    buf: &'a mut [u8; 30],
    at: usize,
}

impl Out<'_> {
    fn byte(&mut self, b: u8) {
        self.buf[self.at] = b;
        self.at += 1;
    }

    /// `value` zero-padded to `n` digits.
    fn digits(&mut self, value: u32, n: u32) {
        for i in (0..n).rev() {
            self.byte(b'0' + (value / 10u32.pow(i) % 10) as u8);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn ours(t: &DateTime<Utc>) -> String {
        serde_json::to_string(&Rfc3339(t)).unwrap()
    }

    #[test]
    fn writes_what_chrono_writes_for_whole_and_fractional_seconds() {
        let t = Utc.with_ymd_and_hms(2025, 12, 30, 23, 58, 50).unwrap();
        assert_eq!(ours(&t), r#""2025-12-30T23:58:50Z""#);
        for micros in [0, 120_000, 123_456, 1, 999_999] {
            let t = t + chrono::Duration::microseconds(micros);
            assert_eq!(ours(&t), serde_json::to_string(&t).unwrap(), "{micros} µs");
        }
    }

    #[test]
    fn years_beyond_four_digits_fall_back_to_chrono() {
        let t = Utc.with_ymd_and_hms(12345, 1, 2, 3, 4, 5).unwrap();
        assert_eq!(ours(&t), serde_json::to_string(&t).unwrap());
        let bc = Utc.with_ymd_and_hms(-44, 3, 15, 12, 0, 0).unwrap();
        assert_eq!(ours(&bc), serde_json::to_string(&bc).unwrap());
    }

    proptest! {
        #[test]
        fn agrees_with_chrono_everywhere(secs in -62_000_000_000i64..260_000_000_000, nanos in 0u32..1_000_000_000, round in 0u32..3) {
            // PostgreSQL keeps microseconds; also try whole milliseconds and whole seconds.
            let nanos = match round { 0 => nanos / 1_000 * 1_000, 1 => nanos / 1_000_000 * 1_000_000, _ => nanos };
            let t = DateTime::from_timestamp(secs, nanos).unwrap();
            prop_assert_eq!(ours(&t), serde_json::to_string(&t).unwrap());
        }
    }
}
