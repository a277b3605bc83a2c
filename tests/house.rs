//! The house's arrows point one way: a module may import only from the floors below its own
//! (`model` ← `error` ← `db`/`storage` ← the domain ← `api`/`server` ← `ui`/`engine`/`client`),
//! and `api` calls services, never `db`. Read from the source, so a forbidden `use` fails here
//! the day it is written. Arrows that still run back up are listed by name: the list may only
//! shrink (a fixed one must leave it, so it cannot come back unnoticed). And no file is longer
//! than one sitting.

use std::{collections::BTreeSet, fs, path::Path};

/// Each top-level module's floor; a module may import from lower floors and its own.
const FLOORS: &[(&str, u8)] = &[
    ("checksum", 0),
    ("clock", 0),
    ("parse", 0),
    ("model", 1),
    ("protocol", 2),
    ("error", 2),
    ("format", 2),
    ("db", 3),
    ("storage", 3),
    ("observe", 3),
    ("uploads", 4),
    ("accounts", 4),
    ("files", 4),
    ("processing", 4),
    ("background", 4),
    ("live", 4),
    ("api", 5),
    ("server", 5),
    ("ui", 6),
    ("engine", 6),
    ("client", 6),
    ("app", 7),
];

/// Imports allowed by floor but not by design: the api calls services, not queries; the
/// clients (page and terminal) share the protocol's rules through `protocol`, never through the
/// server's own modules.
const FORBIDDEN: &[(&str, &str)] = &[
    ("api", "db"),
    ("client", "uploads"),
    ("client", "engine"),
    ("engine", "uploads"),
    ("engine", "client"),
];

/// Upward imports by design: the router renders the page, so the server names the app there.
const COMPOSITION: &[(&str, &str)] = &[("src/server/routes.rs", "app")];

/// Arrows that still run the wrong way (file, module it imports), each to be removed. None is
/// left; one added here must say why.
const KNOWN: &[(&str, &str)] = &[];

fn floor(module: &str) -> Option<u8> {
    FLOORS.iter().find(|(m, _)| *m == module).map(|(_, f)| *f)
}

/// The top-level modules of ours a file names (`crate::x`, and `x` inside `use crate::{…}`).
fn imports(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // The names at the group's first level.
            let (mut depth, mut start) = (0usize, 0usize);
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        found.extend(first_name(&group[start..i]));
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        found.extend(first_name(&group[start..i]));
                        start = i + 1;
                    }
                    _ => {}
                }
            }
        } else {
            found.extend(first_name(rest));
        }
    }
    found
}

fn first_name(path: &str) -> Option<String> {
    let name: String = path
        .trim_start()
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    (!name.is_empty()).then_some(name)
}

fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in fs::read_dir(dir).expect("src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_import_points_down_the_house() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    sources(&root.join("src"), &mut files);
    assert!(files.len() > 50, "the sources were found");
    let mut wrong = BTreeSet::new();
    for path in &files {
        let relative = path.strip_prefix(root.join("src")).expect("under src");
        let module = relative
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str())
            .map(|m| m.trim_end_matches(".rs").to_owned())
            .expect("a module");
        let Some(own) = floor(&module) else {
            continue;
        };
        let text = fs::read_to_string(path).expect("readable");
        // Code only: a doc comment may name what it does not import.
        let code: String = text
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        for target in imports(&code) {
            let Some(theirs) = floor(&target) else {
                continue;
            };
            if target != module
                && (theirs > own || FORBIDDEN.contains(&(module.as_str(), target.as_str())))
            {
                wrong.insert((format!("src/{}", relative.display()), target));
            }
        }
    }
    for (file, target) in COMPOSITION {
        wrong.remove(&(file.to_string(), target.to_string()));
    }
    let known: BTreeSet<(String, String)> = KNOWN
        .iter()
        .map(|(f, t)| (f.to_string(), t.to_string()))
        .collect();
    let new: Vec<_> = wrong.difference(&known).collect();
    let fixed: Vec<_> = known.difference(&wrong).collect();
    assert!(
        new.is_empty(),
        "imports that run back up the house: {new:?}"
    );
    assert!(
        fixed.is_empty(),
        "fixed, so take them off KNOWN in tests/house.rs: {fixed:?}"
    );
}

#[test]
fn the_reader_sees_grouped_and_plain_imports() {
    let text = "use crate::{db::{self, Pool}, model::X, error::Y};\nlet x = crate::server::f();";
    let names: Vec<String> = imports(text).into_iter().collect();
    assert_eq!(names, ["db", "error", "model", "server"]);
}

/// Every file reads in one sitting.
#[test]
fn no_source_file_is_over_five_hundred_lines() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    sources(&root.join("src"), &mut files);
    let long: Vec<String> = files
        .iter()
        .filter_map(|path| {
            let lines = fs::read_to_string(path).expect("readable").lines().count();
            (lines > 500).then(|| format!("{} ({lines} lines)", path.display()))
        })
        .collect();
    assert!(files.len() > 50, "the sources were found");
    assert!(long.is_empty(), "files over 500 lines: {long:?}");
}
