//! Retry timing: exponential backoff with seeded jitter, and the server's own hints
//! (`Retry-After`, `X-RateLimit-Reset`).
//!
//! The jitter PRNG is stateless: the n-th draw is SplitMix64 of `seed + n`. Only the seed and the
//! draw count live in the engine state, both far below 2^53, so a snapshot survives a trip through a
//! JavaScript number and a scenario replays identically in every language.

/// First retry delay.
pub const BASE_DELAY_MS: u64 = 5_000;
/// Each further retry waits this much longer (× 1.5, in tenths to stay in integers).
pub const GROWTH_TENTHS: u64 = 15;
/// No computed delay is longer than this (server hints can be).
pub const MAX_DELAY_MS: u64 = 30_000;
/// Server hints shorter than this are raised to it, so a `Retry-After: 0` cannot make a
/// misbehaving server hammer itself.
pub const MIN_HINT_MS: u64 = 1_000;

/// The jittered backoff before retry number `attempt` (1-based), using draw number `draw`.
///
/// `base × 1.5^(attempt-1)`, capped at 30 s, then scaled by a factor in [0.8, 1.2) and capped again.
pub fn delay_ms(attempt: u32, seed: u64, draw: u64) -> u64 {
    let mut delay = BASE_DELAY_MS;
    // The delay reaches the cap after a handful of retries: the loop stops there, so an attempt
    // count from a tampered snapshot cannot make this spin for billions of iterations.
    for _ in 1..attempt.clamp(1, 16) {
        delay = (delay * GROWTH_TENTHS / 10).min(MAX_DELAY_MS);
    }
    let unit = unit_interval(seed, draw);
    let jittered = (delay as f64 * (0.8 + 0.4 * unit)).round() as u64;
    jittered.min(MAX_DELAY_MS)
}

/// How long to wait before retry number `failures`: the server's hint when it gives one (`true`
/// beside it), else the jittered backoff, which takes the next of `draws`.
pub fn retry_delay_ms(
    headers: &[(String, String)],
    failures: u32,
    seed: u64,
    draws: &mut u64,
) -> (u64, bool) {
    match server_hint_ms(headers) {
        Some(ms) => (ms, true),
        None => {
            let ms = delay_ms(failures, seed, *draws);
            *draws = draws.saturating_add(1);
            (ms, false)
        }
    }
}

/// A uniform number in [0, 1) from the `draw`-th output of SplitMix64 seeded with `seed`.
pub fn unit_interval(seed: u64, draw: u64) -> f64 {
    let mut z = seed.wrapping_add(draw.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// The server's hint of when to come back, in ms from now: `Retry-After` (delta-seconds, or an
/// HTTP date compared with the response's own `Date` header), else `X-RateLimit-Reset` (seconds
/// until the limit resets). `None` when there is no usable hint.
pub fn server_hint_ms(headers: &[(String, String)]) -> Option<u64> {
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    };
    if let Some(value) = header("retry-after") {
        if let Some(ms) = parse_seconds(value) {
            return Some(ms.max(MIN_HINT_MS));
        }
        if let (Some(at), Some(date)) = (
            parse_http_date(value),
            header("date").and_then(parse_http_date),
        ) {
            return Some(
                at.saturating_sub(date)
                    .saturating_mul(1000)
                    .max(MIN_HINT_MS),
            );
        }
    }
    header("x-ratelimit-reset")
        .and_then(parse_seconds)
        .map(|ms| ms.max(MIN_HINT_MS))
}

/// Non-negative seconds (integer or decimal) → ms, saturating; anything else is `None`.
fn parse_seconds(value: &str) -> Option<u64> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    let secs: f64 = value.parse().ok()?;
    if !secs.is_finite() {
        return None;
    }
    Some(if secs * 1000.0 >= u64::MAX as f64 {
        u64::MAX
    } else {
        (secs * 1000.0).round() as u64
    })
}

/// An HTTP date → seconds since the Unix epoch, in any of the three forms RFC 9110 (section 5.6.7)
/// tells recipients to accept: IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the obsolete RFC 850
/// form (`Sunday, 06-Nov-94 08:49:37 GMT`) and asctime (`Sun Nov  6 08:49:37 1994`). A date whose
/// weekday does not match it, or that is before 1970 or after 9999, is `None`. Parsing only: no
/// clock is read.
pub fn parse_http_date(value: &str) -> Option<u64> {
    let at = httpdate::parse_http_date(value).ok()?;
    at.duration_since(std::time::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs())
}

