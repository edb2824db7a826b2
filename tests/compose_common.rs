#![allow(dead_code)]
//! Helpers for the compose end-to-end tests (included with `#[path]` by each
//! `tests/compose_*.rs`; not a test target itself). They drive the real
//! `deploy` binary against the real Docker Engine and check the result with
//! the `docker` CLI, talking to published ports on 127.0.0.1 only.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::common;

/// True when a Docker Engine answers and the local test images exist (built
/// once per test binary). Without an engine: under CI the test fails; else it
/// prints a notice and the caller returns early.
pub fn docker_ready() -> bool {
    static READY: OnceLock<Result<(), String>> = OnceLock::new();
    let r = READY.get_or_init(|| {
        let v = Command::new("docker").args(["version", "--format", "{{.Server.APIVersion}}"]).output();
        match v {
            Ok(o) if o.status.success() => {}
            Ok(o) => {
                return Err(format!(
                    "the Docker engine does not answer: {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                ));
            }
            Err(e) => return Err(format!("cannot run the docker CLI: {e}")),
        }
        let script = common::root().join("tests/support/redis-image/build.sh");
        let out = Command::new("bash")
            .arg(&script)
            .env("SKIP_SMOKE_TEST", "1")
            .output()
            .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
        if !out.status.success() {
            return Err(format!(
                "{} failed:\n{}{}",
                script.display(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(())
    });
    match r {
        Ok(()) => true,
        Err(e) if common::under_ci() => {
            panic!("CI is set and the Docker test environment is not usable: {e}")
        }
        Err(e) => {
            eprintln!("NOTICE: skipping a Docker end-to-end test: {e} (run tests/support/ensure-docker.sh)");
            false
        }
    }
}

/// Runs the docker CLI.
pub fn docker(args: &[&str]) -> Output {
    Command::new("docker").args(args).output().unwrap_or_else(|e| panic!("cannot run docker: {e}"))
}

/// `docker inspect -f FORMAT NAME`, trimmed; empty when it does not exist.
pub fn inspect(name: &str, format: &str) -> String {
    let o = docker(&["inspect", "-f", format, name]);
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

pub fn exists(kind: &str, name: &str) -> bool {
    docker(&[kind, "inspect", name]).status.success()
}

/// `docker exec CONTAINER redis-cli ARGS...`, output trimmed.
pub fn redis_cli(container: &str, args: &[&str]) -> String {
    let mut a = vec!["exec", container, "redis-cli"];
    a.extend_from_slice(args);
    let o = docker(&a);
    assert!(
        o.status.success(),
        "docker exec {container} redis-cli {args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// Waits until Docker's own health status of `container` is `healthy`.
pub fn wait_docker_healthy(container: &str, within: Duration) {
    let start = Instant::now();
    loop {
        let s = inspect(container, "{{.State.Health.Status}}");
        if s == "healthy" {
            return;
        }
        assert!(start.elapsed() < within, "{container}: Docker health is `{s}` after {within:?}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Sends `PING` to 127.0.0.1:port and returns the first reply line.
pub fn tcp_ping(port: u16) -> std::io::Result<String> {
    let addr = SocketAddrV4::new(Ipv4Addr::LOCALHOST, port);
    let mut s = TcpStream::connect_timeout(&addr.into(), Duration::from_secs(3))?;
    s.set_read_timeout(Some(Duration::from_secs(3)))?;
    s.write_all(b"PING\r\n")?;
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf)?;
    Ok(String::from_utf8_lossy(&buf[..n]).trim().to_string())
}

/// A TCP port that is free on 127.0.0.1 and 0.0.0.0 right now.
pub fn free_port() -> u16 {
    for _ in 0..50 {
        let l = TcpListener::bind((Ipv4Addr::UNSPECIFIED, 0)).unwrap_or_else(|e| panic!("bind: {e}"));
        let port = l.local_addr().map(|a| a.port()).unwrap_or(0);
        drop(l);
        if port >= 20000 && TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return port;
        }
    }
    panic!("no free port found")
}

/// Parses `--output json` stdout.
pub fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}\nstderr:\n{}", common::stdout(o), common::stderr(o)))
}

pub fn show(o: &Output) -> String {
    format!("exit {:?}\n--- stdout\n{}--- stderr\n{}", o.status.code(), common::stdout(o), common::stderr(o))
}

/// A topology under test: its file, profile and directory. Dropping it runs
/// `deploy destroy --volumes`, also when the test failed.
pub struct Project {
    pub dir: PathBuf,
    pub file: PathBuf,
    pub profile: Option<String>,
    pub env: Vec<(String, String)>,
    _tmp: Option<tempfile::TempDir>,
}

impl Project {
    /// A topology file written into a fresh temporary directory.
    pub fn from_yaml(yaml: &str) -> Project {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let file = tmp.path().join("deploy.yaml");
        std::fs::write(&file, yaml).unwrap_or_else(|e| panic!("write: {e}"));
        let p = Project { dir: tmp.path().to_path_buf(), file, profile: None, env: Vec::new(), _tmp: Some(tmp) };
        p.destroy();
        p
    }

    /// The repository's own seed manifest with a profile.
    pub fn seed(profile: &str) -> Project {
        let root = common::root();
        let p = Project {
            dir: root.clone(),
            file: root.join("manifests/learn-greek.yaml"),
            profile: Some(profile.to_string()),
            env: Vec::new(),
            _tmp: None,
        };
        p.destroy();
        p
    }

    /// Replaces the topology file (a config change).
    pub fn rewrite(&self, yaml: &str) {
        std::fs::write(&self.file, yaml).unwrap_or_else(|e| panic!("write: {e}"));
    }

    fn args<'a>(&'a self, cmd: &'a str, extra: &'a [&'a str]) -> Vec<String> {
        let mut a = vec![cmd.to_string(), "-f".into(), self.file.display().to_string()];
        if let Some(p) = &self.profile {
            a.push("-p".into());
            a.push(p.clone());
        }
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    }

    /// Runs `deploy CMD -f FILE [-p PROFILE] EXTRA...`.
    pub fn run(&self, cmd: &str, extra: &[&str]) -> Output {
        self.run_env(cmd, extra, &[])
    }

    pub fn run_env(&self, cmd: &str, extra: &[&str], env: &[(&str, &str)]) -> Output {
        let args = self.args(cmd, extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut all: Vec<(&str, &str)> = self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        all.extend_from_slice(env);
        common::deploy_in(&self.dir, &args, &all)
    }

    /// Spawns `deploy CMD ...` without waiting.
    pub fn spawn(&self, cmd: &str, extra: &[&str]) -> std::process::Child {
        let mut c = Command::new(common::deploy_bin());
        c.args(self.args(cmd, extra)).current_dir(&self.dir);
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
        c.spawn().unwrap_or_else(|e| panic!("cannot spawn deploy: {e}"))
    }

    /// `deploy apply ...`, asserting success; returns the JSON report.
    pub fn apply_ok(&self, extra: &[&str]) -> serde_json::Value {
        let mut a = vec!["--output", "json"];
        a.extend_from_slice(extra);
        let o = self.run("apply", &a);
        assert_eq!(o.status.code(), Some(0), "apply failed:\n{}", show(&o));
        let j = json(&o);
        assert_eq!(j["ok"], true, "{}", show(&o));
        j
    }

    pub fn destroy(&self) {
        let _ = self.run("destroy", &["--volumes"]);
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        self.destroy();
    }
}

/// The result of one service in an apply JSON report.
pub fn service<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["services"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["service"] == name))
        .unwrap_or_else(|| panic!("no service `{name}` in report: {report}"))
}

/// Docker timestamps (RFC 3339 with nanoseconds) as seconds since the epoch.
pub fn docker_time(ts: &str) -> f64 {
    // 2024-05-01T12:34:56.123456789Z
    let ts = ts.trim();
    let (date, time) = ts.split_once('T').unwrap_or_else(|| panic!("bad timestamp {ts}"));
    let time = time.trim_end_matches('Z');
    let d: Vec<i64> = date.split('-').map(|x| x.parse().unwrap_or(0)).collect();
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let t: Vec<i64> = hms.split(':').map(|x| x.parse().unwrap_or(0)).collect();
    // Days from civil (Howard Hinnant's algorithm).
    let (y, m, day) = (d[0], d[1], d[2]);
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    let secs = days * 86400 + t[0] * 3600 + t[1] * 60 + t[2];
    secs as f64 + format!("0.{frac}").parse::<f64>().unwrap_or(0.0)
}

pub fn path_str(p: &Path) -> String {
    p.display().to_string()
}

/// The stand-in Redis service of the seed, under another project name and
/// with a host port, as topology YAML.
pub fn redis_topology(project: &str, host_port: u16, extra_command: &str) -> String {
    format!(
        r#"name: {project}
services:
  redis:
    image: redis:7-alpine
    command: redis-server --appendonly yes --maxmemory 128mb --maxmemory-policy allkeys-lru{extra_command}
    ports: ["127.0.0.1:{host_port}:6379"]
    volumes:
      - redis_data:/data
    networks: [net]
    healthcheck:
      command: [redis-cli, ping]
      interval: 10s
      timeout: 5s
      retries: 3
      start_period: 5s
networks:
  net: {{}}
volumes:
  redis_data: {{}}
"#
    )
}
