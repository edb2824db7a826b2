//! The JSON Schema editors read (`deploy schema`, docs/deploy.schema.json):
//! an `$id`, a description on every field, the closed vocabularies as enums
//! (so an editor offers the values), and patterns for names and units.

use serde_json::Value;

fn schema() -> Value {
    serde_json::from_str(&deploy_topology::json_schema()).unwrap_or_else(|e| panic!("schema is not JSON: {e}"))
}

fn def<'a>(s: &'a Value, name: &str) -> &'a Value {
    s["$defs"].get(name).unwrap_or_else(|| panic!("no $defs.{name}"))
}

#[test]
fn the_schema_has_an_id_and_a_description_for_every_field() {
    let s = schema();
    assert_eq!(s["$id"], deploy_topology::SCHEMA_ID);
    assert!(s["$schema"].as_str().is_some_and(|v| v.contains("json-schema.org")), "{}", s["$schema"]);
    let mut missing = Vec::new();
    let mut check = |owner: &str, node: &Value| {
        for (k, v) in node["properties"].as_object().into_iter().flatten() {
            if v.get("description").and_then(Value::as_str).is_none_or(str::is_empty) {
                missing.push(format!("{owner}.{k}"));
            }
        }
    };
    check("(top level)", &s);
    for (name, d) in s["$defs"].as_object().into_iter().flatten() {
        check(name, d);
    }
    assert!(missing.is_empty(), "fields without a description (a doc comment in raw.rs): {missing:?}");
}

/// The values an editor offers: each closed vocabulary is an `enum`.
fn offered(v: &Value) -> Vec<String> {
    let mut out: Vec<String> =
        v["enum"].as_array().into_iter().flatten().filter_map(|x| x.as_str().map(String::from)).collect();
    for alt in v["anyOf"].as_array().into_iter().flatten() {
        out.extend(offered(alt));
    }
    out
}

#[test]
fn closed_vocabularies_are_enums() {
    let s = schema();
    let service = &def(&s, "RawService")["properties"];
    assert_eq!(offered(&service["kind"]), ["stateful", "stateless", "job"]);
    assert_eq!(offered(&service["restart"]), ["no", "always", "on-failure", "unless-stopped"]);
    let restart_n = service["restart"]["anyOf"][1]["pattern"].as_str().unwrap_or_default();
    assert_eq!(restart_n, "^on-failure:[0-9]+$");
    let cond = &def(&s, "RawDependency")["properties"]["condition"];
    assert_eq!(offered(cond), ["service_started", "service_healthy", "service_completed_successfully"]);
    assert_eq!(offered(&def(&s, "RawPortLong")["properties"]["protocol"]), ["tcp", "udp"]);
    assert_eq!(offered(&def(&s, "RawMountLong")["properties"]["type"]), ["volume", "bind", "tmpfs"]);
    // The enums are what validation accepts: each offered value passes, a neighbour does not.
    for kind in offered(&service["kind"]) {
        let yaml = format!("services:\n  a:\n    image: a\n    kind: {kind}\n");
        assert!(deploy_topology::from_str("t.yaml", &yaml, None).is_ok(), "kind {kind}");
    }
    for restart in offered(&service["restart"]).into_iter().chain(["on-failure:3".to_string()]) {
        let yaml = format!("services:\n  a:\n    image: a\n    restart: \"{restart}\"\n");
        assert!(deploy_topology::from_str("t.yaml", &yaml, None).is_ok(), "restart {restart}");
    }
    assert!(deploy_topology::from_str("t.yaml", "services:\n  a:\n    image: a\n    kind: daemon\n", None).is_err());
}

#[test]
fn names_and_units_have_patterns() {
    let s = schema();
    let re = |p: &Value| {
        regex::Regex::new(p.as_str().unwrap_or_else(|| panic!("no pattern: {p}"))).unwrap_or_else(|e| panic!("{e}"))
    };
    let name = re(&s["properties"]["name"]["pattern"]);
    assert!(name.is_match("learn-greek") && !name.is_match("Bad_Name"));
    let services = re(&s["properties"]["services"]["propertyNames"]["pattern"]);
    assert!(services.is_match("redis") && !services.is_match("Web_1") && !services.is_match("1web"));
    let size = re(&def(&s, "ByteSize")["pattern"]);
    assert!(size.is_match("256M") && size.is_match("1Gi") && !size.is_match("1.5x"));
    let amount = &def(&s, "RawAmount")["properties"];
    assert!(re(&amount["cpus"]["pattern"]).is_match("0.25") && !re(&amount["cpus"]["pattern"]).is_match("a quarter"));
    let interval = &def(&s, "RawHealth")["properties"]["interval"]["pattern"];
    assert!(re(interval).is_match("1m30s") && !re(interval).is_match("soon"));
}
