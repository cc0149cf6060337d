//! The architecture's invariants, checked by reading the sources (ARCHITECTURE.md states them):
//! no two files import each other, data flows scenario → world → trace → metrics → report and
//! never back, and the sweep's crates stay in the sweep. The gateway core's own promise (no
//! runtime) is kept by its manifest; this test checks that manifest too.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A source file of a crate, with the module path it defines and the modules it refers to.
struct SourceFile {
    path: PathBuf,
    module: String,
    text: String,
    refers_to: BTreeSet<String>,
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("a folder entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            out.push(path);
        }
    }
}

/// `src/world/mod.rs` → `crate::world`; `src/world/plan.rs` → `crate::world::plan`.
fn module_of(src: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(src).expect("under src");
    let mut parts: Vec<String> = relative
        .with_extension("")
        .components()
        .map(|part| part.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib" | "main")) {
        parts.pop();
    }
    std::iter::once("crate".to_string())
        .chain(parts)
        .collect::<Vec<_>>()
        .join("::")
}

/// The code of a file: no comment lines, no `#[cfg(test)]` module (tests may reach anywhere).
fn code_of(text: &str) -> String {
    let code = text
        .find("#[cfg(test)]\nmod tests")
        .map_or(text, |at| &text[..at]);
    code.lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every `crate::a::b` path (with `{...}` groups expanded), every `super::x`, and every use of a
/// child module this file declares (`mod child;` then `child::f()`).
fn references(module: &str, code: &str) -> BTreeSet<String> {
    let mut paths = BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        expand(path_at(&rest[at..]), &mut paths);
        rest = &rest[at + 7..];
    }
    let parent = module.rsplit_once("::").map_or("crate", |(parent, _)| parent);
    for (at, _) in code.match_indices("super::") {
        let name: String = code[at + 7..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        paths.insert(format!("{parent}::{name}"));
    }
    for line in code.lines() {
        let line = line.trim();
        let declared = line
            .strip_prefix("pub mod ")
            .or_else(|| line.strip_prefix("mod "));
        if let Some(child) = declared.and_then(|rest| rest.strip_suffix(';')) {
            if code.contains(&format!("{child}::")) {
                paths.insert(format!("{module}::{child}"));
            }
        }
    }
    paths
}

/// The path that starts `text`: path characters, then at most one `{...}` group.
fn path_at(text: &str) -> &str {
    let mut depth = 0;
    for (index, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 1 => return &text[..=index],
            '}' => depth -= 1,
            c if depth > 0 || c.is_alphanumeric() || c == '_' || c == ':' => {}
            _ if depth > 0 => {}
            _ => return &text[..index],
        }
    }
    text
}

/// `crate::a::{b, c::d}` → `crate::a::b`, `crate::a::c::d`.
fn expand(statement: &str, out: &mut BTreeSet<String>) {
    let statement: String = statement.chars().filter(|c| !c.is_whitespace()).collect();
    let Some(open) = statement.find('{') else {
        let path: String = statement
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        out.insert(path.trim_end_matches(':').to_string());
        return;
    };
    let prefix = &statement[..open];
    let inner = &statement[open + 1..statement.rfind('}').unwrap_or(statement.len())];
    let (mut depth, mut start) = (0, 0);
    for (index, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                expand(&format!("{prefix}{}", &inner[start..index]), out);
                start = index + 1;
            }
            _ => {}
        }
    }
    expand(&format!("{prefix}{}", &inner[start..]), out);
}

fn crate_files(src: &str) -> Vec<SourceFile> {
    let src = root().join(src);
    let mut paths = Vec::new();
    rust_files(&src, &mut paths);
    paths.sort();
    let modules: BTreeSet<String> = paths.iter().map(|path| module_of(&src, path)).collect();
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("a readable source file");
            let module = module_of(&src, &path);
            // A path refers to the longest module it starts with.
            let refers_to = references(&module, &code_of(&text))
                .into_iter()
                .filter_map(|reference| {
                    modules
                        .iter()
                        .filter(|m| reference == **m || reference.starts_with(&format!("{m}::")))
                        .max_by_key(|m| m.len())
                        .cloned()
                })
                .filter(|target| *target != module)
                .collect();
            SourceFile {
                path,
                module,
                text,
                refers_to,
            }
        })
        .collect()
}

fn check_no_mutual_imports(files: &[SourceFile]) -> Vec<String> {
    let by_module: BTreeMap<&str, &SourceFile> = files.iter().map(|f| (f.module.as_str(), f)).collect();
    let mut found = Vec::new();
    for file in files {
        for target in &file.refers_to {
            let back = by_module
                .get(target.as_str())
                .is_some_and(|other| other.refers_to.contains(&file.module));
            if back && file.module < *target {
                found.push(format!("{} and {target} import each other", file.module));
            }
        }
    }
    found
}

