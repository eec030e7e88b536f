//! `cargo xtask readme`: each crate's README.md is its crate docs (the `//!`
//! header of `src/lib.rs`), rendered for GitHub and crates.io, so the two
//! can't drift: a test fails when a README differs from what this writes.
//!
//! Rendering: hidden doctest lines (`# …`) are dropped, Rust code fences are
//! marked `rust`, and intra-doc links become plain code (`[`X`]` → `` `X` ``);
//! links to web pages and files stay links.

use std::process::ExitCode;

use crate::ci::workspace_root;

/// The crates with a README of their own.
pub(crate) const CRATES: &[&str] = &[
    "session-core",
    "session-retry",
    "session-auth",
    "session-store",
    "session-oauth",
    "session-server",
];

/// The README of `krate` for the source of its `lib.rs`.
pub(crate) fn render(krate: &str, lib_rs: &str) -> String {
    let mut out = format!("# {krate}\n\n");
    let mut in_rust = false;
    let mut in_fence = false;
    for line in lib_rs.lines() {
        let Some(doc) = line.strip_prefix("//!") else {
            if line.trim().is_empty() {
                continue;
            }
            break;
        };
        let doc = doc.strip_prefix(' ').unwrap_or(doc);
        if let Some(info) = doc.trim_start().strip_prefix("```") {
            if in_fence {
                in_fence = false;
                in_rust = false;
                out.push_str("```\n");
            } else {
                in_fence = true;
                let info = info.trim();
                in_rust = info.is_empty()
                    || info.split(',').any(|t| {
                        ["rust", "no_run", "ignore", "should_panic", "compile_fail"].contains(&t)
                    });
                out.push_str(if in_rust { "```rust\n" } else { "```" });
                if !in_rust {
                    out.push_str(info);
                    out.push('\n');
                }
            }
            continue;
        }
        if in_rust {
            let t = doc.trim_start();
            if t == "#" || t.starts_with("# ") {
                continue;
            }
            out.push_str(doc);
        } else if in_fence {
            out.push_str(doc);
        } else if doc.starts_with('#') {
            // One level down: the crate name is the page's only `#` heading.
            out.push('#');
            out.push_str(&plain_links(doc));
        } else {
            out.push_str(&plain_links(doc));
        }
        out.push('\n');
    }
    let body = out.trim_end();
    format!(
        "{body}\n\n---\n\nPart of [session-kit](../README.md). This file is the crate's documentation \
         (`src/lib.rs`), written by `cargo xtask readme`: edit the docs, then run it.\n"
    )
}

/// Rewrites rustdoc's intra-doc links as plain text; web and file links stay.
fn plain_links(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find(']') else {
            out.push_str(&rest[open..]);
            return out;
        };
        let label = &after[..close];
        let tail = &after[close + 1..];
        if let Some(target) = tail.strip_prefix('(').and_then(|t| t.split_once(')')) {
            let (target, remaining) = target;
            if target.contains("://") || target.ends_with(".md") || target.starts_with('#') {
                out.push_str(&format!("[{label}]({target})"));
            } else {
                out.push_str(label);
            }
            rest = remaining;
        } else if label.starts_with('`') && label.ends_with('`') {
            out.push_str(label);
            rest = tail;
        } else {
            out.push('[');
            out.push_str(label);
            out.push(']');
            rest = tail;
        }
    }
    out.push_str(rest);
    out
}

/// Writes every crate's README.
pub(crate) fn run() -> ExitCode {
    for krate in CRATES {
        let dir = workspace_root().join(krate);
        let lib = match std::fs::read_to_string(dir.join("src/lib.rs")) {
            Ok(lib) => lib,
            Err(e) => {
                eprintln!("cannot read {krate}/src/lib.rs: {e}");
                return ExitCode::FAILURE;
            }
        };
        if let Err(e) = std::fs::write(dir.join("README.md"), render(krate, &lib)) {
            eprintln!("cannot write {krate}/README.md: {e}");
            return ExitCode::FAILURE;
        }
        println!("wrote {krate}/README.md");
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_docs_for_github() {
        let lib = "//! Stores for [`SessionStore`] and [the guide](crate::guide).\n\
                   //!\n\
                   //! ```\n\
                   //! # let hidden = 1;\n\
                   //! let shown = 2;\n\
                   //! ```\n\
                   //!\n\
                   //! ```text\n\
                   //! # kept in text\n\
                   //! ```\n\
                   //! See [docs](https://docs.rs/x) and [`Store`](Self::Store).\n\
                   //! # Heading\n\
                   \n\
                   #![forbid(unsafe_code)]\n\
                   //! not docs any more\n";
        let readme = render("x", lib);
        assert!(readme.starts_with("# x\n\nStores for `SessionStore` and the guide.\n"));
        assert!(readme.contains("```rust\nlet shown = 2;\n```"));
        assert!(!readme.contains("hidden"));
        assert!(readme.contains("```text\n# kept in text\n```"));
        assert!(readme.contains("See [docs](https://docs.rs/x) and `Store`."));
        assert!(readme.contains("\n## Heading\n"));
        assert!(!readme.contains("not docs"));
    }

    #[test]
    fn every_readme_is_its_crate_docs() {
        let mut stale = Vec::new();
        for krate in CRATES {
            let dir = workspace_root().join(krate);
            let lib = std::fs::read_to_string(dir.join("src/lib.rs")).unwrap();
            let readme = std::fs::read_to_string(dir.join("README.md")).unwrap_or_default();
            if readme != render(krate, &lib) {
                stale.push(*krate);
            }
        }
        assert!(
            stale.is_empty(),
            "README.md differs from the crate docs in {stale:?}: run `cargo xtask readme`"
        );
    }
}
