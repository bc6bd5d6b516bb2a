//! The API parity manifest (tests/parity/manifest.json): every `file:function` it lists for Rust
//! is a `pub fn` (or `pub async fn`) in that file of the workspace, so the README's parity table
//! never claims what the core lacks.

use std::path::Path;

use serde_json::Value;

fn declares(root: &Path, entry: &str) -> bool {
    let Some((file, function)) = entry.split_once(':') else {
        return false;
    };
    let Ok(source) = std::fs::read_to_string(root.join(file)) else {
        return false;
    };
    [
        format!("pub fn {function}("),
        format!("pub fn {function}<"),
        format!("pub async fn {function}("),
        format!("pub async fn {function}<"),
    ]
    .iter()
    .any(|decl| source.contains(decl.as_str()))
}

#[test]
fn every_name_the_manifest_lists_for_rust_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("tests/parity/manifest.json")).unwrap(),
    )
    .unwrap();
    assert!(!declares(&root, "core/src/consumer/client.rs:teleport"));
    let mut checked = 0;
    let mut missing = Vec::new();
    for c in manifest["capabilities"].as_array().unwrap() {
        let Some(names) = c["rust"].as_array() else {
            continue; // {"missing": ...} or {"by": ...}: named in the table
        };
        for n in names {
            checked += 1;
            let n = n.as_str().unwrap();
            if !declares(&root, n) {
                missing.push(format!("{}: {n}", c["name"]));
            }
        }
    }
    assert!(checked > 0);
    assert!(missing.is_empty(), "the core lacks: {missing:?}");
}
