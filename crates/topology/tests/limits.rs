//! Every limit on untrusted input gives a clear error (file, line and column
//! where there is one, the limit and how to stay under it), never a crash or a hang.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use deploy_topology::limits::{MAX_FILE_BYTES, MAX_INTERPOLATION_DEPTH, MAX_YAML_DEPTH, MAX_YAML_SCALAR_BYTES};
use deploy_topology::{Diagnostic, Env, SourceFile, from_str, load, parse};

/// Runs `f` on a thread with a stack of `kib` KiB: a test passing there proves
/// the input is refused before recursion gets anywhere near that deep.
fn with_stack<T: Send + 'static>(kib: usize, f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(kib * 1024)
        .spawn(f)
        .unwrap_or_else(|e| panic!("spawn: {e}"))
        .join()
        .unwrap_or_else(|_| panic!("the thread panicked"))
}

/// The one error parsing `text` (as `t.yaml`) gives.
fn parse_error(text: String) -> Diagnostic {
    let file = Arc::new(SourceFile { path: "t.yaml".into(), text });
    let mut e = match parse(&file) {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.0,
    };
    assert_eq!(e.len(), 1, "{e:?}");
    e.remove(0)
}

fn assert_loc(d: &Diagnostic, line: u32, col: u32) {
    let loc = d.loc.as_ref().unwrap_or_else(|| panic!("no location in {d:?}"));
    assert_eq!(loc.file.path.to_str(), Some("t.yaml"), "{d}");
    assert_eq!((loc.line, loc.col), (line, col), "{d}");
}

fn assert_help_names_the_limits(d: &Diagnostic) {
    let help = d.help.as_deref().unwrap_or("");
    assert!(help.contains("Limits") && help.contains("docs/mapping.md"), "help {help:?}");
}

/// The topology of `benches/render.rs`: `n` services like the seed's Redis.
fn generated(n: usize) -> String {
    let mut y = String::from("name: big\nvariables:\n  API_KEY: {secret: true}\nservices:\n");
    for i in 0..n {
        let _ = write!(
            y,
            "  svc-{i}:\n    image: registry.example/svc-{i}:${{TAG:-1.0.0}}\n    command: server --port 80{i:03} --name svc-{i}\n    environment:\n      MODE: production\n      API_KEY: ${{API_KEY:-k}}\n      PEER: svc-{}\n    ports: [\"{}:80\"]\n    volumes: [\"data-{i}:/data\"]\n    networks: [front, back]\n    healthcheck:\n      command: [check, --quick]\n      interval: 10s\n      timeout: 5s\n      retries: 3\n      start_period: 5s\n    resources:\n      limits: {{cpus: 0.25, memory: 256M}}\n      reservations: {{cpus: 0.1, memory: 64M}}\n    restart: unless-stopped\n",
            (i + 1) % n,
            10000 + i
        );
        if i > 0 {
            let _ = write!(y, "    depends_on:\n      svc-{}:\n        condition: service_healthy\n", i - 1);
        }
    }
    y.push_str("networks:\n  front: {}\n  back: {}\nvolumes:\n");
    for i in 0..n {
        let _ = writeln!(y, "  data-{i}: {{size: 2Gi}}");
    }
    y
}

#[test]
fn yaml_limits_admit_ten_times_the_benchmark_topology() {
    // 10,000 services, 6.3 MB: 640,000 nodes, 770,000 events, 4.2 MB of scalar text.
    let text = generated(10_000);
    assert!(text.len() as u64 <= MAX_FILE_BYTES);
    let file = Arc::new(SourceFile { path: "big.yaml".into(), text });
    let raw = parse(&file).unwrap_or_else(|e| panic!("{}", e.render()));
    assert_eq!(raw.services.len(), 10_000);
}

#[test]
fn one_anchor_merged_into_many_services_still_parses() {
    // serde-saphyr's default alias/anchor ratio heuristic would refuse this common pattern.
    let mut y =
        String::from("name: demo\nx-defaults: &defaults\n  restart: unless-stopped\n  image: img:1\nservices:\n");
    for i in 0..500 {
        let _ = write!(y, "  s{i}:\n    <<: *defaults\n");
    }
    let t = from_str("t.yaml", &y, None).unwrap_or_else(|e| panic!("{}", e.render()));
    assert_eq!(t.services.len(), 500);
}

