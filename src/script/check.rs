//! Static checks of a compiled script: every function it calls must exist with that number of
//! arguments. Rhai resolves calls only at run time; checking first means a typo on line 30 is
//! reported before line 10 cancels anything.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::OnceLock;

use rhai::{AST, ASTNode, Engine, Expr, Position, Stmt};

use super::docs;
use super::engine::SourceText;
use super::errors::{self, ScriptError, Span};
use crate::exit::Exit;

/// Language keywords that look like calls but are not registered functions.
const KEYWORDS: &[&str] = &[
    "print",
    "debug",
    "type_of",
    "Fn",
    "call",
    "curry",
    "is_shared",
    "is_def_var",
    "is_def_fn",
    "eval",
];

/// Every function an engine can call, by name, with the argument counts it accepts.
#[derive(Debug, Default)]
pub(crate) struct KnownFunctions {
    arities: BTreeMap<String, BTreeSet<usize>>,
    /// clobscript's own signatures by name, read from the API metadata when an error first
    /// needs them (not on the way to a script's first request).
    signatures: OnceLock<BTreeMap<String, Vec<String>>>,
}

impl KnownFunctions {
    /// Reads the engine's registered functions (standard library included).
    pub(crate) fn of(engine: &Engine) -> KnownFunctions {
        let mut known = KnownFunctions::default();
        for signature in engine.gen_fn_signatures(true) {
            // Functions of static modules are listed as `module::name(...)`.
            // (Only the name is qualified: parameter types may be Rust paths too.)
            let name_end = signature.find('(').unwrap_or(signature.len());
            let unqualified = signature[..name_end]
                .rfind("::")
                .map_or(signature.as_str(), |at| &signature[at + 2..]);
            if let Some((name, arity)) = parse_signature(unqualified) {
                known.arities.entry(name).or_default().insert(arity);
            }
        }
        known
    }

    pub(crate) fn contains(&self, name: &str) -> bool {
        self.arities.contains_key(name)
    }

    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.arities.keys().map(String::as_str)
    }

    /// How clobscript's own function `name` is called (empty for other names).
    pub(crate) fn signatures_of(&self, name: &str) -> Vec<String> {
        let signatures = self.signatures.get_or_init(|| {
            let mut by_name: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for area in docs::areas() {
                for f in &area.functions {
                    by_name
                        .entry(f.name.clone())
                        .or_default()
                        .push(format!("`{}`", f.signature()));
                }
            }
            by_name
        });
        signatures.get(name).cloned().unwrap_or_default()
    }

    fn arities_of(&self, name: &str) -> Option<&BTreeSet<usize>> {
        self.arities.get(name)
    }
}

/// `name(a: T, b: U) -> R` → (`name`, 2).
fn parse_signature(signature: &str) -> Option<(String, usize)> {
    let open = signature.find('(')?;
    let name = signature[..open].trim();
    let mut depth = 0usize;
    let mut arity = 0usize;
    let mut any = false;
    for c in signature[open + 1..].chars() {
        match c {
            '(' | '<' | '[' => depth += 1,
            ')' if depth == 0 => break,
            ')' | '>' | ']' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => arity += 1,
            c if !c.is_whitespace() => any = true,
            _ => {}
        }
    }
    Some((name.to_owned(), if any { arity + 1 } else { 0 }))
}

/// One call in the script.
struct CallSite {
    name: String,
    position: Position,
    arguments: usize,
    method: bool,
}

fn call_sites(ast: &AST) -> Vec<CallSite> {
    let mut calls = Vec::new();
    ast.walk(&mut |path: &[ASTNode]| {
        let (call, position, method) = match path.last() {
            Some(ASTNode::Expr(Expr::FnCall(call, position)))
            | Some(ASTNode::Stmt(Stmt::FnCall(call, position))) => (call, position, false),
            Some(ASTNode::Expr(Expr::MethodCall(call, position))) => (call, position, true),
            _ => return true,
        };
        if call.namespace.is_empty() && !call.is_operator_call() {
            calls.push(CallSite {
                name: call.name.to_string(),
                position: *position,
                arguments: call.args.len(),
                method,
            });
        }
        true
    });
    calls
}

