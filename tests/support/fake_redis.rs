//! A canned `redis-cli` for the Kubernetes API double's `pods/exec` (no
//! container runs there): it answers `ping`, `CONFIG GET` from the
//! `redis-server` arguments deploy rendered into the workload, and
//! `SET`/`GET`/`DEL`, its data kept per pod name (a claim: it survives a new
//! pod) or per pod uid (an emptyDir: lost with the pod). Included with
//! `#[path]` by the tests that need it.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use kube_double::{ExecReply, ExecRequest, KubeDouble};

/// Where the fake keeps what `SET` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keep {
    /// On the pod's claim: a new pod of the same name reads it back.
    PerPodName,
    /// In the pod: lost when the pod is deleted.
    PerPodUid,
}

/// Redis's memory units (`1mb` is 1024², `1m` is 10⁶), as `CONFIG GET` prints them.
fn bytes(v: &str) -> String {
    let v = v.to_ascii_lowercase();
    let units =
        [("gb", 1u64 << 30), ("mb", 1 << 20), ("kb", 1 << 10), ("g", 1_000_000_000), ("m", 1_000_000), ("k", 1_000)];
    for (u, n) in units {
        if let Some(num) = v.strip_suffix(u).and_then(|x| x.parse::<u64>().ok()) {
            return (num * n).to_string();
        }
    }
    v
}

/// The configuration `redis-server --key value ...` starts with (Redis's defaults otherwise).
pub fn config(args: &[String]) -> HashMap<String, String> {
    let mut c: HashMap<String, String> = [("maxmemory", "0"), ("maxmemory-policy", "noeviction"), ("appendonly", "no")]
        .map(|(k, v)| (k.into(), v.into()))
        .into();
    let mut it = args.iter().skip_while(|a| !a.starts_with("--"));
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        let k = k.trim_start_matches("--").to_string();
        let v = if k == "maxmemory" { bytes(v) } else { v.clone() };
        c.insert(k, v);
    }
    c
}

/// The container args of the StatefulSet or Deployment `name` in `ns`.
pub fn workload_args(d: &KubeDouble, ns: &str, name: &str) -> Vec<String> {
    let w = d.get("StatefulSet", Some(ns), name).or_else(|| d.get("Deployment", Some(ns), name));
    let w = w.unwrap_or_else(|| panic!("no workload {ns}/{name}"));
    let c = &w["spec"]["template"]["spec"]["containers"][0];
    let all = c["command"].as_array().into_iter().flatten().chain(c["args"].as_array().into_iter().flatten());
    all.filter_map(|a| a.as_str().map(String::from)).collect()
}

/// Makes the double answer `redis-cli` as a Redis started with `args` would.
/// Returns what was stored, by key.
pub fn install(d: &KubeDouble, args: &[String], keep: Keep) -> Arc<Mutex<HashMap<String, String>>> {
    let conf = config(args);
    let data: Arc<Mutex<HashMap<String, String>>> = Arc::default();
    let stored = data.clone();
    d.set_exec(move |r: &ExecRequest| {
        let a: Vec<&str> = r.command.iter().map(String::as_str).collect();
        let place = if keep == Keep::PerPodName { &r.pod } else { &r.pod_uid };
        let key = |k: &str| format!("{place}/{k}");
        let mut data = data.lock().unwrap_or_else(|e| e.into_inner());
        Some(match a.as_slice() {
            ["redis-cli", "ping"] => ExecReply::ok("PONG\n"),
            ["redis-cli", "CONFIG", "GET", k] => match conf.get(*k) {
                Some(v) => ExecReply::ok(format!("{k}\n{v}\n")),
                None => ExecReply::ok(""),
            },
            ["redis-cli", "SET", k, v] => {
                data.insert(key(k), (*v).to_string());
                ExecReply::ok("OK\n")
            }
            ["redis-cli", "GET", k] => ExecReply::ok(format!("{}\n", data.get(&key(k)).cloned().unwrap_or_default())),
            ["redis-cli", "DEL", k] => ExecReply::ok(format!("{}\n", u8::from(data.remove(&key(k)).is_some()))),
            ["redis-cli", ..] => ExecReply::exit(1, "", "(error) ERR unknown command\n"),
            _ => return None,
        })
    });
    stored
}