/// Anchors `l0`..`l{levels-1}`, each ten aliases of the one before: `l{k}` is 10^(k+1) `lol`s.
fn laughs(levels: usize) -> String {
    let mut y = String::from("name: demo\nx-l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..levels {
        let _ = writeln!(y, "x-l{i}: &l{i} [{}]", vec![format!("*l{}", i - 1); 10].join(", "));
    }
    y
}

#[test]
fn billion_laughs_alias_bomb_is_refused_quickly() {
    // The classic: 10^9 `lol`s. Refused while recording the anchors, at `l5`
    // (10^6 `lol`s), before anything is expanded into the topology.
    let classic = laughs(9) + "services:\n  web:\n    image: nginx\n    command: *l8\n";
    // Small anchors (`l4` is 10^5 `lol`s) used ten times: refused while replaying them.
    let wide = laughs(5) + &format!("services:\n  web:\n    image: nginx\n    command: [{}]\n", ["*l4"; 10].join(", "));
    let cases = [
        (classic, "YAML anchors record more than 1000000 parser events", 7, 47, "x-l5"),
        (wide, "YAML aliases expand to more than 1000000 parser events", 10, 50, "services.web.command"),
    ];
    for (text, message, line, col, field) in cases {
        // Stops after a million events (seconds in a debug build); unlimited, the
        // classic bomb would build 10^9 strings and exhaust memory.
        let d = with_stack(1024, move || parse_error(text));
        assert!(d.message.starts_with(message) && d.message.contains("an alias bomb?"), "{d}");
        assert_loc(&d, line, col);
        assert_eq!(d.field.as_deref(), Some(field), "{d}");
        assert_help_names_the_limits(&d);
    }
}

#[test]
fn ten_thousand_deep_yaml_nesting_is_refused() {
    let n = 10_000;
    let depth = MAX_YAML_DEPTH as u32;
    let cases = [
        // flow sequences: refused at the 65th `[`
        (format!("name: demo\nx-deep: {}{}\n", "[".repeat(n), "]".repeat(n)), 2, 9 + depth),
        // flow mappings: at the 64th `{` (where the scanner reports the 65th level)
        (format!("name: demo\nx-deep: {}x{}\n", "{a: ".repeat(n), "}".repeat(n)), 2, 9 + 4 * (depth - 1)),
        // block sequences: at the 64th `-` (where the parser reports the 65th level)
        (format!("name: demo\nx-deep:\n  {}x\n", "- ".repeat(n)), 3, 3 + 2 * (depth - 1)),
    ];
    for (text, line, col) in cases {
        // serde's descent into the 64 levels allowed takes about 1.7 MiB of stack in a
        // debug build (27 KiB a level); 10,000 levels would take 270 MB.
        let d = with_stack(4096, move || parse_error(text));
        assert_eq!(d.message, "YAML nesting is deeper than 64 levels (the limit)", "{d}");
        assert_loc(&d, line, col);
        // The field is the exact path down to the level refused (`x-deep.a.a…` or `x-deep`
        // when the levels are sequences, which have no keys).
        assert!(d.field.as_deref().is_some_and(|f| f == "x-deep" || f.starts_with("x-deep.a.a")), "{d}");
        assert_help_names_the_limits(&d);
    }
}

#[test]
fn oversized_scalar_is_refused() {
    let big = "x".repeat(MAX_YAML_SCALAR_BYTES + 1);
    let d = parse_error(format!("name: demo\nservices:\n  web:\n    image: nginx\n    command: \"{big}\"\n"));
    assert!(d.message.contains("text values add up to more than 8 MiB (the limit on scalar text"), "{d}");
    assert_loc(&d, 5, 14);
    assert_eq!(d.field.as_deref(), Some("services.web.command"));
    assert_help_names_the_limits(&d);
}