/// The script's own functions as (name, parameter count).
pub(crate) fn script_functions(ast: &AST) -> Vec<(String, usize)> {
    ast.iter_functions()
        .map(|f| (f.name.to_owned(), f.params.len()))
        .collect()
}

/// Every call to a function that does not exist (or not with that many arguments).
pub(crate) fn unknown_calls(
    known: &KnownFunctions,
    ast: &AST,
    source: &SourceText,
) -> Vec<ScriptError> {
    let own = script_functions(ast);
    let own_names: HashSet<&str> = own.iter().map(|(n, _)| n.as_str()).collect();
    let mut problems = Vec::new();
    let mut reported = HashSet::new();
    let mut calls = call_sites(ast);
    calls.sort_by_key(|c| (c.position.line(), c.position.position()));
    for call in calls {
        let name = call.name.as_str();
        if KEYWORDS.contains(&name) || !reported.insert((call.position, name.to_owned())) {
            continue;
        }
        // A method call passes its receiver as the first argument to native functions, and
        // as `this` to script functions.
        let native_arity = call.arguments + usize::from(call.method);
        if own
            .iter()
            .any(|(n, params)| n == name && *params == call.arguments)
        {
            continue;
        }
        let span = Span::at(call.position, name.chars().count());
        match known.arities_of(name) {
            Some(arities) if arities.contains(&native_arity) => {}
            Some(arities) => {
                let given = call.arguments;
                let expected = arities
                    .iter()
                    .map(|a| a.saturating_sub(usize::from(call.method)).to_string())
                    .collect::<Vec<_>>()
                    .join(" or ");
                let mut notes = Vec::new();
                let signatures = known.signatures_of(name);
                if !signatures.is_empty() {
                    notes.push(format!("help: it is called as {}", signatures.join(" or ")));
                }
                problems.push(errors::located(
                    Exit::Usage,
                    format!(
                        "`{name}` takes {expected} argument{} but is given {given}",
                        if expected == "1" { "" } else { "s" }
                    ),
                    source,
                    span,
                    &notes,
                ));
            }
            None if own_names.contains(name) => {
                let params = own
                    .iter()
                    .filter(|(n, _)| n == name)
                    .map(|(_, p)| p.to_string())
                    .collect::<Vec<_>>()
                    .join(" or ");
                problems.push(errors::located(
                    Exit::Usage,
                    format!(
                        "`{name}` takes {params} argument{} but is given {}",
                        if params == "1" { "" } else { "s" },
                        call.arguments
                    ),
                    source,
                    span,
                    &[],
                ));
            }
            None => {
                let candidates = known.names().chain(own_names.iter().copied());
                let notes = errors::suggest(name, candidates)
                    .map(|s| vec![format!("help: did you mean `{s}`?")])
                    .unwrap_or_default();
                problems.push(errors::located(
                    Exit::Usage,
                    format!("unknown function `{name}`"),
                    source,
                    span,
                    &notes,
                ));
            }
        }
    }
    problems
}

/// The script parameters a script reads: names given to `arg()` as string literals and read
/// from `ARGS` as `ARGS.name`, `ARGS["name"]` or `"name" in ARGS`. `dynamic` is set when it
/// reads them in a way whose names cannot be known before it runs (`ARGS` passed to a
/// function or iterated, `arg(name_variable)`): then every name is accepted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ParamReads {
    pub(crate) names: BTreeSet<String>,
    pub(crate) dynamic: bool,
}

fn literal(expr: &Expr) -> Option<&str> {
    match expr {
        Expr::StringConstant(text, _) => Some(text.as_str()),
        _ => None,
    }
}

fn is_args(expr: &Expr) -> bool {
    matches!(expr, Expr::Variable(v, ..) if v.1 == "ARGS" && v.2.is_empty())
}

/// The first link of a chain's right-hand side (`ARGS.a.b` is `ARGS` . (`a` . `b`)).
fn first_link(expr: &Expr) -> &Expr {
    match expr {
        Expr::Dot(bin, ..) | Expr::Index(bin, ..) => first_link(&bin.lhs),
        other => other,
    }
}

