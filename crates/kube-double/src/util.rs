//! Small helpers: timestamps, ids, hashes and JSON path manipulation.

use serde_json::{Map, Value};
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// RFC 3339 timestamp with second precision in UTC (`2024-01-02T03:04:05Z`), like the apiserver.
pub fn now_rfc3339() -> String {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    rfc3339(secs)
}

fn rfc3339(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days as i64);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, (rem % 3600) / 60, rem % 60)
}

/// Howard Hinnant's days-to-civil algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Seconds since the epoch of an RFC 3339 timestamp (`2024-01-02T03:04:05Z`; fractional seconds
/// and `+hh:mm` offsets accepted).
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let seps = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    if s.len() < 20 || !seps.iter().all(|&(i, c)| s.as_bytes().get(i) == Some(&c)) {
        return None;
    }
    let zone = s[19..].trim_start_matches(|c: char| c == '.' || c.is_ascii_digit());
    let offset = match zone {
        "Z" | "z" => 0,
        z if z.len() == 6 && (z.starts_with('+') || z.starts_with('-')) => {
            let mins = z.get(1..3)?.parse::<i64>().ok()? * 60 + z.get(4..6)?.parse::<i64>().ok()?;
            if z.starts_with('-') { -mins * 60 } else { mins * 60 }
        }
        _ => return None,
    };
    Some(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec - offset)
}

/// Howard Hinnant's civil-to-days algorithm (inverse of [`civil_from_days`]).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Seconds since the epoch, now.
pub fn now_secs() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// apimachinery's `duration.HumanDuration` (`45s`, `3m20s`, `17m`, `5h3m`, `2d4h`, `3y12d`), as
/// in the AGE columns of kubectl.
pub fn human_duration(secs: i64) -> String {
    if secs < -1 {
        return "<invalid>".to_owned();
    }
    let secs = secs.max(0);
    let (minutes, hours, days) = (secs / 60, secs / 3600, secs / 86_400);
    let pair = |a: i64, ua: &str, b: i64, ub: &str| if b == 0 { format!("{a}{ua}") } else { format!("{a}{ua}{b}{ub}") };
    match () {
        () if secs < 120 => format!("{secs}s"),
        () if minutes < 10 => pair(minutes, "m", secs % 60, "s"),
        () if minutes < 180 => format!("{minutes}m"),
        () if hours < 8 => pair(hours, "h", minutes % 60, "m"),
        () if hours < 48 => format!("{hours}h"),
        () if hours < 24 * 8 => pair(days, "d", hours % 24, "h"),
        () if hours < 24 * 365 * 2 => format!("{days}d"),
        () if hours < 24 * 365 * 8 => pair(days / 365, "y", days % 365, "d"),
        () => format!("{}y", days / 365),
    }
}

static COUNTER: AtomicU64 = AtomicU64::new(1);

/// A pseudo-random 64-bit number (not cryptographic; only needs to differ between calls).
pub fn random_u64() -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u128(SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
    h.finish()
}

/// A UUID-v4-shaped string.
pub fn uid() -> String {
    let a = random_u64();
    let b = random_u64();
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        ((b >> 48) & 0x3fff) | 0x8000,
        b & 0xffff_ffff_ffff
    )
}

/// `n` random lowercase alphanumerics from the alphabet the apiserver uses for `generateName`
/// (no vowels, no easily-confused characters).
pub fn random_suffix(n: usize) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut out = String::with_capacity(n);
    let mut r = random_u64();
    for _ in 0..n {
        out.push(ALPHABET[(r % ALPHABET.len() as u64) as usize] as char);
        r /= ALPHABET.len() as u64;
        if r == 0 {
            r = random_u64();
        }
    }
    out
}

/// Stable FNV-1a hash of a JSON value's canonical serialization (serde_json maps are sorted).
pub fn stable_hash(v: &Value) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in v.to_string().bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// A short hash string in the style of the `pod-template-hash` / `controller-revision-hash` labels.
pub fn short_hash(v: &Value, len: usize) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut h = stable_hash(v);
    let mut s = String::with_capacity(len);
    for _ in 0..len {
        s.push(ALPHABET[(h % ALPHABET.len() as u64) as usize] as char);
        h /= ALPHABET.len() as u64;
    }
    s
}

