use super::*;
use crate::import::read::parse_yaml;

fn doc(text: &str) -> Node {
    parse_yaml(text).unwrap_or_else(|e| panic!("{e}"))
}

fn service<'a>(d: &'a Node, name: &str) -> &'a Map {
    d.as_map()
        .and_then(|m| m.get("services"))
        .and_then(Node::as_map)
        .and_then(|s| s.get(name))
        .and_then(Node::as_map)
        .unwrap_or_else(|| panic!("no service {name}"))
}

fn yaml(text: &str) -> Node {
    doc(text)
}

#[test]
fn extends_merges_as_compose_does() {
    let mut d = doc(r#"
services:
  base:
    image: busybox
    command: ["sleep", "1"]
    environment: ["A=1", "B=2"]
    ports: ["80:80"]
    volumes: ["data:/data", "./conf:/etc/app:ro"]
    healthcheck: {test: ["CMD", "true"], interval: 5s}
    depends_on: [db]
    dns: [1.1.1.1]
  web:
    extends: base
    command: ["sleep", "2"]
    environment: {B: "3", C: "4"}
    ports: ["81:81"]
    volumes: ["other:/data"]
    healthcheck: {test: ["CMD", "false"]}
    depends_on: {cache: {condition: service_healthy}}
    dns: [1.1.1.1, 8.8.8.8]
  db: {image: postgres}
  cache: {image: redis}
"#);
    let r = resolve(&mut d, FsPath::new("compose.yaml"), &[]);
    assert!(r.left_out.is_empty(), "{:?}", r.left_out);
    assert_eq!(r.merged.len(), 1);
    assert_eq!(r.merged[0].path, "services.web.extends");
    let web = service(&d, "web");
    assert!(!web.contains_key("extends"));
    assert_eq!(web["image"], Node::str("busybox"));
    assert_eq!(web["command"], yaml(r#"["sleep", "2"]"#), "replaced");
    assert_eq!(web["environment"], yaml(r#"{A: "1", B: "3", C: "4"}"#), "merged by key");
    assert_eq!(web["ports"], yaml(r#"["80:80", "81:81"]"#), "appended");
    assert_eq!(web["volumes"], yaml(r#"["other:/data", "./conf:/etc/app:ro"]"#), "unique by target");
    assert_eq!(web["healthcheck"], yaml(r#"{test: ["CMD", "false"], interval: 5s}"#), "test replaced, the rest kept");
    assert_eq!(
        web["depends_on"],
        yaml("{db: {condition: service_started}, cache: {condition: service_healthy}}"),
        "merged as mappings"
    );
    assert_eq!(web["dns"], yaml("[1.1.1.1, 8.8.8.8]"), "appended without duplicates");
}

#[test]
fn chains_files_and_mistakes() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("common.yaml"), "services:\n  root:\n    image: alpine\n    labels: [a=1]\n")
        .expect("write");
    let text = r#"
services:
  mid:
    extends: {service: root, file: common.yaml}
    labels: {b: "2"}
  leaf:
    extends: {service: mid}
    user: nobody
  loop1: {extends: loop2, image: x}
  loop2: {extends: loop1, image: y}
  lost: {extends: nowhere, image: z}
"#;
    let mut d = doc(text);
    let r = resolve(&mut d, &dir.path().join("compose.yaml"), &[]);
    let leaf = service(&d, "leaf");
    assert_eq!(leaf["image"], Node::str("alpine"), "through two levels and another file");
    assert_eq!(leaf["labels"], yaml(r#"{a: "1", b: "2"}"#));
    assert_eq!(leaf["user"], Node::str("nobody"));
    let reasons: Vec<String> = r.left_out.iter().map(|n| format!("{}: {}", n.path, n.reason)).collect();
    assert!(
        reasons.iter().any(|x| x.starts_with("services.loop1.extends") && x.contains("loops back")),
        "{reasons:#?}"
    );
    assert!(reasons.iter().any(|x| x.starts_with("services.lost.extends") && x.contains("`nowhere`")), "{reasons:#?}");
    // A service whose extends failed keeps its own fields, without `extends`.
    assert_eq!(service(&d, "lost").get("extends"), None);
    assert_eq!(service(&d, "lost")["image"], Node::str("z"));
}

#[test]
fn services_with_profiles_are_left_out_and_said() {
    let mut d = doc(
        "services:\n  web: {image: a}\n  debug: {image: b, profiles: [debug, tools]}\n  base: {image: c, profiles: []}\n",
    );
    let r = resolve(&mut d, FsPath::new("compose.yaml"), &[]);
    let services = d.as_map().and_then(|m| m.get("services")).and_then(Node::as_map).expect("services");
    assert_eq!(services.keys().collect::<Vec<_>>(), ["web", "base"]);
    assert_eq!(r.left_out.len(), 1);
    assert_eq!(r.left_out[0].path, "services.debug");
    assert!(r.left_out[0].reason.contains("--profile debug` or `--profile tools"), "{}", r.left_out[0].reason);
}

#[test]
fn include_adds_what_the_files_define_and_says_what_it_cannot() {
    let dir = tempfile::tempdir().expect("tempdir");
    let w = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).expect("write");
    w("db.yaml", "include: [cache.yaml]\nservices:\n  db: {image: postgres}\nvolumes:\n  pg: {}\n");
    w("cache.yaml", "services:\n  cache: {image: redis}\n  web: {image: other}\n");
    w("loop.yaml", "include: [loop.yaml]\nservices:\n  x: {image: x}\n");
    let mut d = doc(
        "include:\n  - db.yaml\n  - path: [loop.yaml]\n  - {path: ../elsewhere/c.yaml}\n  - {path: db.yaml, env_file: .env.db}\nservices:\n  web: {image: nginx, depends_on: [db]}\n",
    );
    let r = resolve(&mut d, &dir.path().join("compose.yaml"), &[]);
    let m = d.as_map().expect("map");
    assert!(!m.contains_key("include"));
    let services: Vec<&String> = m["services"].as_map().expect("services").keys().collect();
    assert_eq!(services, ["web", "db", "cache", "x"], "nested includes, each once");
    assert_eq!(service(&d, "web")["image"], Node::str("nginx"), "the file's own service wins");
    assert!(m["volumes"].as_map().is_some_and(|v| v.contains_key("pg")));
    let said: Vec<String> = r.left_out.iter().map(|n| format!("{}: {}", n.path, n.reason)).collect();
    assert!(
        said.iter().any(|x| x.starts_with("services.web: defined here and in the included `db.yaml`")),
        "{said:#?}"
    );
    assert!(
        said.iter().any(|x| x.starts_with("include[0] of loop.yaml") && x.contains("includes itself")),
        "{said:#?}"
    );
    assert!(said.iter().any(|x| x.starts_with("include[2]") && x.contains("another folder")), "{said:#?}");
    assert!(said.iter().any(|x| x.starts_with("include[3]") && x.contains("`env_file`")), "{said:#?}");
    assert!(r.merged.iter().any(|n| n.path == "include[0]"), "{:?}", r.merged);
}

#[test]
fn an_active_profile_keeps_its_services() {
    let mut d = doc(
        "services:\n  web: {image: a}\n  debug: {image: b, profiles: [debug]}\n  tools: {image: c, profiles: [tools]}\n",
    );
    let r = resolve(&mut d, FsPath::new("compose.yaml"), &["debug".to_string()]);
    let services = d.as_map().and_then(|m| m.get("services")).and_then(Node::as_map).expect("services");
    assert_eq!(services.keys().collect::<Vec<_>>(), ["web", "debug"]);
    assert!(!service(&d, "debug").contains_key("profiles"), "the topology always runs what it has");
    assert_eq!(r.left_out.len(), 1);
    assert_eq!(r.left_out[0].path, "services.tools");
}

#[test]
fn an_empty_base_or_an_odd_list_keeps_the_local_fields() {
    let mut d = doc(
        "services:\n  base:\n  web: {extends: base, image: a, volumes: [v:/d]}\n  odd: {volumes: v:/x}\n  web2: {extends: odd, image: b, volumes: [w:/y]}\n",
    );
    let r = resolve(&mut d, FsPath::new("compose.yaml"), &[]);
    assert!(r.left_out.is_empty(), "{:?}", r.left_out);
    assert_eq!(service(&d, "web")["image"], Node::str("a"));
    assert_eq!(service(&d, "web")["volumes"], yaml("[v:/d]"));
    assert_eq!(service(&d, "web2")["volumes"], yaml("[w:/y]"));
}
