//! docs/learn-greek.svg is the seed stack with the prod profile, as
//! `deploy graph -f manifests/learn-greek.yaml -p prod --format svg` draws it.
//! This test draws it again and compares bytes: when the committed picture is
//! stale it writes the new one and fails, so the change shows in `git diff`
//! and is committed with the code that caused it.

use std::path::{Path, PathBuf};

use deploy_graph::Graph;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The seed stack with the prod profile: the one that publishes ports and tags
/// images with `${IMAGE_TAG:-1.0.0}`, so the picture shows both.
fn seed_svg() -> String {
    let t = deploy_topology::load(&root().join("manifests/learn-greek.yaml"), Some("prod"))
        .unwrap_or_else(|e| panic!("the seed stack does not load: {e:?}"));
    let g = Graph::build(&t, &[], None).unwrap_or_else(|e| panic!("{e:?}"));
    g.svg().unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn the_drawing_is_deterministic() {
    assert_eq!(seed_svg(), seed_svg());
}

#[test]
fn docs_learn_greek_svg_is_up_to_date() {
    let path = root().join("docs/learn-greek.svg");
    let fresh = seed_svg();
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != fresh {
        std::fs::write(&path, &fresh).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        panic!(
            "docs/learn-greek.svg was stale (the seed stack or the drawing changed); it has been regenerated: \
             review and commit it"
        );
    }
}