/// Unix milliseconds of an RFC 3339 timestamp (`2026-11-22T01:02:03.456Z`, any number of
/// fraction digits, `Z` or a `±HH:MM` offset), as the API writes `started_at` and `finished_at`.
pub fn parse_rfc3339_ms(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = text.get(r)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let rest = &text[19..];
    let (frac_ms, zone) = match rest.strip_prefix('.') {
        Some(r) => {
            let digits = r.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return None;
            }
            let ms: i64 = format!("{:0<3}", &r[..digits.min(3)]).parse().ok()?;
            (ms, &r[digits..])
        }
        None => (0, rest),
    };
    let offset_s = match zone {
        "Z" | "z" => 0,
        _ => {
            let zb = zone.as_bytes();
            if zb.len() != 6 || zb[3] != b':' {
                return None;
            }
            let sign = match zb[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let hh: i64 = zone[1..3].parse().ok()?;
            let mm: i64 = zone[4..6].parse().ok()?;
            if hh > 23 || mm > 59 {
                return None;
            }
            sign * (hh * 3600 + mm * 60)
        }
    };
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s - offset_s;
    u64::try_from(secs * 1000 + frac_ms).ok()
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn backoff_grows_by_half_and_caps_at_30s() {
        let bounds: Vec<(u64, u64)> = (1..=8)
            .map(|attempt| {
                let all: Vec<u64> = (0..200).map(|d| delay_ms(attempt, 42, d)).collect();
                (*all.iter().min().unwrap(), *all.iter().max().unwrap())
            })
            .collect();
        assert!(bounds[0].0 >= 4_000 && bounds[0].1 < 6_000, "{bounds:?}");
        assert!(bounds[1].0 >= 6_000 && bounds[1].1 < 9_000, "{bounds:?}");
        assert!(bounds.iter().all(|(_, max)| *max <= MAX_DELAY_MS));
        assert!(bounds[7].0 >= 24_000);
    }

    #[test]
    fn jitter_is_a_pure_function_of_seed_and_draw() {
        assert_eq!(delay_ms(3, 7, 5), delay_ms(3, 7, 5));
        assert_ne!(unit_interval(7, 5), unit_interval(7, 6));
        assert!((0..1000).all(|d| (0.0..1.0).contains(&unit_interval(99, d))));
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        assert_eq!(server_hint_ms(&h(&[("Retry-After", "12")])), Some(12_000));
        assert_eq!(
            server_hint_ms(&h(&[("retry-after", "0")])),
            Some(MIN_HINT_MS)
        );
        let dated = h(&[
            ("Retry-After", "Sun, 06 Nov 1994 08:50:07 GMT"),
            ("Date", "Sun, 06 Nov 1994 08:49:37 GMT"),
        ]);
        assert_eq!(server_hint_ms(&dated), Some(30_000));
        assert_eq!(
            server_hint_ms(&h(&[("X-RateLimit-Reset", "7")])),
            Some(7_000)
        );
        assert_eq!(server_hint_ms(&h(&[("Retry-After", "soon")])), None);
        assert_eq!(server_hint_ms(&h(&[("Retry-After", "-5")])), None);
        assert_eq!(
            server_hint_ms(&h(&[("Retry-After", "99999999999999999999999")])),
            Some(u64::MAX)
        );
    }

    #[test]
    fn http_date_parses_to_epoch_seconds() {
        assert_eq!(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(
            parse_http_date("Fri, 31 Dec 9999 23:59:59 GMT"),
            Some(253_402_300_799)
        );
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 PST"), None);
    }

    #[test]
    fn http_dates_in_all_three_rfc_9110_forms() {
        const AT: u64 = 784_111_777;
        for form in [
            "Sun, 06 Nov 1994 08:49:37 GMT",  // IMF-fixdate
            "Sunday, 06-Nov-94 08:49:37 GMT", // obsolete RFC 850
            "Sun Nov  6 08:49:37 1994",       // asctime
        ] {
            assert_eq!(parse_http_date(form), Some(AT), "{form}");
        }
        // A Retry-After date in the obsolete forms is measured against a Date in any form.
        let dated = h(&[
            ("Retry-After", "Sunday, 06-Nov-94 08:50:07 GMT"),
            ("Date", "Sun Nov  6 08:49:37 1994"),
        ]);
        assert_eq!(server_hint_ms(&dated), Some(30_000));
    }

    #[test]
    fn garbage_is_not_an_http_date() {
        for garbage in [
            "",
            "soon",
            "Sun, 06 Nov 1994",
            "Sun, 06 Nov 1994 08:49:37",
            "Sun, 32 Nov 1994 08:49:37 GMT",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 25:49:37 GMT",
            "Mon, 06 Nov 1994 08:49:37 GMT", // the weekday does not match the date
            "Thu, 31 Dec 1969 23:59:59 GMT", // before the epoch
            "1994-11-06T08:49:37Z",
            "Sun, 06 Nov 1994 08:49:37 GMT garbage",
        ] {
            assert_eq!(parse_http_date(garbage), None, "{garbage:?}");
        }
        // A date hint without a usable Date header is no hint.
        let undated = h(&[("Retry-After", "Sun, 06 Nov 1994 08:50:07 GMT")]);
        assert_eq!(server_hint_ms(&undated), None);
        let bad_date = h(&[
            ("Retry-After", "Sun, 06 Nov 1994 08:50:07 GMT"),
            ("Date", "yesterday"),
        ]);
        assert_eq!(server_hint_ms(&bad_date), None);
    }

    #[test]
    fn rfc3339_parses_to_epoch_milliseconds() {
        assert_eq!(parse_rfc3339_ms("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339_ms("2024-02-29T12:00:00.25Z"),
            Some(1_709_208_000_250)
        );
        assert_eq!(
            parse_rfc3339_ms("2024-02-29T12:00:00.123456+00:00"),
            Some(1_709_208_000_123)
        );
        assert_eq!(
            parse_rfc3339_ms("2024-02-29T14:00:00+02:00"),
            Some(1_709_208_000_000)
        );
        for bad in [
            "yesterday",
            "2024-02-29 12:00",
            "2024-13-01T00:00:00Z",
            "2024-02-29T12:00:00",
            "2024-02-29T12:00:00.Z",
            "2024-02-29T12:00:00+2:00",
            "+024-02-29T12:00:00Z",
        ] {
            assert_eq!(parse_rfc3339_ms(bad), None, "{bad}");
        }
    }
}
