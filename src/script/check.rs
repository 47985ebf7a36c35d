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

#[cfg(test)]
mod tests {
    use super::*;

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
