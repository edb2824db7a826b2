//! `build:`: Compose's short and long forms, build arguments (map or list,
//! `${VAR}` templates, secret by name or variable), the default image name
//! `PROJECT-SERVICE`, profiles merging arguments by name, located errors.

use deploy_topology::{Env, from_str};

fn load(yaml: &str) -> deploy_topology::Topology {
    from_str("t.yaml", yaml, None).unwrap_or_else(|e| panic!("{}", e.render()))
}

#[test]
fn short_form_is_the_context_and_the_image_is_named_project_service() {
    let t = load("name: shop\nservices:\n  web:\n    build: ./web\n");
    let web = &t.services["web"];
    let b = web.build.as_ref().unwrap_or_else(|| panic!("no build"));
    assert_eq!((b.context.as_deref(), b.dockerfile.as_deref(), b.target.as_deref()), (Some("./web"), None, None));
    assert_eq!((b.context_or_default(), b.dockerfile_or_default()), ("./web", "Dockerfile"));
    assert!(b.args.is_empty() && b.default_image);
    assert_eq!(web.image.raw, "shop-web");
    assert!(!web.image.secret);
}

#[test]
fn an_explicit_image_is_kept_and_defaults_fill_the_long_form() {
    let t = load("name: shop\nservices:\n  web:\n    image: reg.example/web:${TAG:-1}\n    build: {target: dev}\n");
    let web = &t.services["web"];
    let b = web.build.as_ref().unwrap_or_else(|| panic!("no build"));
    assert_eq!((b.context_or_default(), b.target.as_deref(), b.default_image), (".", Some("dev"), false));
    assert_eq!(web.image.raw, "reg.example/web:${TAG:-1}");
}

#[test]
fn args_as_a_list_or_a_map_with_templates_and_secrets() {
    let yaml = r#"name: shop
variables:
  SIGNING: {secret: true}
services:
  list:
    build:
      context: app
      dockerfile: docker/Dockerfile.dev
      args:
        - VERSION=${VERSION:-1.0}
        - FROM_SHELL
        - EMPTY=
        - DB_PASSWORD=plain
  map:
    build:
      args:
        COUNT: 3
        FLAG: true
        NOTHING:
        KEY_ID: ${SIGNING}
        PLAIN_NAME: ${API_TOKEN}
"#;
    let t = load(yaml);
    let b = t.services["list"].build.clone().unwrap_or_else(|| panic!("no build"));
    assert_eq!(b.dockerfile_or_default(), "docker/Dockerfile.dev");
    let raw = |k: &str| b.args[k].as_ref().map(|v| (v.raw.clone(), v.secret));
    assert_eq!(b.args.keys().collect::<Vec<_>>(), ["VERSION", "FROM_SHELL", "EMPTY", "DB_PASSWORD"]);
    assert_eq!(raw("VERSION"), Some(("${VERSION:-1.0}".into(), false)));
    assert_eq!(raw("FROM_SHELL"), None, "a name alone takes the variable of that name");
    assert_eq!(raw("EMPTY"), Some((String::new(), false)));
    assert_eq!(raw("DB_PASSWORD"), Some(("plain".into(), true)), "secret by its name");
    let m = t.services["map"].build.clone().unwrap_or_else(|| panic!("no build"));
    let raw = |k: &str| m.args[k].as_ref().map(|v| (v.raw.clone(), v.secret));
    assert_eq!(raw("COUNT"), Some(("3".into(), false)));
    assert_eq!(raw("FLAG"), Some(("true".into(), false)));
    assert_eq!(raw("NOTHING"), None);
    assert_eq!(raw("KEY_ID"), Some(("${SIGNING}".into(), true)), "secret through its variable");
    assert_eq!(raw("PLAIN_NAME"), Some(("${API_TOKEN}".into(), true)), "an undeclared variable with a secret name");
    // Build arguments are values of the service: resolved (and checked) with the rest.
    let env = Env::from_pairs([("SIGNING", "s3cret-value"), ("API_TOKEN", "tok-value")]);
    let resolved: Vec<String> =
        t.services["map"].values().iter().filter(|v| v.secret).filter_map(|v| v.resolve(&env).ok()).collect();
    assert_eq!(resolved, ["s3cret-value", "tok-value"]);
}

