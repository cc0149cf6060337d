//! Embeds the shipped scenario library (`scenarios/*.toml` at the workspace root) in the crate,
//! so that an installed binary lists and runs them with no checkout around it.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let dir = Path::new(&std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo")).join("../scenarios");
    println!("cargo::rerun-if-changed={}", dir.display());
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("the shipped scenarios folder")
        .map(|entry| entry.expect("a readable folder entry").path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "toml"))
        .collect();
    files.sort();
    let mut out = String::from("/// (file name, text) of every shipped scenario, sorted by name.\n");
    out.push_str("pub(crate) static SHIPPED_FILES: &[(&str, &str)] = &[\n");
    for path in &files {
        println!("cargo::rerun-if-changed={}", path.display());
        let name = path.file_name().expect("a file name").to_string_lossy();
        let absolute = path.canonicalize().expect("a shipped scenario's path");
        writeln!(out, "    ({name:?}, include_str!({:?})),", absolute.display())
            .expect("writing to a string");
    }
    out.push_str("];\n");
    let target = Path::new(&std::env::var("OUT_DIR").expect("set by cargo")).join("shipped_scenarios.rs");
    std::fs::write(target, out).expect("writing the generated list");
}
