//! The layers of `web` import one way only, so the circle of issue 15 cannot come back.
//!
//! Every module reachable from `src/lib.rs` (test-only modules and `#[cfg(test)]` items left
//! out: tests may build a whole app anywhere) is given a rank, and every path it names through
//! `crate::`, `super::` or `self::` (in `use` trees and in code, macro bodies included) must
//! lead to a module of the same or a lower rank:
//!
//! | rank | modules                      | holds                                         |
//! |------|------------------------------|-----------------------------------------------|
//! | 9    | `cli`                        | the subcommands                               |
//! | 8    | `http::router`               | the router assembly                           |
//! | 7    | `http::routes`               | the handlers                                  |
//! | 6    | the rest of `http`           | pages, extractors, errors as responses, server |
//! | 5    | `http::state`                | `AppState`, settings, metrics                 |
//! | 4    | `services`                   | the domain                                    |
//! | 3    | `validate`                   | text limits (leaf)                            |
//! | 2    | `error`                      | `AppError`, no HTTP (leaf)                    |
//! | 1    | `storage`                    | sqlx, both backends                           |
//! | 0    | `i18n`                       | sentences, `JST` (leaf)                       |
//!
//! A second check finds import cycles between modules of the same rank (two route modules
//! using each other, say); a third, that no `http` module opens a transaction (`.begin()`):
//! writes go through a service, one call, one transaction.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use proc_macro2::{Delimiter, TokenStream, TokenTree};
use quote::ToTokens;
use syn::{Attribute, Item, UseTree};

/// The rank of a module path (segments after `crate`), or `None` for the crate root.
fn rank(module: &[String]) -> Option<(u8, &'static str)> {
    let first = module.first()?.as_str();
    let second = module.get(1).map(String::as_str);
    Some(match (first, second) {
        ("cli", _) => (9, "cli"),
        ("http", Some("router")) => (8, "http::router"),
        ("http", Some("routes")) => (7, "http::routes"),
        ("http", Some("state")) => (5, "http::state"),
        ("http", _) => (6, "http (pages, extractors, errors, server)"),
        ("services", _) => (4, "services"),
        ("validate", _) => (3, "validate"),
        ("error", _) => (2, "error"),
        ("storage", _) => (1, "storage"),
        ("i18n", _) => (0, "i18n"),
        _ => return None,
    })
}

/// One path a module names: where it is written and what it leads to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Import {
    /// The module the path is written in.
    from: Vec<String>,
    /// The path, resolved from the crate root.
    to: Vec<String>,
}

