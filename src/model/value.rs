//! A small document tree shared by the XGBoost JSON and UBJSON loaders.
//!
//! UBJSON's typed arrays (`[$d#L…`) stay typed here instead of becoming one boxed value per
//! number, and JSON is converted into the same shape, so one loader reads both formats.

use crate::error::{Error, Result};

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Array(Vec<Value>),
    Object(Vec<(String, Value)>),
    F32s(Vec<f32>),
    F64s(Vec<f64>),
    Ints(Vec<i64>),
    U8s(Vec<u8>),
}

impl From<serde_json::Value> for Value {
    fn from(v: serde_json::Value) -> Self {
        match v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            serde_json::Value::String(s) => Value::Str(s),
            serde_json::Value::Array(a) => Value::Array(a.into_iter().map(Value::from).collect()),
            serde_json::Value::Object(o) => {
                Value::Object(o.into_iter().map(|(k, v)| (k, Value::from(v))).collect())
            }
        }
    }
}

/// A value with the path that led to it, so every error can say where it happened.
#[derive(Clone)]
pub struct At<'a> {
    pub value: &'a Value,
    pub path: String,
}

impl<'a> At<'a> {
    pub fn root(value: &'a Value) -> Self {
        At {
            value,
            path: String::new(),
        }
    }

    pub fn err(&self, message: impl Into<String>) -> Error {
        let path = if self.path.is_empty() {
            "/"
        } else {
            &self.path
        };
        Error::model(path, message)
    }

    /// Member `key` of an object, if present.
    pub fn get(&self, key: &str) -> Option<At<'a>> {
        match self.value {
            Value::Object(members) => {
                let v = members.iter().find(|(k, _)| k == key).map(|(_, v)| v)?;
                Some(At {
                    value: v,
                    path: format!("{}/{}", self.path, key),
                })
            }
            _ => None,
        }
    }

    /// Member `key` of an object, or an error naming it.
    pub fn req(&self, key: &str) -> Result<At<'a>> {
        self.get(key)
            .ok_or_else(|| self.err(format!("missing required field {key:?}")))
    }

    /// Element `i` of an untyped array.
    pub fn index(&self, i: usize) -> Result<At<'a>> {
        let v = self
            .as_array()?
            .get(i)
            .ok_or_else(|| self.err(format!("no element {i}")))?;
        Ok(At {
            value: v,
            path: format!("{}/{}", self.path, i),
        })
    }

    pub fn as_str(&self) -> Result<&'a str> {
        match self.value {
            Value::Str(s) => Ok(s),
            _ => Err(self.err("expected a string")),
        }
    }

    pub fn as_i64(&self) -> Result<i64> {
        match self.value {
            Value::Int(i) => Ok(*i),
            Value::Str(s) => s
                .trim()
                .parse()
                .map_err(|_| self.err(format!("expected an integer, found {s:?}"))),
            _ => Err(self.err("expected an integer")),
        }
    }

    pub fn as_array(&self) -> Result<&'a [Value]> {
        match self.value {
            Value::Array(a) => Ok(a),
            _ => Err(self.err("expected an array")),
        }
    }

    /// A numeric array of any typed or untyped form, as f64.
    pub fn as_f64s(&self) -> Result<Vec<f64>> {
        match self.value {
            Value::F32s(v) => Ok(v.iter().map(|&x| x as f64).collect()),
            Value::F64s(v) => Ok(v.clone()),
            Value::Ints(v) => Ok(v.iter().map(|&x| x as f64).collect()),
            Value::U8s(v) => Ok(v.iter().map(|&x| x as f64).collect()),
            Value::Array(a) => a
                .iter()
                .enumerate()
                .map(|(i, v)| match v {
                    Value::Int(x) => Ok(*x as f64),
                    Value::Float(x) => Ok(*x),
                    _ => Err(self.err(format!("element {i} is not a number"))),
                })
                .collect(),
            _ => Err(self.err("expected an array of numbers")),
        }
    }

    /// A numeric array of integers (floats with a fraction are rejected).
    pub fn as_i64s(&self) -> Result<Vec<i64>> {
        let from_float = |i: usize, x: f64| {
            if x.fract() == 0.0 && x.abs() < 9.0e15 {
                Ok(x as i64)
            } else {
                Err(self.err(format!("element {i} ({x}) is not an integer")))
            }
        };
        match self.value {
            Value::Ints(v) => Ok(v.clone()),
            Value::U8s(v) => Ok(v.iter().map(|&x| x as i64).collect()),
            Value::Array(a) => a
                .iter()
                .enumerate()
                .map(|(i, v)| match v {
                    Value::Int(x) => Ok(*x),
                    Value::Float(x) => from_float(i, *x),
                    _ => Err(self.err(format!("element {i} is not a number"))),
                })
                .collect(),
            _ => self
                .as_f64s()?
                .into_iter()
                .enumerate()
                .map(|(i, x)| from_float(i, x))
                .collect(),
        }
    }

    /// An array of strings.
    pub fn as_strs(&self) -> Result<Vec<String>> {
        self.as_array()?
            .iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::Str(s) => Ok(s.clone()),
                _ => Err(self.err(format!("element {i} is not a string"))),
            })
            .collect()
    }
}
