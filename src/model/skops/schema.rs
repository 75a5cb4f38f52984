//! `schema.json`: the tree of skops nodes describing the saved object, and the allowlist.
//!
//! skops writes every Python object as a node: `{"__class__", "__module__", "__loader__",
//! "content", ...}`. An estimator is an `ObjectNode` whose content is a `DictNode` of its
//! attributes; a number or string is a `JsonNode` holding JSON *text* (`"3"`, `"\"gini\""`,
//! `"NaN"`); an array is an `NdArrayNode` naming a `.npy` entry (`"type": "numpy"`, `"file"`)
//! or, for object arrays, listing its items (`"type": "json"`, `"content"`, `"shape"`);
//! `sklearn.tree._tree.Tree` is a `TreeNode` with `__reduce__.args` = (n_features, n_classes,
//! n_outputs) and content {max_depth, node_count, nodes, values}.
//!
//! Before any attribute is read, the whole document is checked against [`allowlist`]: every
//! node's loader and `module.class` must be one this loader knows. Nothing is ever
//! constructed or called — the check exists so that a file holding anything else (a
//! pipeline, a custom estimator, a function) is refused by name instead of half-read.

use super::allowlist;
use super::archive::{Archive, syntax};
use super::npy::Npy;
use crate::error::{Error, Result};
use serde_json::Value;

/// One node of the schema with the attribute path that led to it, for error messages.
#[derive(Clone)]
pub struct Node<'a> {
    v: &'a Value,
    pub path: String,
    zip: &'a Archive<'a>,
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

impl<'a> Node<'a> {
    pub fn root(v: &'a Value, zip: &'a Archive<'a>) -> Self {
        Node {
            v,
            path: String::new(),
            zip,
        }
    }

    fn child(&self, v: &'a Value, segment: String) -> Node<'a> {
        Node {
            v,
            path: format!("{}{segment}", self.path),
            zip: self.zip,
        }
    }

    pub fn class(&self) -> &'a str {
        text(self.v, "__class__")
    }

    pub fn module(&self) -> &'a str {
        text(self.v, "__module__")
    }

    pub fn loader(&self) -> &'a str {
        text(self.v, "__loader__")
    }

    pub fn err(&self, message: impl Into<String>) -> Error {
        let at = if self.path.is_empty() {
            "schema.json".to_string()
        } else {
            format!("schema.json {}", self.path.trim_start_matches('.'))
        };
        Error::model(at, message)
    }

    /// The attribute map of an object (its `DictNode` content) or of a dict node itself.
    fn members(&self) -> Option<&'a serde_json::Map<String, Value>> {
        let dict = match self.loader() {
            "DictNode" => self.v,
            _ => self.v.get("content")?,
        };
        if text(dict, "__loader__") != "DictNode" {
            return None;
        }
        dict.get("content")?.as_object()
    }

    /// Attribute `name`, if present.
    pub fn attr(&self, name: &str) -> Option<Node<'a>> {
        let v = self.members()?.get(name)?;
        Some(self.child(v, format!(".{name}")))
    }

    /// Attribute `name`, or an error naming it.
    pub fn req(&self, name: &str) -> Result<Node<'a>> {
        self.attr(name).ok_or_else(|| {
            self.err(format!(
                "{} has no attribute {name:?}; was it fitted?",
                self.class()
            ))
        })
    }

    /// The text of a `JsonNode`.
    fn json_text(&self) -> Result<&'a str> {
        if self.loader() != "JsonNode" {
            return Err(self.err(format!("expected a plain value, found a {}", self.loader())));
        }
        self.v
            .get("content")
            .and_then(Value::as_str)
            .ok_or_else(|| self.err("a JsonNode without text content"))
    }

    /// The JSON value of a `JsonNode`. Python's `json.dumps` also writes `NaN` and
    /// `Infinity`, which are not JSON: read those with [`Node::as_f64`].
    pub fn json(&self) -> Result<Value> {
        let t = self.json_text()?.trim();
        serde_json::from_str(t).map_err(|e| self.err(format!("bad JSON value {t:?}: {e}")))
    }

    /// True for an array stored as a `.npy` entry (rather than as a list of items).
    pub fn is_npy(&self) -> bool {
        self.loader() == "NdArrayNode" && text(self.v, "type") == "numpy"
    }

    pub fn is_null(&self) -> bool {
        self.json_text()
            .map(|t| t.trim() == "null")
            .unwrap_or(false)
    }

    /// A number: a `JsonNode` or a numpy scalar (a 0-d `.npy`, as `np.int64` attributes are).
    pub fn as_f64(&self) -> Result<f64> {
        if self.loader() == "NdArrayNode" {
            let a = self.array()?;
            return match a.f64s()?.as_slice() {
                [x] => Ok(*x),
                _ => Err(self.err("expected a single number")),
            };
        }
        match self.json_text()?.trim() {
            "NaN" => Ok(f64::NAN),
            "Infinity" => Ok(f64::INFINITY),
            "-Infinity" => Ok(f64::NEG_INFINITY),
            _ => self
                .json()?
                .as_f64()
                .ok_or_else(|| self.err("expected a number")),
        }
    }

    pub fn as_i64(&self) -> Result<i64> {
        let x = self.as_f64()?;
        if x.fract() == 0.0 && x.abs() < 9.0e15 {
            Ok(x as i64)
        } else {
            Err(self.err(format!("expected an integer, found {x}")))
        }
    }

    /// A count or index: a non-negative integer.
    pub fn as_usize(&self) -> Result<usize> {
        let n = self.as_i64()?;
        usize::try_from(n)
            .map_err(|_| self.err(format!("expected a non-negative integer, found {n}")))
    }

    pub fn as_str(&self) -> Result<String> {
        match self.json()? {
            Value::String(s) => Ok(s),
            _ => Err(self.err("expected a string")),
        }
    }

    /// The items of a list, tuple, or object array (`NdArrayNode` of type json).
    pub fn items(&self) -> Result<Vec<Node<'a>>> {
        let ok = matches!(self.loader(), "ListNode" | "TupleNode")
            || (self.loader() == "NdArrayNode" && text(self.v, "type") == "json");
        let list = self
            .v
            .get("content")
            .and_then(Value::as_array)
            .filter(|_| ok)
            .ok_or_else(|| self.err(format!("expected a list, found a {}", self.loader())))?;
        Ok(list
            .iter()
            .enumerate()
            .map(|(i, v)| self.child(v, format!("[{i}]")))
            .collect())
    }

    /// The `.npy` array of an `NdArrayNode` of type numpy, read from the zip.
    pub fn array(&self) -> Result<Npy> {
        if !self.is_npy() {
            return Err(self.err(format!(
                "expected a numeric array, found a {} {}",
                self.loader(),
                text(self.v, "type")
            )));
        }
        let file = self
            .v
            .get("file")
            .and_then(Value::as_str)
            .ok_or_else(|| self.err("an array node without a file"))?;
        let bytes = self.zip.read(file)?;
        Npy::parse(file, &bytes)
    }

    /// Strings of an object array or list (feature names, category names); numeric arrays
    /// give their numbers as a person writes them.
    pub fn strings(&self) -> Result<Vec<String>> {
        if self.is_npy() {
            let values = self.array()?.f64s()?;
            return Ok(values
                .into_iter()
                .map(crate::model::xgboost::format_number)
                .collect());
        }
        self.items()?
            .iter()
            .map(|n| match n.json()? {
                Value::String(s) => Ok(s),
                Value::Number(x) => Ok(x
                    .as_f64()
                    .map(crate::model::xgboost::format_number)
                    .unwrap_or_else(|| x.to_string())),
                _ => Err(n.err("expected a string")),
            })
            .collect()
    }

    /// Arguments of a `TreeNode`/`LossNode`'s constructor (`__reduce__.args`).
    pub fn reduce_args(&self) -> Result<Vec<Node<'a>>> {
        let args = self
            .v
            .get("__reduce__")
            .and_then(|r| r.get("args"))
            .ok_or_else(|| self.err("a reduced object without __reduce__.args"))?;
        self.child(args, ".__reduce__.args".into()).items()
    }
}