#[test]
fn a_missing_required_variable_in_an_arg_fails_before_anything_runs() {
    let t = load("name: shop\nservices:\n  web:\n    build:\n      args:\n        V: ${NEEDED:?set NEEDED}\n");
    let errs = t.check_resolvable(&Env::default(), &[]).err().unwrap_or_else(|| panic!("expected an error"));
    let d = &errs.0[0];
    assert_eq!(d.field.as_deref(), Some("services.web.build.args.V"), "{d}");
    let loc = d.loc.as_ref().unwrap_or_else(|| panic!("no location: {d}"));
    assert_eq!((loc.line, loc.col), (6, 12), "{d}");
}

#[test]
fn bad_build_sections_are_located() {
    let e = from_str("t.yaml", "services:\n  web:\n    build:\n      contxt: .\n", None)
        .err()
        .unwrap_or_else(|| panic!("expected an error"));
    let d = &e.0[0];
    assert!(d.message.contains("unknown field `contxt`"), "{d}");
    assert_eq!(d.loc.as_ref().map(|l| (l.line, l.col)), Some((4, 7)), "{d}");
    let e = from_str("t.yaml", "services:\n  web:\n    build:\n      args: {V: \"${BROKEN\"}\n", None)
        .err()
        .unwrap_or_else(|| panic!("expected an error"));
    let d = &e.0[0];
    assert_eq!(d.field.as_deref(), Some("services.web.build.args.V"), "{d}");
    assert!(d.message.contains("unclosed"), "{d}");
    assert_eq!(d.loc.as_ref().map(|l| (l.line, l.col)), Some((4, 17)), "{d}");
    let e = from_str("t.yaml", "services:\n  web:\n    build: [a, b]\n", None)
        .err()
        .unwrap_or_else(|| panic!("expected an error"));
    assert!(e.0[0].message.contains("build context directory"), "{}", e.0[0]);
    // Neither image nor build: the help names both.
    let e = from_str("t.yaml", "services:\n  web:\n    command: [x]\n", None)
        .err()
        .unwrap_or_else(|| panic!("expected an error"));
    assert!(e.0[0].help.as_deref().is_some_and(|h| h.contains("`build:`")), "{}", e.0[0]);
}

#[test]
fn a_profile_merges_args_by_name_and_replaces_the_rest() {
    let base =
        "name: shop\nservices:\n  web:\n    build:\n      context: web\n      target: prod\n      args: [A=1, B=2]\n";
    let profile = "services:\n  web:\n    build:\n      target: dev\n      args: {B: 3, C: 4}\n";
    let t = from_str("t.yaml", base, Some(("dev", profile))).unwrap_or_else(|e| panic!("{}", e.render()));
    let b = t.services["web"].build.clone().unwrap_or_else(|| panic!("no build"));
    assert_eq!((b.context.as_deref(), b.target.as_deref()), (Some("web"), Some("dev")));
    let args: Vec<(String, String)> =
        b.args.iter().map(|(k, v)| (k.clone(), v.as_ref().map(|v| v.raw.clone()).unwrap_or_default())).collect();
    assert_eq!(args, [("A".into(), "1".into()), ("B".into(), "3".into()), ("C".into(), "4".into())]);
    // A profile's short form replaces the context only.
    let t = from_str("t.yaml", base, Some(("dev", "services:\n  web:\n    build: ./other\n")))
        .unwrap_or_else(|e| panic!("{}", e.render()));
    let b = t.services["web"].build.clone().unwrap_or_else(|| panic!("no build"));
    assert_eq!((b.context.as_deref(), b.target.as_deref(), b.args.len()), (Some("./other"), Some("prod"), 2));
}
