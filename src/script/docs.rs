//! The script API reference, generated from the engine's own function metadata: the doc
//! comments of the `#[export_module]` functions in [`super::api`] are the help text, so
//! `clobscript docs`, the REPL's `:help` and completion never drift from what is registered.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use rhai::Engine;
use serde::Deserialize;

use super::api::AREAS;
use super::errors::rhai_type_name;

/// One overload of a script function, as the reference documents it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FnDoc {
    /// The API area it belongs to (`orders`, `cancels`, `time`, ...).
    pub area: String,
    pub name: String,
    /// `(name, type)` of each parameter, with script type names (`string`, `int`, `map`, …).
    pub params: Vec<(String, String)>,
    /// The script type it returns.
    pub returns: String,
    /// The doc comment, without comment markers (Markdown).
    pub doc: String,
}

impl FnDoc {
    /// `cancel_market(market: string, asset_id: string) -> map`.
    pub fn signature(&self) -> String {
        let params = self
            .params
            .iter()
            .map(|(name, ty)| format!("{name}: {ty}"))
            .collect::<Vec<_>>()
            .join(", ");
        match self.returns.as_str() {
            "()" | "" => format!("{}({params})", self.name),
            returns => format!("{}({params}) -> {returns}", self.name),
        }
    }

    /// The first sentence of the doc comment (its lines joined), for one-line listings.
    pub fn summary(&self) -> String {
        let paragraph = self
            .doc
            .lines()
            .map(str::trim)
            .take_while(|line| !line.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        match paragraph.find(". ") {
            Some(end) => paragraph[..=end].to_owned(),
            None => paragraph,
        }
    }
}

/// One area of the API: its introduction and its functions.
#[derive(Clone, Debug)]
pub struct AreaDoc {
    pub name: String,
    /// The heading the reference gives it (`Orders and trades`).
    pub title: String,
    pub doc: String,
    pub functions: Vec<FnDoc>,
}

#[derive(Deserialize)]
struct MetadataJson {
    #[serde(default)]
    modules: BTreeMap<String, ModuleJson>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ModuleJson {
    #[serde(default)]
    functions: Vec<FunctionJson>,
    #[serde(default)]
    doc: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FunctionJson {
    name: String,
    namespace: String,
    #[serde(default)]
    params: Vec<ParamJson>,
    #[serde(default)]
    return_type: String,
    #[serde(default)]
    doc_comments: Vec<String>,
}

#[derive(Deserialize)]
struct ParamJson {
    name: Option<String>,
    #[serde(rename = "type")]
    ty: Option<String>,
}

/// Strips `///` / `/** */` markers from Rhai doc comments.
fn clean_comment(comments: &[String]) -> String {
    let mut lines = Vec::new();
    for block in comments {
        for line in block.lines() {
            let line = line.trim_start();
            let text = line
                .strip_prefix("///")
                .or_else(|| line.strip_prefix("/**"))
                .or_else(|| line.strip_prefix("*/"))
                .or_else(|| line.strip_prefix('*'))
                .unwrap_or(line);
            let text = text.strip_prefix(' ').unwrap_or(text);
            lines.push(text.trim_end_matches("*/").trim_end().to_owned());
        }
    }
    lines.join("\n").trim().to_owned()
}

/// `Result<Array, Box<EvalAltResult>>` → `array`.
fn return_type(raw: &str) -> String {
    let inner = raw
        .strip_prefix("Result<")
        .and_then(|rest| rest.split_once(','))
        .map_or(raw, |(ok, _)| ok);
    rhai_type_name(inner).to_owned()
}

/// The API areas in reference order, each with its functions, read from the metadata of the
/// very modules the script engine registers (here as named modules, so they stay grouped).
pub(crate) fn areas() -> Vec<AreaDoc> {
    let mut engine = Engine::new_raw();
    for (name, module) in super::api::modules() {
        engine.register_static_module(name, module.into());
    }
    let json = engine.gen_fn_metadata_to_json(false).unwrap_or_default();
    let metadata: MetadataJson = serde_json::from_str(&json).unwrap_or(MetadataJson {
        modules: BTreeMap::new(),
    });
    let mut modules = metadata.modules;
    AREAS
        .iter()
        .filter_map(|area| {
            let module = modules.remove(area.name)?;
            let mut functions: Vec<FnDoc> = module
                .functions
                .into_iter()
                .filter(|f| f.namespace == "global")
                .map(|f| FnDoc {
                    area: area.name.to_owned(),
                    params: f
                        .params
                        .iter()
                        .map(|p| {
                            (
                                p.name.clone().unwrap_or_else(|| "_".into()),
                                rhai_type_name(p.ty.as_deref().unwrap_or("?")).to_owned(),
                            )
                        })
                        .collect(),
                    returns: return_type(&f.return_type),
                    doc: clean_comment(&f.doc_comments),
                    name: f.name,
                })
                .collect();
            // Rhai lists overloads of equal arity in no fixed order; the reference must be
            // stable.
            functions.sort_by_cached_key(|f| (f.name.clone(), f.params.len(), f.signature()));
            Some(AreaDoc {
                name: area.name.to_owned(),
                title: area.title.to_owned(),
                doc: clean_comment(&[module.doc]),
                functions,
            })
        })
        .collect()
}

/// The whole reference as Markdown.
pub(crate) fn markdown(areas: &[AreaDoc]) -> String {
    let mut out = String::from(
        "# clobscript script API\n\n\
         Generated by `clobscript docs` from the functions registered in the script engine.\n\
         Every function below is callable from a playbook, the REPL and scheduled runs; the\n\
         Rhai language itself (and its standard library: strings, arrays with `filter`, `map`,\n\
         `sort`, `reduce`, maps, ...) is documented at <https://rhai.rs/book/>.\n",
    );
    for area in areas {
        let _ = write!(out, "\n## {}\n", area.title);
        if !area.doc.is_empty() {
            let _ = write!(out, "\n{}\n", area.doc);
        }
        // Overloads of one name share a heading; each keeps its own doc comment.
        let mut by_name: Vec<(&str, Vec<&FnDoc>)> = Vec::new();
        for f in &area.functions {
            match by_name.iter_mut().find(|(name, _)| *name == f.name) {
                Some((_, list)) => list.push(f),
                None => by_name.push((&f.name, vec![f])),
            }
        }
        for (name, overloads) in by_name {
            let _ = write!(out, "\n### `{name}`\n");
            for f in overloads {
                let _ = write!(out, "\n```\n{}\n```\n", f.signature());
                if !f.doc.is_empty() {
                    let _ = write!(out, "\n{}\n", f.doc);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_is_the_whole_first_sentence() {
        let f = FnDoc {
            area: "cancels".into(),
            name: "cancel_orders".into(),
            params: Vec::new(),
            returns: "map".into(),
            doc: "Cancels many orders (at most 3000 ids each) and merges\nthe results. Then more.\n\nDetails."
                .into(),
        };
        assert_eq!(
            f.summary(),
            "Cancels many orders (at most 3000 ids each) and merges the results."
        );
    }

    #[test]
    fn comments_and_types_are_cleaned_for_readers() {
        assert_eq!(
            clean_comment(&["/// First line.\n///\n/// Second `code`.".into()]),
            "First line.\n\nSecond `code`."
        );
        assert_eq!(return_type("Result<Array, Box<EvalAltResult>>"), "array");
        assert_eq!(return_type("i64"), "int");
        assert_eq!(return_type("ImmutableString"), "string");
    }
}