/// Parse `schema.json` and refuse protocols newer than this reader; [`check`] walks it.
pub fn parse(bytes: &[u8]) -> Result<Value> {
    let doc: Value = serde_json::from_slice(bytes).map_err(|e| {
        syntax(
            format!("schema.json line {}, column {}", e.line(), e.column()),
            e.to_string(),
        )
    })?;
    if let Some(p) = doc.get("protocol").and_then(Value::as_i64)
        && !(0..=allowlist::MAX_PROTOCOL).contains(&p)
    {
        return Err(Error::Unsupported(format!(
            "skops protocol {p} is newer than the {} this reader knows; re-save with skops ≤ 0.16",
            allowlist::MAX_PROTOCOL
        )));
    }
    Ok(doc)
}

/// Every node in `v` must have a known loader and an allowed `module.class`.
pub fn check(v: &Value, path: &mut String) -> Result<()> {
    match v {
        Value::Object(members) => {
            if members.contains_key("__class__") || members.contains_key("__loader__") {
                let (class, module, loader) = (
                    text(v, "__class__"),
                    text(v, "__module__"),
                    text(v, "__loader__"),
                );
                let at = if path.is_empty() {
                    "the root"
                } else {
                    path.trim_start_matches('.')
                };
                if !allowlist::LOADERS.contains(&loader) {
                    return Err(Error::Unsupported(format!(
                        "the skops file stores {module}.{class} at {at} with a {loader:?} node, \
                         which shaplab does not read (nothing in a skops file is executed). {}",
                        allowlist::accepted()
                    )));
                }
                if !allowlist::allowed(module, class) {
                    return Err(Error::Unsupported(format!(
                        "class {class} (module {module}) at {at} is not on shaplab's skops \
                         allowlist; nothing in a skops file is executed, so unknown classes are \
                         refused. {}",
                        allowlist::accepted()
                    )));
                }
            }
            for (k, child) in members {
                let len = path.len();
                if k != "content" {
                    path.push('.');
                    path.push_str(k);
                }
                check(child, path)?;
                path.truncate(len);
            }
            Ok(())
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                check(child, path)?;
                path.truncate(len);
            }
            Ok(())
        }
        _ => Ok(()),
    }
}
