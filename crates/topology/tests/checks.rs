//! Declared checks: parsed with positions, overlaid by name, validated with
//! located errors, and turned into the argument vectors a backend runs.

use deploy_topology::checks::{self, CheckRun, DEFAULT_PERSISTS_TIMEOUT, DEFAULT_TIMEOUT};
use deploy_topology::{Diagnostic, Env, ProbeTest, Topology, from_str};

fn load(yaml: &str, profile: Option<&str>) -> Topology {
    from_str("t.yaml", yaml, profile.map(|p| ("p.yaml", p))).unwrap_or_else(|e| panic!("{}", e.render()))
}

fn errors(yaml: &str) -> Vec<Diagnostic> {
    match from_str("t.yaml", yaml, None) {
        Ok(_) => panic!("expected errors for:\n{yaml}"),
        Err(e) => e.0,
    }
}

fn one(yaml: &str, line: u32, col: u32, field: &str, msg: &str, help: &str) {
    let e = errors(yaml);
    assert_eq!(e.len(), 1, "expected one error, got {e:#?}");
    let d = &e[0];
    let loc = d.loc.as_ref().unwrap_or_else(|| panic!("no location in {d:?}"));
    assert_eq!((loc.line, loc.col), (line, col), "{d}");
    assert_eq!(d.field.as_deref(), Some(field), "{d}");
    assert!(d.message.contains(msg), "message {:?} lacks {msg:?}", d.message);
    assert!(d.help.as_deref().unwrap_or("").contains(help), "help {:?} lacks {help:?}", d.help);
}

fn argv(t: &ProbeTest) -> Vec<String> {
    checks::argv(t, &Env::default(), Some("V")).unwrap_or_else(|e| panic!("{e:?}"))
}

const BASE: &str = r#"
name: demo
services:
  redis:
    image: redis:7
    checks:
      - name: ping
        command: [redis-cli, ping]
        expect: {equals: PONG}
      - name: maxmemory
        command: [redis-cli, CONFIG, GET, maxmemory]
        expect:
          equals: |-
            maxmemory
            134217728
        timeout: 3s
      - name: data persists
        persists:
          write: [redis-cli, SET, k, "{value}"]
          read: redis-cli GET k
          cleanup: [redis-cli, DEL, k]
"#;

#[test]
fn checks_load_in_order_with_their_defaults() {
    let t = load(BASE, None);
    let c = &t.services["redis"].checks;
    assert_eq!(c.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["ping", "maxmemory", "data persists"]);
    let CheckRun::Command { test, expect } = &c[0].run else { panic!("{:?}", c[0]) };
    assert_eq!(argv(test), ["redis-cli", "ping"]);
    assert_eq!(expect.exit, 0);
    assert_eq!(expect.equals.as_ref().map(|v| v.raw.as_str()), Some("PONG"));
    assert_eq!(c[0].timeout(), DEFAULT_TIMEOUT);
    let CheckRun::Command { expect, .. } = &c[1].run else { panic!() };
    assert_eq!(expect.equals.as_ref().map(|v| v.raw.as_str()), Some("maxmemory\n134217728"));
    assert_eq!(c[1].timeout().as_secs(), 3);
    let CheckRun::Persists(p) = &c[2].run else { panic!("{:?}", c[2]) };
    assert!(p.value.is_none());
    assert_eq!(argv(&p.write), ["redis-cli", "SET", "k", "V"]);
    assert_eq!(argv(&p.read), ["/bin/sh", "-c", "redis-cli GET k"]);
    assert_eq!(p.cleanup.as_ref().map(argv), Some(vec!["redis-cli".into(), "DEL".into(), "k".into()]));
    assert_eq!(c[2].timeout(), DEFAULT_PERSISTS_TIMEOUT);
}

#[test]
fn a_profile_overrides_a_check_by_name_field_by_field_and_adds_new_ones() {
    let profile = r#"
services:
  redis:
    checks:
      - name: maxmemory
        expect: {contains: "268435456"}
      - name: policy
        shell: redis-cli CONFIG GET maxmemory-policy | tail -n 1
        expect: {equals: allkeys-lru}
      - name: ping
        command: [redis-cli, -p, "6380", ping]
"#;
    let t = load(BASE, Some(profile));
    let c = &t.services["redis"].checks;
    let names: Vec<&str> = c.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["ping", "maxmemory", "data persists", "policy"]);
    // `ping`: the command replaced, the expectation kept.
    let CheckRun::Command { test, expect } = &c[0].run else { panic!() };
    assert_eq!(argv(test), ["redis-cli", "-p", "6380", "ping"]);
    assert_eq!(expect.equals.as_ref().map(|v| v.raw.as_str()), Some("PONG"));
    // `maxmemory`: the expectation replaced whole, command and timeout kept.
    let CheckRun::Command { test, expect } = &c[1].run else { panic!() };
    assert_eq!(argv(test), ["redis-cli", "CONFIG", "GET", "maxmemory"]);
    assert!(expect.equals.is_none());
    assert_eq!(expect.contains.as_ref().map(|v| v.raw.as_str()), Some("268435456"));
    assert_eq!(c[1].timeout().as_secs(), 3);
    let CheckRun::Command { test, .. } = &c[3].run else { panic!() };
    assert_eq!(argv(test), ["/bin/sh", "-c", "redis-cli CONFIG GET maxmemory-policy | tail -n 1"]);
}