/// Adds what `ast` reads to `reads`.
pub(crate) fn param_reads(ast: &AST, reads: &mut ParamReads) {
    ast.walk(&mut |path: &[ASTNode]| {
        let Some(node) = path.last() else {
            return true;
        };
        match node {
            ASTNode::Expr(Expr::FnCall(call, _)) | ASTNode::Stmt(Stmt::FnCall(call, _))
                if call.namespace.is_empty() && call.name == "arg" =>
            {
                match call.args.first().and_then(literal) {
                    Some(name) => {
                        reads.names.insert(name.to_owned());
                    }
                    None => reads.dynamic = true,
                }
            }
            ASTNode::Expr(Expr::MethodCall(call, _)) if call.name == "arg" => reads.dynamic = true,
            ASTNode::Expr(var) if is_args(var) => {
                let parent = path.len().checked_sub(2).and_then(|i| path.get(i));
                if !args_read_known(parent, var, reads) {
                    reads.dynamic = true;
                }
            }
            _ => {}
        }
        true
    });
}

/// Whether the use of `ARGS` (`var`) inside `parent` reads only names known here (which are
/// added to `reads`).
fn args_read_known(parent: Option<&ASTNode>, var: &Expr, reads: &mut ParamReads) -> bool {
    let mut known = |name: &str| {
        reads.names.insert(name.to_owned());
        true
    };
    match parent {
        Some(ASTNode::Expr(Expr::Dot(bin, ..))) if std::ptr::eq(&raw const bin.lhs, var) => {
            match first_link(&bin.rhs) {
                Expr::Property(property, _) => known(property.2.as_str()),
                Expr::MethodCall(call, _) => match call.name.as_str() {
                    "contains" | "get" => call.args.first().and_then(literal).is_some_and(known),
                    "len" | "is_empty" => true,
                    _ => false,
                },
                _ => false,
            }
        }
        Some(ASTNode::Expr(Expr::Index(bin, ..))) if std::ptr::eq(&raw const bin.lhs, var) => {
            literal(first_link(&bin.rhs)).is_some_and(known)
        }
        Some(ASTNode::Expr(Expr::FnCall(call, _)) | ASTNode::Stmt(Stmt::FnCall(call, _)))
            if call.name == "contains"
                && call.args.len() == 2
                && std::ptr::eq(&raw const call.args[0], var) =>
        {
            literal(&call.args[1]).is_some_and(known)
        }
        _ => false,
    }
}

/// The modules a script imports by a literal path, with where.
pub(crate) fn imports(ast: &AST) -> Vec<(String, Position)> {
    let mut found = Vec::new();
    ast.walk(&mut |path: &[ASTNode]| {
        if let Some(ASTNode::Stmt(Stmt::Import(import, position))) = path.last()
            && let Some(name) = literal(&import.0)
        {
            found.push((name.to_owned(), *position));
        }
        true
    });
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reads(text: &str) -> ParamReads {
        let ast = Engine::new().compile(text).expect("compiles");
        let mut reads = ParamReads::default();
        param_reads(&ast, &mut reads);
        reads
    }

    #[test]
    fn parameter_reads_are_found_by_literal_name() {
        let found = reads(
            "let a = arg(\"a\", 1); let b = ARGS.b; let c = ARGS[\"c\"];\n\
             let d = \"d\" in ARGS; let e = ARGS.contains(\"e\"); let n = ARGS.len();\n\
             fn f() { arg(\"f\") }",
        );
        assert!(!found.dynamic, "{found:?}");
        let names: Vec<&str> = found.names.iter().map(String::as_str).collect();
        assert_eq!(names, ["a", "b", "c", "d", "e", "f"]);
    }

    #[test]
    fn dynamic_parameter_reads_accept_any_name() {
        for text in [
            "fn g(x) { x } g(ARGS)",
            "let k = \"a\"; arg(k, 1)",
            "for key in ARGS.keys() { print(key) }",
            "let k = \"a\"; ARGS[k]",
            "let copy = ARGS;",
        ] {
            assert!(reads(text).dynamic, "{text}");
        }
    }

    #[test]
    fn signatures_are_parsed_to_name_and_arity() {
        assert_eq!(parse_signature("now() -> int"), Some(("now".into(), 0)));
        assert_eq!(
            parse_signature("cancel_market(market: string, asset_id: string) -> map"),
            Some(("cancel_market".into(), 2))
        );
        assert_eq!(
            parse_signature("f(a: Array, b: Result<A, B>) -> X"),
            Some(("f".into(), 2))
        );
    }
}