/// True for `#[cfg(test)]` (and `#[cfg(all(test, …))]`): code that is compiled only for tests.
fn is_test_only(attrs: &[Attribute]) -> bool {
    attrs.iter().any(|a| {
        let idents: Vec<String> = match a.meta.require_list() {
            Ok(l) if a.path().is_ident("cfg") => l
                .tokens
                .clone()
                .into_iter()
                .filter_map(|t| match t {
                    TokenTree::Ident(i) => Some(i.to_string()),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        idents.iter().any(|i| i == "test") && !idents.iter().any(|i| i == "not")
    })
}

/// Resolves a path that starts with `crate`, `super` or `self` against `module`; `None` for a
/// path into another crate.
fn resolve(module: &[String], segments: &[String]) -> Option<Vec<String>> {
    let mut out: Vec<String> = match segments.first()?.as_str() {
        "crate" => Vec::new(),
        "super" | "self" => module.to_vec(),
        _ => return None,
    };
    let mut rest = segments;
    if rest[0] == "crate" {
        rest = &rest[1..];
    }
    let mut leading = true;
    for s in rest {
        match s.as_str() {
            "super" if leading => {
                out.pop();
            }
            "self" if leading => {}
            _ => {
                leading = false;
                out.push(s.clone());
            }
        }
    }
    Some(out)
}

/// Every path of a `use` tree, with its prefix.
fn use_paths(tree: &UseTree, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    match tree {
        UseTree::Path(p) => {
            prefix.push(p.ident.to_string());
            use_paths(&p.tree, prefix, out);
            prefix.pop();
        }
        UseTree::Name(n) => {
            let mut p = prefix.clone();
            if n.ident != "self" {
                p.push(n.ident.to_string());
            }
            out.push(p);
        }
        UseTree::Rename(r) => {
            let mut p = prefix.clone();
            p.push(r.ident.to_string());
            out.push(p);
        }
        UseTree::Glob(_) => out.push(prefix.clone()),
        UseTree::Group(g) => {
            for t in &g.items {
                use_paths(t, prefix, out);
            }
        }
    }
}

/// Every `crate::a::b`, `super::a` and `self::a` path written in `tokens`, macro bodies included.
fn token_paths(tokens: TokenStream, out: &mut Vec<Vec<String>>) {
    let flat: Vec<TokenTree> = tokens.into_iter().collect();
    let mut i = 0;
    while i < flat.len() {
        match &flat[i] {
            TokenTree::Group(g) => token_paths(g.stream(), out),
            TokenTree::Ident(id)
                if matches!(id.to_string().as_str(), "crate" | "super" | "self") =>
            {
                let mut path = vec![id.to_string()];
                let mut j = i + 1;
                // `:: ident` pairs, written as two ':' puncts and an ident.
                loop {
                    let colons = matches!((&flat.get(j), &flat.get(j + 1)),
                        (Some(TokenTree::Punct(a)), Some(TokenTree::Punct(b))) if a.as_char() == ':' && b.as_char() == ':');
                    match (colons, flat.get(j + 2)) {
                        (true, Some(TokenTree::Ident(next))) => {
                            path.push(next.to_string());
                            j += 3;
                        }
                        // `crate::{a, b}` in a macro body: each member is a path of its own.
                        (true, Some(TokenTree::Group(g))) if g.delimiter() == Delimiter::Brace => {
                            let mut inner = Vec::new();
                            for part in split_commas(g.stream()) {
                                let mut p = path.clone();
                                p.extend(part);
                                inner.push(p);
                            }
                            out.extend(inner);
                            j += 3;
                            break;
                        }
                        _ => break,
                    }
                }
                if path.len() > 1 {
                    out.push(path);
                }
                i = j;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
}

/// How many `.begin()` calls `tokens` holds (opening a `storage::Tx`), macro bodies included.
fn begin_calls(tokens: TokenStream) -> usize {
    let flat: Vec<TokenTree> = tokens.into_iter().collect();
    let mut n = 0;
    for (i, t) in flat.iter().enumerate() {
        match t {
            TokenTree::Group(g) => n += begin_calls(g.stream()),
            TokenTree::Punct(p) if p.as_char() == '.' => {
                let is_begin =
                    matches!(flat.get(i + 1), Some(TokenTree::Ident(id)) if id == "begin");
                let called = matches!(flat.get(i + 2), Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Parenthesis && g.stream().is_empty());
                if is_begin && called {
                    n += 1;
                }
            }
            _ => {}
        }
    }
    n
}

/// The leading identifiers of each comma-separated part of a brace group (`a::b, c`).
fn split_commas(tokens: TokenStream) -> Vec<Vec<String>> {
    let mut parts = vec![Vec::new()];
    for t in tokens {
        match t {
            TokenTree::Punct(p) if p.as_char() == ',' => parts.push(Vec::new()),
            TokenTree::Ident(i) => parts.last_mut().expect("one part").push(i.to_string()),
            _ => {}
        }
    }
    parts.retain(|p| !p.is_empty());
    parts
}

/// What the scan of a file finds.
#[derive(Debug, Default)]
struct Scan {
    /// Every path into this crate.
    imports: Vec<Import>,
    /// Child modules declared without a body (`mod x;`), which live in files of their own.
    children: Vec<String>,
    /// Modules that open a transaction (`.begin()`), once per call.
    begins: Vec<Vec<String>>,
}

/// Scans the non-test `items` written in `module` into `scan`.
fn scan_items(module: &[String], items: &[Item], scan: &mut Scan) {
    for item in items {
        let attrs: &[Attribute] = match item {
            Item::Use(u) => &u.attrs,
            Item::Mod(m) => &m.attrs,
            Item::Fn(f) => &f.attrs,
            Item::Impl(i) => &i.attrs,
            Item::Struct(s) => &s.attrs,
            Item::Enum(e) => &e.attrs,
            Item::Const(c) => &c.attrs,
            Item::Static(s) => &s.attrs,
            Item::Macro(m) => &m.attrs,
            Item::Trait(t) => &t.attrs,
            Item::Type(t) => &t.attrs,
            _ => &[],
        };
        if is_test_only(attrs) {
            continue;
        }
        let mut paths = Vec::new();
        match item {
            Item::Use(u) => use_paths(&u.tree, &mut Vec::new(), &mut paths),
            Item::Mod(m) => {
                let mut inner = module.to_vec();
                inner.push(m.ident.to_string());
                match &m.content {
                    Some((_, items)) => scan_items(&inner, items, scan),
                    None => scan.children.push(m.ident.to_string()),
                }
                continue;
            }
            other => {
                let tokens = other.to_token_stream();
                for _ in 0..begin_calls(tokens.clone()) {
                    scan.begins.push(module.to_vec());
                }
                token_paths(tokens, &mut paths);
            }
        }
        for p in paths {
            if let Some(to) = resolve(module, &p) {
                scan.imports.push(Import {
                    from: module.to_vec(),
                    to,
                });
            }
        }
    }
}

/// The scan of `source`, a file holding `module`.
fn scan_source(module: &[String], source: &str) -> Scan {
    let file = syn::parse_file(source).unwrap_or_else(|e| panic!("{module:?}: {e}"));
    let mut scan = Scan::default();
    scan_items(module, &file.items, &mut scan);
    scan
}

/// The scan of every non-test module file of the crate at `src`, from `lib.rs` down its `mod`
/// declarations.
fn scan_crate(src: &Path) -> Scan {
    let mut all = Scan::default();
    // (file, its module path, the folder its children live in)
    let mut stack: Vec<(PathBuf, Vec<String>, PathBuf)> =
        vec![(src.join("lib.rs"), Vec::new(), src.to_path_buf())];
    while let Some((file, module, dir)) = stack.pop() {
        let text =
            std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let scan = scan_source(&module, &text);
        all.imports.extend(scan.imports);
        all.begins.extend(scan.begins);
        for child in scan.children {
            let mut m = module.clone();
            m.push(child.clone());
            let flat = dir.join(format!("{child}.rs"));
            let (path, child_dir) = if flat.exists() {
                (flat, dir.join(&child))
            } else {
                (dir.join(&child).join("mod.rs"), dir.join(&child))
            };
            stack.push((path, m, child_dir));
        }
    }
    all
}

/// The imports that lead to a higher rank than the module they are written in.
fn upward(imports: &[Import]) -> Vec<String> {
    let mut v: BTreeSet<String> = BTreeSet::new();
    for i in imports {
        let (Some((rf, nf)), Some((rt, nt))) = (rank(&i.from), rank(&i.to)) else {
            continue;
        };
        if rt > rf {
            v.insert(format!(
                "{} ({nf}, rank {rf}) imports crate::{} ({nt}, rank {rt})",
                i.from.join("::"),
                i.to.join("::")
            ));
        }
    }
    v.into_iter().collect()
}

/// The module a path leads to: its longest prefix that is a module of the crate.
fn module_of<'a>(modules: &'a BTreeSet<Vec<String>>, path: &[String]) -> Option<&'a Vec<String>> {
    (1..=path.len()).rev().find_map(|n| modules.get(&path[..n]))
}

/// Groups of modules that import each other in a circle (strongly connected components of
/// more than one module), each sorted.
fn cycles(imports: &[Import]) -> Vec<Vec<String>> {
    let modules: BTreeSet<Vec<String>> = imports.iter().map(|i| i.from.clone()).collect();
    let mut edges: BTreeMap<&Vec<String>, BTreeSet<&Vec<String>>> = BTreeMap::new();
    for i in imports {
        if let Some(to) = module_of(&modules, &i.to) {
            let from = modules.get(&i.from).expect("known");
            // A module and its own submodules form one unit: `super::` up to the parent
            // and `mod x` down to a child are not a circle between layers of code.
            if !to.starts_with(from) && !from.starts_with(to) {
                edges.entry(from).or_default().insert(to);
            }
        }
    }
    // Kosaraju: order by finish time, then walk the reversed graph.
    let nodes: Vec<&Vec<String>> = modules.iter().collect();
    let mut seen = BTreeSet::new();
    let mut order = Vec::new();
    for &n in &nodes {
        let mut stack = vec![(n, false)];
        while let Some((v, done)) = stack.pop() {
            if done {
                order.push(v);
                continue;
            }
            if !seen.insert(v) {
                continue;
            }
            stack.push((v, true));
            for &w in edges.get(v).into_iter().flatten() {
                if !seen.contains(w) {
                    stack.push((w, false));
                }
            }
        }
    }
    let mut reversed: BTreeMap<&Vec<String>, Vec<&Vec<String>>> = BTreeMap::new();
    for (&v, ws) in &edges {
        for &w in ws {
            reversed.entry(w).or_default().push(v);
        }
    }
    let mut assigned = BTreeSet::new();
    let mut groups = Vec::new();
    for &v in order.iter().rev() {
        if assigned.contains(v) {
            continue;
        }
        let mut group = Vec::new();
        let mut stack = vec![v];
        assigned.insert(v);
        while let Some(x) = stack.pop() {
            group.push(x.join("::"));
            for &w in reversed.get(x).into_iter().flatten() {
                if assigned.insert(w) {
                    stack.push(w);
                }
            }
        }
        if group.len() > 1 {
            group.sort();
            groups.push(group);
        }
    }
    groups.sort();
    groups
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn every_import_points_down_the_layers() {
    let imports = scan_crate(&src()).imports;
    assert!(
        imports.len() > 200,
        "the scan found the crate's imports: {}",
        imports.len()
    );
    let v = upward(&imports);
    assert!(
        v.is_empty(),
        "{} upward import(s); move the code down a layer or pass what it needs:\n{}",
        v.len(),
        v.join("\n")
    );
}

#[test]
fn no_modules_import_each_other_in_a_circle() {
    let c = cycles(&scan_crate(&src()).imports);
    assert!(
        c.is_empty(),
        "{} circle(s) of modules importing each other:\n{}",
        c.len(),
        c.iter()
            .map(|g| g.join(" ⇄ "))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Transactions are visible at the service layer: one service call, one transaction. The
/// `http` layer parses, authorises, calls services and renders; it never opens a `Tx` itself.
#[test]
fn no_transaction_opens_above_the_services() {
    let scan = scan_crate(&src());
    assert!(
        scan.begins
            .iter()
            .any(|m| m.first().is_some_and(|s| s == "services")),
        "the scan finds the services' transactions"
    );
    let above: BTreeSet<String> = scan
        .begins
        .iter()
        .filter(|m| m.first().is_some_and(|s| s == "http"))
        .map(|m| m.join("::"))
        .collect();
    assert!(
        above.is_empty(),
        "these http modules open a transaction; move the writes into a service:\n{}",
        above.into_iter().collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn a_transaction_in_a_handler_is_seen() {
    let source = r#"
        async fn save(state: AppState) { let mut tx = state.db.begin().await?; }
        fn unrelated(x: X) { x.begin_at(1); x.begin(2); }
        #[cfg(test)]
        mod tests { async fn t(db: Db) { db.begin().await.unwrap(); } }
    "#;
    assert_eq!(
        scan_source(&m("http::routes::records"), source)
            .begins
            .len(),
        1
    );
}

fn m(path: &str) -> Vec<String> {
    path.split("::").map(str::to_owned).collect()
}

#[test]
fn an_upward_import_is_reported_and_test_code_is_not() {
    let source = r#"
        use crate::storage::Db;
        use crate::{http::state::AppState, i18n::Msg};
        use super::super::super::cli;
        pub fn f() -> String { maud::html! { (crate::http::pages::district_name()) }.0 }
        #[cfg(test)]
        mod tests { use crate::http::router::app; }
    "#;
    let imports = scan_source(&m("services::flights::record"), source).imports;
    assert_eq!(
        upward(&imports),
        [
            "services::flights::record (services, rank 4) imports crate::cli (cli, rank 9)",
            "services::flights::record (services, rank 4) imports crate::http::pages::district_name (http (pages, extractors, errors, server), rank 6)",
            "services::flights::record (services, rank 4) imports crate::http::state::AppState (http::state, rank 5)",
        ]
    );
}

#[test]
fn a_circle_between_two_route_modules_is_reported() {
    let imp = |from: &str, to: &str| Import {
        from: m(from),
        to: m(to),
    };
    let imports = [
        imp(
            "http::routes::flights",
            "http::routes::records::DraftSource",
        ),
        imp(
            "http::routes::records",
            "http::routes::flights::FLIGHT_READERS",
        ),
        imp("http::routes::records", "http::state::AppState"),
        imp("http::state", "storage::Db"),
        imp("storage", "i18n::JST"),
        // A module and its children are one unit.
        imp("http::routes::records", "http::routes::records::lists::x"),
        imp(
            "http::routes::records::lists",
            "http::routes::records::READERS",
        ),
    ];
    assert_eq!(
        cycles(&imports),
        [vec![
            "http::routes::flights".to_owned(),
            "http::routes::records".to_owned()
        ]]
    );
}
