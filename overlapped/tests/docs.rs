//! The docs stand on their own: every "fact N" / "pitfall N" of the API docs,
//! DESIGN.md and the README links to its anchor in
//! `docs/winsock-semantics.md` (which exists), the README's examples are
//! written as a reader types them (they are compiled as doc tests through
//! `overlapped::ReadmeExamples`), and the files DESIGN.md names exist.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let p = entry.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// Places in `text` where "fact N", "facts N" or "pitfall N" is written
/// without a link (a link's text starts with `[`).
fn unlinked(text: &str) -> Vec<String> {
    let lower = text.to_lowercase();
    let mut found = Vec::new();
    for word in ["fact ", "facts ", "pitfall ", "pitfalls "] {
        let mut from = 0;
        while let Some(at) = lower[from..].find(word) {
            let start = from + at;
            let end = start + word.len();
            from = end;
            let before = lower[..start].chars().last();
            let starts_word = !before.is_some_and(|c| c.is_alphanumeric() || c == '[' || c == '-');
            let number_follows = lower[end..].starts_with(|c: char| c.is_ascii_digit());
            if starts_word && number_follows {
                let snippet: String = text[start..].chars().take(40).collect();
                found.push(snippet);
            }
        }
    }
    found
}

/// Every anchor that `text` links to with `prefix` (`crate::semantics#` or
/// `docs/winsock-semantics.md#`), e.g. `fact-71`.
fn anchors_linked(text: &str, prefix: &str) -> Vec<String> {
    text.match_indices(prefix)
        .map(|(at, _)| {
            text[at + prefix.len()..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '-')
                .collect()
        })
        .collect()
}

fn anchors_defined() -> Vec<String> {
    let reference = read("docs/winsock-semantics.md");
    reference
        .match_indices("<a id=\"")
        .map(|(at, _)| {
            reference[at + 7..]
                .chars()
                .take_while(|c| *c != '"')
                .collect()
        })
        .collect()
}

#[test]
fn the_reference_has_every_fact_and_pitfall_anchor() {
    let defined = anchors_defined();
    for n in 1..=144 {
        assert!(defined.contains(&format!("fact-{n}")), "fact-{n}");
    }
    for n in 1..=10 {
        assert!(defined.contains(&format!("pitfall-{n}")), "pitfall-{n}");
    }
}

#[test]
fn every_fact_reference_in_the_api_docs_is_a_working_link() {
    let defined = anchors_defined();
    let mut files = Vec::new();
    rust_files(&root().join("overlapped/src"), &mut files);
    let mut problems = Vec::new();
    for file in files {
        let src = std::fs::read_to_string(&file).unwrap();
        let mut in_code = false;
        for (i, line) in src.lines().enumerate() {
            let t = line.trim_start();
            let Some(doc) = t.strip_prefix("///").or_else(|| t.strip_prefix("//!")) else {
                in_code = false;
                continue;
            };
            if doc.trim_start().starts_with("```") {
                in_code = !in_code;
                continue;
            }
            if in_code {
                continue;
            }
            let place = format!("{}:{}", file.display(), i + 1);
            for s in unlinked(doc) {
                problems.push(format!(
                    "{place}: \"{s}\" is not a link: write [fact N](crate::semantics#fact-N)"
                ));
            }
            for a in anchors_linked(doc, "crate::semantics#") {
                if !defined.contains(&a) {
                    problems.push(format!(
                        "{place}: no anchor {a} in docs/winsock-semantics.md"
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_fact_reference_in_design_and_readme_is_a_working_link() {
    let defined = anchors_defined();
    let mut problems = Vec::new();
    for doc in ["DESIGN.md", "README.md"] {
        let text = read(doc);
        for s in unlinked(&text) {
            problems.push(format!(
                "{doc}: \"{s}\" is not a link: write [fact N](docs/winsock-semantics.md#fact-N)"
            ));
        }
        for a in anchors_linked(&text, "docs/winsock-semantics.md#") {
            if !defined.contains(&a) {
                problems.push(format!("{doc}: no anchor {a}"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn readme_examples_are_written_as_a_reader_types_them() {
    let readme = read("README.md");
    let mut in_rust = false;
    let mut blocks = 0;
    for line in readme.lines() {
        if let Some(info) = line.strip_prefix("```") {
            if in_rust {
                in_rust = false;
            } else if info.starts_with("rust") {
                in_rust = true;
                blocks += 1;
            }
            continue;
        }
        if in_rust {
            let t = line.trim_start();
            assert!(
                !(t == "#" || t.starts_with("# ")),
                "a hidden rustdoc line in the README: {line:?}"
            );
        }
    }
    assert!(
        blocks >= 3,
        "the README shows a server, a client and a routine"
    );
    assert!(readme.contains("fn main()"));
    // And the crate compiles them: the README is a doc test.
    let lib = read("overlapped/src/lib.rs");
    assert!(lib.contains("include_str!(\"../../README.md\")"));
}

#[test]
fn files_named_in_design_exist() {
    let design = read("DESIGN.md");
    let mut missing = Vec::new();
    for (i, part) in design.split('`').enumerate() {
        // Odd parts are code spans.
        if i % 2 == 0 || !part.ends_with(".rs") || part.contains(' ') {
            continue;
        }
        let candidates = [
            root().join(part),
            root().join("overlapped/src").join(part),
            root().join("overlapped/src/winsock").join(part),
            root().join("overlapped/src/model").join(part),
            root().join("overlapped/src/sys").join(part),
            root().join("overlapped/src/sys/uring").join(part),
            root().join("overlapped/src/sys/epoll").join(part),
            root().join("overlapped/tests").join(part),
            root().join("src").join(part),
        ];
        if !candidates.iter().any(|p| p.exists()) {
            missing.push(part.to_string());
        }
    }
    assert!(
        missing.is_empty(),
        "DESIGN.md names files that do not exist: {missing:?}"
    );
    for test in ["cancel.rs", "faults.rs", "faults_peer.rs"] {
        assert!(
            design.contains(&format!("overlapped/tests/{test}")),
            "DESIGN.md names the library's {test} by its path"
        );
    }
    assert!(design.contains("soak"), "the program layer lists soak");
}

/// The layers' import rule (DESIGN.md, "Layers"): `.ci/layers.sh` finds no
/// file under `overlapped/src/sys/` that names a layer above it, and none
/// under `overlapped/src/model/` that names the surface. Run here too so
/// that `cargo test` alone enforces it. Its `--self-test` first: the patterns
/// catch offending lines, spaces around `::` included (`use crate :: winsock;`).
#[test]
fn layers_rule_holds() {
    for args in [&["--self-test"][..], &[][..]] {
        let out = std::process::Command::new("bash")
            .arg(root().join(".ci/layers.sh"))
            .args(args)
            .output()
            .expect("bash runs .ci/layers.sh");
        assert!(
            out.status.success(),
            "{args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