#[test]
fn expectations_read_numbers_and_yes_as_text_and_interpolate() {
    let t = load(
        "services:\n  r:\n    image: x\n    checks:\n      - name: a\n        command: [x]\n        expect: {equals: 134217728, contains: yes, exit: 3}\n      - name: b\n        shell: echo $$HOME ${WHO}\n        expect: {equals: \"${WHO:-me}\"}\n",
        None,
    );
    let c = &t.services["r"].checks;
    let CheckRun::Command { expect, .. } = &c[0].run else { panic!() };
    assert_eq!(expect.equals.as_ref().map(|v| v.raw.as_str()), Some("134217728"));
    assert_eq!(expect.contains.as_ref().map(|v| v.raw.as_str()), Some("yes"));
    assert_eq!(expect.exit, 3);
    let CheckRun::Command { test, expect } = &c[1].run else { panic!() };
    let env = Env::from_pairs([("WHO", "you")]);
    assert_eq!(checks::argv(test, &env, None).ok(), Some(vec!["/bin/sh".into(), "-c".into(), "echo $HOME you".into()]));
    assert_eq!(expect.equals.as_ref().and_then(|v| v.resolve(&env).ok()).as_deref(), Some("you"));
    // A missing `${VAR:?}` in a check is found before anything runs.
    let t = load(
        "services:\n  r:\n    image: x\n    checks:\n      - name: a\n        command: [x, \"${NEEDED:?set it}\"]\n",
        None,
    );
    let e = t.check_resolvable(&Env::default(), &[]).err().unwrap_or_else(|| panic!("resolvable"));
    assert!(e.0[0].message.contains("NEEDED"), "{:?}", e.0);
}

#[test]
fn invalid_checks_are_located_and_explained() {
    let head = "services:\n  r:\n    image: x\n    checks:\n";
    one(&format!("{head}      - command: [x]\n"), 5, 9, "services.r.checks[0].name", "has no name", "name:");
    one(
        &format!("{head}      - name: a\n        command: [x]\n      - name: a\n        shell: y\n"),
        7,
        15,
        "services.r.checks[1].name",
        "two checks named `a`",
        "own name",
    );
    one(&format!("{head}      - name: a\n"), 5, 9, "services.r.checks.a", "runs nothing", "persists");
    one(
        &format!("{head}      - name: a\n        command: [x]\n        shell: y\n"),
        5,
        9,
        "services.r.checks.a",
        "more than one of",
        "shell:",
    );
    one(
        &format!("{head}      - name: a\n        command: []\n"),
        6,
        18,
        "services.r.checks.a.command",
        "empty",
        "redis-cli",
    );
    one(
        &format!("{head}      - name: a\n        command: [x]\n        expect: {{matches: \"(unclosed\"}}\n"),
        7,
        27,
        "services.r.checks.a.expect.matches",
        "not a valid regular expression",
        "regex",
    );
    one(
        &format!("{head}      - name: a\n        command: [x]\n        expect: {{exit: 300}}\n"),
        7,
        24,
        "services.r.checks.a.expect.exit",
        "out of range",
        "0 to 255",
    );
    one(
        &format!("{head}      - name: a\n        command: [x]\n        timeout: 0s\n"),
        7,
        18,
        "services.r.checks.a.timeout",
        "greater than zero",
        "10s",
    );
}

#[test]
fn invalid_persists_checks_are_located_and_explained() {
    let head = "services:\n  r:\n    image: x\n    checks:\n      - name: p\n";
    one(
        &format!("{head}        persists:\n          write: [set, k, fixed]\n          read: [get, k]\n"),
        7,
        18,
        "services.r.checks.p.persists.write",
        "does not use `{value}`",
        "fixed `value:`",
    );
    one(
        &format!("{head}        persists:\n          write: [set, \"{{value}}\"]\n"),
        5,
        9,
        "services.r.checks.p.persists.read",
        "needs `read`",
        "write",
    );
    one(
        &format!("{head}        persists: {{write: [a, \"{{value}}\"], read: [b]}}\n        expect: {{equals: x}}\n"),
        7,
        26,
        "services.r.checks.p.expect",
        "cannot have `expect`",
        "drop `expect`",
    );
    // A fixed value needs no placeholder.
    let t = load(&format!("{head}        persists: {{value: kept, write: [set, k, kept], read: [get, k]}}\n"), None);
    let CheckRun::Persists(p) = &t.services["r"].checks[0].run else { panic!() };
    assert_eq!(p.value.as_ref().map(|v| v.raw.as_str()), Some("kept"));
}

#[test]
fn a_one_shot_has_nothing_to_check() {
    one(
        "services:\n  m:\n    image: x\n    kind: job\n    checks:\n      - name: a\n        command: [x]\n",
        6,
        9,
        "services.m.checks",
        "no running instance",
        "stays up",
    );
}

#[test]
fn the_schema_documents_checks() {
    let schema = deploy_topology::json_schema();
    for word in ["RawPersists", "RawExpect", "persists", "{value}", "matches", "field by field"] {
        assert!(schema.contains(word), "schema lacks {word}");
    }
}
