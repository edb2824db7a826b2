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