/// A JSON path made of object keys.
pub type Path = Vec<String>;

pub fn get_path<'a>(v: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(v, |cur, k| cur.as_object()?.get(k))
}

/// Sets `path` to `val`, creating (or replacing non-object) intermediate maps.
pub fn set_path(v: &mut Value, path: &[String], val: Value) {
    let Some((last, parents)) = path.split_last() else {
        *v = val;
        return;
    };
    let mut cur = v;
    for k in parents {
        if !cur.is_object() {
            *cur = Value::Object(Map::new());
        }
        let Value::Object(m) = cur else { return };
        cur = m.entry(k.clone()).or_insert_with(|| Value::Object(Map::new()));
    }
    if !cur.is_object() {
        *cur = Value::Object(Map::new());
    }
    if let Value::Object(m) = cur {
        m.insert(last.clone(), val);
    }
}

/// Removes `path`; then removes ancestors that became empty maps (except the root).
pub fn remove_path(v: &mut Value, path: &[String]) {
    fn rec(cur: &mut Value, path: &[String]) -> bool {
        let Some(m) = cur.as_object_mut() else { return false };
        match path {
            [] => false,
            [k] => {
                m.remove(k);
                m.is_empty()
            }
            [k, rest @ ..] => {
                let empty = m.get_mut(k).is_some_and(|c| rec(c, rest));
                if empty {
                    m.remove(k);
                }
                m.is_empty()
            }
        }
    }
    rec(v, path);
}

#[cfg(test)]
pub fn path_of(segments: &[&str]) -> Path {
    segments.iter().map(|s| (*s).to_owned()).collect()
}

/// `.spec.replicas` style rendering used in conflict messages.
pub fn render_path(path: &[String]) -> String {
    path.iter().map(|p| format!(".{p}")).collect()
}

/// RFC 7386 JSON merge patch.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(t) = target {
        for (k, v) in p {
            if v.is_null() {
                t.remove(k);
            } else {
                merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn formats_epoch() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn parses_timestamps() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("2023-11-14T22:13:20Z"), Some(1_700_000_000));
        assert_eq!(parse_rfc3339("2023-11-14T22:13:20.123456Z"), Some(1_700_000_000));
        assert_eq!(parse_rfc3339("2023-11-14T23:13:20+01:00"), Some(1_700_000_000));
        assert_eq!(
            parse_rfc3339("2024-02-29T00:00:00Z").map(|s| rfc3339(s as u64)).as_deref(),
            Some("2024-02-29T00:00:00Z")
        );
        assert_eq!(parse_rfc3339("yesterday"), None);
        assert_eq!(parse_rfc3339("2023-11-14 22:13:20Z"), None);
    }

    #[test]
    fn human_durations() {
        let cases = [
            (-5, "<invalid>"),
            (-1, "0s"),
            (45, "45s"),
            (119, "119s"),
            (200, "3m20s"),
            (240, "4m"),
            (17 * 60 + 5, "17m"),
            (5 * 3600 + 3 * 60, "5h3m"),
            (20 * 3600, "20h"),
            (2 * 86_400 + 4 * 3600, "2d4h"),
            (30 * 86_400, "30d"),
            (3 * 365 * 86_400 + 12 * 86_400, "3y12d"),
            (9 * 365 * 86_400, "9y"),
        ];
        for (secs, want) in cases {
            assert_eq!(human_duration(secs), want, "{secs}");
        }
    }

    #[test]
    fn set_and_remove_paths() {
        let mut v = json!({});
        set_path(&mut v, &path_of(&["a", "b", "c"]), json!(1));
        set_path(&mut v, &path_of(&["a", "d"]), json!(2));
        assert_eq!(v, json!({"a": {"b": {"c": 1}, "d": 2}}));
        remove_path(&mut v, &path_of(&["a", "b", "c"]));
        assert_eq!(v, json!({"a": {"d": 2}}));
        remove_path(&mut v, &path_of(&["a", "d"]));
        assert_eq!(v, json!({}));
    }

    #[test]
    fn uid_shape() {
        let u = uid();
        assert_eq!(u.len(), 36);
        assert_ne!(u, uid());
        assert_eq!(random_suffix(5).len(), 5);
    }
}
