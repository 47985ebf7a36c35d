//! Script parameters: `--arg KEY=VALUE` on the command line, `ARGS` and `arg()` in the script.
//!
//! Values are typed by their text: an integer becomes INT, a number with a decimal point or
//! exponent FLOAT, `true`/`false` BOOL, anything else a string. Numbers too large for an INT
//! (token ids have up to 78 digits) stay strings, and a value in double quotes is always a
//! string. `arg(name, default)` converts the raw text to the default's type instead, so
//! `arg("token", "")` returns a token id's exact digits.

use std::collections::BTreeMap;

use rhai::{Dynamic, Map};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ArgError {
    #[error("--arg `{0}` is not KEY=VALUE (write e.g. `--arg minutes=30`)")]
    Malformed(String),
    #[error(
        "--arg `{0}`: the name may only contain letters, digits, `_` and `-` (write e.g. `--arg minutes=30`)"
    )]
    BadName(String),
    #[error("--arg `{0}` is given twice; give each parameter once")]
    Duplicate(String),
}

/// The parameters given to one run, as raw text by name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScriptArgs {
    raw: BTreeMap<String, String>,
}

impl ScriptArgs {
    /// Parses `KEY=VALUE` items as given to `--arg`.
    pub fn parse<I, S>(items: I) -> Result<ScriptArgs, ArgError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut raw = BTreeMap::new();
        for item in items {
            let item = item.as_ref();
            let (key, value) = item
                .split_once('=')
                .ok_or_else(|| ArgError::Malformed(item.to_owned()))?;
            let key = key.trim();
            if key.is_empty() {
                return Err(ArgError::Malformed(item.to_owned()));
            }
            if !key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                return Err(ArgError::BadName(key.to_owned()));
            }
            if raw.insert(key.to_owned(), value.to_owned()).is_some() {
                return Err(ArgError::Duplicate(key.to_owned()));
            }
        }
        Ok(ScriptArgs { raw })
    }

    /// The raw text of one parameter.
    pub fn raw(&self, name: &str) -> Option<&str> {
        self.raw.get(name).map(String::as_str)
    }

    /// The names given, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.raw.keys().map(String::as_str)
    }

    /// Whether no parameter was given.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// The `ARGS` map: every parameter, typed by its text.
    pub fn to_map(&self) -> Map {
        self.raw
            .iter()
            .map(|(key, value)| (key.as_str().into(), typed(value)))
            .collect()
    }
}

/// Types a parameter by its text (see the module docs).
pub fn typed(text: &str) -> Dynamic {
    let trimmed = text.trim();
    if let Some(inner) = trimmed
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
    {
        return inner.into();
    }
    if let Ok(int) = trimmed.parse::<rhai::INT>() {
        return Dynamic::from_int(int);
    }
    let looks_decimal = trimmed.contains(['.', 'e', 'E'])
        && trimmed
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'));
    if looks_decimal
        && let Ok(float) = trimmed.parse::<rhai::FLOAT>()
        && float.is_finite()
    {
        return Dynamic::from_float(float);
    }
    match trimmed {
        "true" => Dynamic::TRUE,
        "false" => Dynamic::FALSE,
        _ => text.into(),
    }
}

/// Converts a parameter's raw text to the type of the script's default value.
pub fn coerce(name: &str, raw: &str, default: &Dynamic) -> Result<Dynamic, String> {
    let text = raw.trim();
    let wrong = |expected: &str| {
        format!(
            "--arg {name}={raw}: expected {expected} (the script's default is {})",
            describe(default)
        )
    };
    if default.is_string() {
        Ok(raw.into())
    } else if default.is_int() {
        text.parse::<rhai::INT>()
            .map(Dynamic::from_int)
            .map_err(|_| wrong("a whole number"))
    } else if default.is_float() {
        match text.parse::<rhai::FLOAT>() {
            Ok(v) if v.is_finite() => Ok(Dynamic::from_float(v)),
            _ => Err(wrong("a number")),
        }
    } else if default.is_bool() {
        match text.to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" => Ok(Dynamic::TRUE),
            "false" | "no" | "0" => Ok(Dynamic::FALSE),
            _ => Err(wrong("true or false")),
        }
    } else {
        Ok(typed(raw))
    }
}

fn describe(value: &Dynamic) -> String {
    if value.is_string() {
        format!("{:?}", value.to_string())
    } else {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_typed_by_their_text() {
        let args = ScriptArgs::parse([
            "minutes=30",
            "distance=0.05",
            "dry=true",
            "market=0xabc",
            "token=71321045679252212594626385532706912750332728571942532289631379312455583992563",
            "quoted=\"42\"",
            "empty=",
            "neg=-3",
        ])
        .expect("parses");
        let map = args.to_map();
        assert_eq!(map["minutes"].as_int(), Ok(30));
        assert_eq!(map["distance"].as_float(), Ok(0.05));
        assert_eq!(map["dry"].as_bool(), Ok(true));
        assert_eq!(map["market"].clone().into_string().as_deref(), Ok("0xabc"));
        assert!(map["token"].is_string());
        assert_eq!(map["quoted"].clone().into_string().as_deref(), Ok("42"));
        assert_eq!(map["empty"].clone().into_string().as_deref(), Ok(""));
        assert_eq!(map["neg"].as_int(), Ok(-3));
    }

    #[test]
    fn malformed_duplicate_and_badly_named_args_are_refused() {
        assert_eq!(
            ScriptArgs::parse(["minutes"]),
            Err(ArgError::Malformed("minutes".into()))
        );
        assert_eq!(
            ScriptArgs::parse(["a=1", "a=2"]),
            Err(ArgError::Duplicate("a".into()))
        );
        assert_eq!(
            ScriptArgs::parse(["a b=1"]),
            Err(ArgError::BadName("a b".into()))
        );
    }

    #[test]
    fn coercion_follows_the_default_and_explains_mismatches() {
        let token = "1234567890123";
        assert_eq!(
            coerce("token", token, &"".into())
                .expect("string")
                .into_string()
                .as_deref(),
            Ok(token)
        );
        assert_eq!(
            coerce("distance", "1", &Dynamic::from_float(0.05))
                .expect("float")
                .as_float(),
            Ok(1.0)
        );
        let err = coerce("minutes", "soon", &Dynamic::from_int(30)).unwrap_err();
        assert_eq!(
            err,
            "--arg minutes=soon: expected a whole number (the script's default is 30)"
        );
    }
}
