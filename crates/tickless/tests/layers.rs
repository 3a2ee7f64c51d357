//! The architecture, checked: every module of `src/` uses only modules of
//! its own layer or below (`../shared/DESIGN.md`), the modules' use graph has
//! no cycle, and `queue::Key` stays inside `queue` and `driver` (and the
//! systems that keep a wheel of their own: `delay_queue`, `sched`, `cache`).
//!
//! It reads the sources: every `crate::name` path in code (comments are
//! skipped — docs may mention what is above), with names re-exported at the
//! crate root (`crate::Sleep`) mapped to the module that defines them.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Lowest first. A module may use modules of its own layer or below.
const LAYERS: &[(&str, u32)] = &[
    ("sync", 0),
    ("clock", 0),
    ("queue", 1),
    ("driver", 2),
    ("sleep", 3),
    ("timeout", 3),
    ("interval", 3),
    // The streams' own cooperative budget (`Interval`, `DelayQueue`).
    ("coop", 3),
    ("blocking", 3),
    ("context", 4),
    ("delay_queue", 4),
    ("sched", 4),
    // An adaptor over `sleep` (feature `hyper`).
    ("hyper", 4),
    ("cache", 4),
    ("observe", 5),
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file belongs to (`driver/entry.rs` → `driver`).
fn module_of(file: &Path) -> String {
    let rel = file.strip_prefix(src()).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_string()
}

/// Code without `//` comments (doc comments included) and string literals.
fn code(text: &str) -> String {
    text.lines()
        .map(|line| {
            let line = line.split("//").next().unwrap_or("");
            let mut out = String::new();
            let mut in_str = false;
            for c in line.chars() {
                if c == '"' {
                    in_str = !in_str;
                } else if !in_str {
                    out.push(c);
                }
            }
            out
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The names each `crate::` path starts with, including `crate::{a, b::c}`.
fn crate_paths(code: &str) -> Vec<String> {
    let mut names = Vec::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = &group[..group.find('}').unwrap_or(group.len())];
            for item in group.split(',') {
                let name: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    names.push(name);
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            names.push(name);
        }
    }
    names
}

/// Root re-exports (`pub use sleep::{sleep, Sleep}`) → defining module.
fn reexports() -> BTreeMap<String, String> {
    let lib = fs::read_to_string(src().join("lib.rs")).unwrap();
    let mut map = BTreeMap::new();
    for line in lib.lines().filter_map(|l| l.strip_prefix("pub use ")) {
        let (module, names) = line.split_once("::").unwrap();
        for name in names.trim_matches(|c| "{};".contains(c)).split(',') {
            map.insert(name.trim().to_string(), module.to_string());
        }
    }
    map
}

/// Module → the modules it uses.
fn use_graph() -> BTreeMap<String, BTreeSet<String>> {
    let reexports = reexports();
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let module = module_of(&file);
        if module == "lib" {
            continue;
        }
        let text = code(&fs::read_to_string(&file).unwrap());
        let uses = graph.entry(module.clone()).or_default();
        for name in crate_paths(&text) {
            let target = reexports.get(&name).cloned().unwrap_or(name);
            if target != module {
                uses.insert(target);
            }
        }
    }
    graph
}

fn layer(module: &str) -> u32 {
    LAYERS
        .iter()
        .find(|(m, _)| *m == module)
        .unwrap_or_else(|| panic!("module `{module}` has no layer in tests/layers.rs"))
        .1
}

#[test]
fn every_module_uses_only_its_layer_or_below() {
    let mut wrong = Vec::new();
    for (module, uses) in use_graph() {
        for used in uses {
            if layer(&used) > layer(&module) {
                wrong.push(format!(
                    "{module} (layer {}) uses {used} (layer {})",
                    layer(&module),
                    layer(&used)
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "arrows pointing up:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_module_graph_has_no_cycle() {
    let graph = use_graph();
    // Depth-first search with colours: 1 = on the stack, 2 = done.
    fn visit(
        m: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        colour: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) {
        match colour.get(m) {
            Some(2) => return,
            Some(1) => panic!("import cycle: {} -> {m}", stack.join(" -> ")),
            _ => {}
        }
        colour.insert(m.to_string(), 1);
        stack.push(m.to_string());
        for next in graph.get(m).into_iter().flatten() {
            visit(next, graph, colour, stack);
        }
        stack.pop();
        colour.insert(m.to_string(), 2);
    }
    let mut colour = BTreeMap::new();
    for m in graph.keys() {
        visit(m, &graph, &mut colour, &mut Vec::new());
    }
}

#[test]
fn queue_keys_stay_in_queue_and_driver() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let leaks: Vec<_> = files
        .iter()
        // The driver's keys stay below it. Systems that hold many deadlines
        // keep a wheel of their own (DESIGN.md) and use its keys.
        .filter(|f| {
            !["queue", "driver", "delay_queue", "sched", "cache"].contains(&module_of(f).as_str())
        })
        .filter(|f| {
            let text = code(&fs::read_to_string(f).unwrap());
            text.contains("queue::Key") || text.contains("queue::{Key")
        })
        .collect();
    assert!(leaks.is_empty(), "queue::Key used in {leaks:?}");
}

#[test]
fn the_checker_sees_paths() {
    assert_eq!(
        crate_paths("use crate::{clock::X, driver};\nlet a = crate::Sleep::new();"),
        ["clock", "driver", "Sleep"]
    );
    assert_eq!(code("let s = \"crate::x\"; // crate::y"), "let s = ; ");
    assert_eq!(reexports().get("Sleep").map(String::as_str), Some("sleep"));
    let graph = use_graph();
    assert!(graph["sleep"].contains("driver"), "{graph:?}");
    assert!(
        graph["context"].contains("sleep"),
        "crate::Sleep maps to sleep: {graph:?}"
    );
}