#[test]
fn no_two_files_import_each_other() {
    let mut found = Vec::new();
    for src in ["gateway/src", "client/src", "sim/src", "reports/src", "src"] {
        found.extend(check_no_mutual_imports(&crate_files(src)));
    }
    assert!(
        found.is_empty(),
        "import cycles between two files:\n{}",
        found.join("\n")
    );
}

#[test]
fn data_flows_one_way_through_the_harness() {
    let files = crate_files("sim/src");
    let mut found = Vec::new();
    let forbidden = |file: &SourceFile, prefixes: &[&str], why: &str, found: &mut Vec<String>| {
        for target in &file.refers_to {
            if prefixes
                .iter()
                .any(|prefix| target == prefix || target.starts_with(&format!("{prefix}::")))
            {
                found.push(format!("{} uses {target}: {why}", file.path.display()));
            }
        }
    };
    for file in &files {
        let module = file.module.as_str();
        if module.starts_with("crate::world") {
            forbidden(
                file,
                &["crate::metrics", "crate::run", "crate::sweep"],
                "the world hands data over",
                &mut found,
            );
        }
        if module.starts_with("crate::scenario") {
            let later = [
                "crate::world",
                "crate::metrics",
                "crate::run",
                "crate::sweep",
                "crate::shell",
                "crate::trace",
            ];
            forbidden(file, &later, "a scenario is data", &mut found);
        }
        if module == "crate::trace" {
            forbidden(
                file,
                &["crate::world", "crate::metrics", "crate::run"],
                "a trace is data",
                &mut found,
            );
        }
        if module.starts_with("crate::metrics") {
            forbidden(
                file,
                &["crate::run", "crate::sweep", "crate::shell"],
                "metrics come after the world",
                &mut found,
            );
            if code_of(&file.text).contains("Gateway>")
                || code_of(&file.text).contains("herd_gateway::Gateway")
            {
                found.push(format!(
                    "{}: metrics read the world's output, never the live gateway",
                    file.path.display()
                ));
            }
        }
        let calls_both = code_of(&file.text).contains("world::simulate(")
            && code_of(&file.text).contains("metrics::compute(");
        if calls_both && module != "crate::run" {
            found.push(format!(
                "{}: only run.rs runs the world and computes metrics",
                file.path.display()
            ));
        }
        let parallel = ["rayon", "indexmap"]
            .iter()
            .any(|name| code_of(&file.text).contains(&format!("{name}::")));
        if parallel && !module.starts_with("crate::sweep") {
            found.push(format!(
                "{}: rayon and indexmap belong to the sweep code",
                file.path.display()
            ));
        }
    }
    for file in crate_files("reports/src") {
        if code_of(&file.text).contains("herd_sim::world") {
            found.push(format!(
                "{}: reports read run::Run, not the world",
                file.path.display()
            ));
        }
    }
    assert!(
        found.is_empty(),
        "the harness's flow is broken:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_gateway_core_has_no_runtime_dependency() {
    let manifest =
        std::fs::read_to_string(root().join("gateway/Cargo.toml")).expect("the gateway's manifest");
    let dependencies = manifest
        .split("[dependencies]")
        .nth(1)
        .and_then(|rest| rest.split("\n[").next())
        .expect("a [dependencies] table");
    for forbidden in ["tokio", "hyper", "turmoil", "rayon", "herd-client", "herd-sim"] {
        assert!(
            !dependencies
                .lines()
                .any(|line| line.trim_start().starts_with(forbidden)),
            "herd-gateway depends on {forbidden}"
        );
    }
    for file in crate_files("gateway/src") {
        for clock in [
            "SystemTime::now",
            "Instant::now",
            "thread_rng",
            "std::net",
            "std::fs",
        ] {
            assert!(!file.text.contains(clock), "{} uses {clock}", file.path.display());
        }
    }
}

#[test]
fn the_checker_sees_what_it_checks() {
    // The reference finder itself: grouped, nested, `super::` and child-module references.
    let found = references(
        "crate::world::plan",
        "use crate::a::{b, c::{d, e}};\nuse crate::f::G;\nfn x() { super::h::y(); }\nmod k;\nfn z() { k::w(); }\n",
    );
    let expected: BTreeSet<String> = [
        "crate::a::b",
        "crate::a::c::d",
        "crate::a::c::e",
        "crate::f::G",
        "crate::world::h",
        "crate::world::plan::k",
    ]
    .iter()
    .map(std::string::ToString::to_string)
    .collect();
    assert_eq!(found, expected);
    let sim = crate_files("sim/src");
    let world = sim
        .iter()
        .find(|file| file.module == "crate::world")
        .expect("sim/src/world/mod.rs");
    assert!(
        world.refers_to.contains("crate::world::memory_net"),
        "{:?}",
        world.refers_to
    );
    assert!(sim.len() > 20, "the harness's files are found");
}