/// A path in a fresh temporary directory for this test.
fn temp_path(test: &str, name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("deploy-topology-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    dir.join(name)
}

#[test]
fn file_over_the_size_limit_is_refused_before_reading() {
    // Sparse: 1 GiB on paper, nothing on disk; reading it would take seconds and a GiB.
    let path = temp_path("size", "deploy.yaml");
    let f = std::fs::File::create(&path).unwrap_or_else(|e| panic!("{e}"));
    f.set_len(1024 * 1024 * 1024).unwrap_or_else(|e| panic!("{e}"));
    let e = load(&path, None).err().unwrap_or_else(|| panic!("expected an error"));
    let d = &e.0[0];
    // The exact size: refused on the metadata, before reading (a bounded read would say "more than").
    let want = format!("topology file `{}` is 1024 MiB, over the limit of 16 MiB for input files", path.display());
    assert_eq!(d.message, want);
    assert!(d.help.as_deref().unwrap_or("").contains("keep topology files under 16 MiB"), "{d:?}");
    // One byte over is over; a valid file of exactly the limit loads.
    f.set_len(MAX_FILE_BYTES + 1).unwrap_or_else(|e| panic!("{e}"));
    let e = load(&path, None).err().unwrap_or_else(|| panic!("expected an error"));
    assert!(e.0[0].message.contains("is 16777217 bytes (16.0 MiB), over the limit of 16 MiB"), "{}", e.0[0]);
    let mut text = String::from("name: demo\nservices:\n  web:\n    image: nginx\n#");
    text.push_str(&"x".repeat(MAX_FILE_BYTES as usize - text.len() - 1));
    text.push('\n');
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
    let t = load(&path, None).unwrap_or_else(|e| panic!("{}", e.render()));
    assert_eq!(t.services.len(), 1);
    let _ = std::fs::remove_dir_all(path.parent().unwrap_or(&path));
}

#[test]
fn an_env_file_over_the_size_limit_is_refused_too() {
    let path = temp_path("env", "big.env");
    let f = std::fs::File::create(&path).unwrap_or_else(|e| panic!("{e}"));
    f.set_len(MAX_FILE_BYTES * 2).unwrap_or_else(|e| panic!("{e}"));
    let e = Env::load(std::path::Path::new("."), Some(&path)).err().unwrap_or_else(|| panic!("expected an error"));
    assert!(e.0[0].message.starts_with("env file `"), "{}", e.0[0]);
    assert!(e.0[0].message.ends_with("is 32 MiB, over the limit of 16 MiB for input files"), "{}", e.0[0]);
    let _ = std::fs::remove_dir_all(path.parent().unwrap_or(&path));
}

#[cfg(target_os = "linux")]
#[test]
fn a_device_of_unknown_size_is_cut_off_at_the_limit() {
    // /dev/zero has no size in its metadata and never ends: the bounded read stops it.
    let e = load(std::path::Path::new("/dev/zero"), None).err().unwrap_or_else(|| panic!("expected an error"));
    assert_eq!(
        e.0[0].message,
        "topology file `/dev/zero` is more than 16 MiB, over the limit of 16 MiB for input files"
    );
}

/// `${V0:-${V1:-...${Vn-1}...}}`: `n` levels deep.
fn nested(n: usize) -> String {
    let mut s = String::new();
    for i in 0..n - 1 {
        let _ = write!(s, "${{V{i}:-");
    }
    let _ = write!(s, "${{V{}}}", n - 1);
    s.push_str(&"}".repeat(n - 1));
    s
}

#[test]
fn ten_thousand_deep_interpolation_is_a_located_error() {
    let yaml = format!("name: demo\nservices:\n  web:\n    image: \"nginx:{}\"\n", nested(10_000));
    // 512 KiB: a debug build needs about 260 KiB to load a one-service topology at all (the parser's
    // frames, the service visitor's ~80 fields); 10,000 levels of unbounded recursion would need megabytes.
    let errors = with_stack(512, move || match from_str("t.yaml", &yaml, None) {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.0,
    });
    assert_eq!(errors.len(), 1, "{errors:?}");
    let d = &errors[0];
    assert_loc(d, 4, 12);
    assert_eq!(d.field.as_deref(), Some("services.web.image"));
    assert_eq!(d.message, "interpolation nests `${...}` 10000 deep, over the limit of 32");
    assert!(d.help.as_deref().unwrap_or("").contains("nest at most 32 `${...}`"), "{d:?}");
}

#[test]
fn interpolation_up_to_the_limit_still_resolves() {
    let yaml = format!("name: demo\nservices:\n  web:\n    image: \"nginx:{}\"\n", nested(MAX_INTERPOLATION_DEPTH));
    let t = from_str("t.yaml", &yaml, None).unwrap_or_else(|e| panic!("{}", e.render()));
    let env = Env::from_pairs([(format!("V{}", MAX_INTERPOLATION_DEPTH - 1), "1.27")]);
    assert_eq!(t.services["web"].image.resolve(&env).unwrap_or_else(|e| panic!("{e}")), "nginx:1.27");
    let over = format!("name: demo\nservices:\n  web:\n    image: \"{}\"\n", nested(MAX_INTERPOLATION_DEPTH + 1));
    let e = from_str("t.yaml", &over, None).err().unwrap_or_else(|| panic!("expected an error"));
    assert_eq!(e.0[0].message, "interpolation nests `${...}` 33 deep, over the limit of 32");
}
