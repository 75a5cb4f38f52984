//! The few `onnx.proto` messages a tree ensemble needs, written by hand for prost (no protoc at
//! build time), and typed access to node attributes and tensors.
//!
//! Field numbers are those of `onnx/onnx.proto` (proto2). Only the fields read here are
//! declared: prost skips the rest without decoding them, so subgraphs (`AttributeProto.g`),
//! training info and functions are never materialised, and no message type recurses (a hostile
//! file cannot nest attributes a thousand deep). prost turns every length claim beyond the
//! buffer into a decode error; what it cannot know (ids pointing nowhere, counts that disagree)
//! the loader checks.

use crate::error::{Error, Result};

#[derive(Clone, PartialEq, prost::Message)]
pub struct ModelProto {
    #[prost(int64, tag = "1")]
    pub ir_version: i64,
    #[prost(string, tag = "2")]
    pub producer_name: String,
    #[prost(string, tag = "3")]
    pub producer_version: String,
    #[prost(message, optional, tag = "7")]
    pub graph: Option<GraphProto>,
    #[prost(message, repeated, tag = "8")]
    pub opset_import: Vec<OperatorSetIdProto>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct OperatorSetIdProto {
    #[prost(string, tag = "1")]
    pub domain: String,
    #[prost(int64, tag = "2")]
    pub version: i64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct GraphProto {
    #[prost(message, repeated, tag = "1")]
    pub node: Vec<NodeProto>,
    #[prost(message, repeated, tag = "5")]
    pub initializer: Vec<TensorProto>,
    #[prost(message, repeated, tag = "11")]
    pub input: Vec<ValueInfoProto>,
    #[prost(message, repeated, tag = "12")]
    pub output: Vec<ValueInfoProto>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct NodeProto {
    #[prost(string, repeated, tag = "1")]
    pub input: Vec<String>,
    #[prost(string, repeated, tag = "2")]
    pub output: Vec<String>,
    #[prost(string, tag = "3")]
    pub name: String,
    #[prost(string, tag = "4")]
    pub op_type: String,
    #[prost(message, repeated, tag = "5")]
    pub attribute: Vec<AttributeProto>,
    #[prost(string, tag = "7")]
    pub domain: String,
}

/// `AttributeProto.AttributeType`.
pub mod attr_type {
    pub const INT: i32 = 2;
    pub const STRING: i32 = 3;
    pub const TENSOR: i32 = 4;
    pub const FLOATS: i32 = 6;
    pub const INTS: i32 = 7;
    pub const STRINGS: i32 = 8;
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct AttributeProto {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(float, tag = "2")]
    pub f: f32,
    #[prost(int64, tag = "3")]
    pub i: i64,
    #[prost(bytes = "vec", tag = "4")]
    pub s: Vec<u8>,
    #[prost(message, optional, tag = "5")]
    pub t: Option<TensorProto>,
    #[prost(float, repeated, tag = "7")]
    pub floats: Vec<f32>,
    #[prost(int64, repeated, tag = "8")]
    pub ints: Vec<i64>,
    #[prost(bytes = "vec", repeated, tag = "9")]
    pub strings: Vec<Vec<u8>>,
    #[prost(int32, tag = "20")]
    pub r#type: i32,
}

/// `TensorProto.DataType` values the loader reads.
pub mod data_type {
    pub const FLOAT: i32 = 1;
    pub const UINT8: i32 = 2;
    pub const INT32: i32 = 6;
    pub const INT64: i32 = 7;
    pub const DOUBLE: i32 = 11;
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct TensorProto {
    #[prost(int64, repeated, tag = "1")]
    pub dims: Vec<i64>,
    #[prost(int32, tag = "2")]
    pub data_type: i32,
    #[prost(float, repeated, tag = "4")]
    pub float_data: Vec<f32>,
    #[prost(int32, repeated, tag = "5")]
    pub int32_data: Vec<i32>,
    #[prost(int64, repeated, tag = "7")]
    pub int64_data: Vec<i64>,
    #[prost(string, tag = "8")]
    pub name: String,
    #[prost(bytes = "vec", tag = "9")]
    pub raw_data: Vec<u8>,
    #[prost(double, repeated, tag = "10")]
    pub double_data: Vec<f64>,
    /// 1 = EXTERNAL: the values live in another file, which a single upload cannot carry.
    #[prost(int32, tag = "14")]
    pub data_location: i32,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ValueInfoProto {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(message, optional, tag = "2")]
    pub r#type: Option<TypeProto>,
}

/// `TypeProto` with only its tensor arm (field 1 of the `value` oneof): sequences and maps
/// (ZipMap outputs) decode as "not a tensor".
#[derive(Clone, PartialEq, prost::Message)]
pub struct TypeProto {
    #[prost(message, optional, tag = "1")]
    pub tensor_type: Option<TensorTypeProto>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct TensorTypeProto {
    #[prost(int32, tag = "1")]
    pub elem_type: i32,
    #[prost(message, optional, tag = "2")]
    pub shape: Option<TensorShapeProto>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct TensorShapeProto {
    #[prost(message, repeated, tag = "1")]
    pub dim: Vec<Dimension>,
}

/// One dimension: a known size (`dim_value`, field 1) or a symbolic name (`dim_param`, 2).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Dimension {
    #[prost(int64, optional, tag = "1")]
    pub dim_value: Option<i64>,
    #[prost(string, optional, tag = "2")]
    pub dim_param: Option<String>,
}

/// The element type of a tensor: what the ensemble compares in and rounds its values to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Elem {
    F32,
    F64,
}

impl Elem {
    /// `v` as the element type holds it (f32 values widened back to f64).
    pub fn round(self, v: f64) -> f64 {
        match self {
            Elem::F32 => v as f32 as f64,
            Elem::F64 => v,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Elem::F32 => "float32",
            Elem::F64 => "float64",
        }
    }
}

impl TensorProto {
    /// Number of elements the dims claim, when they are all non-negative and the product fits.
    fn claimed_len(&self) -> Option<usize> {
        self.dims.iter().try_fold(1usize, |acc, &d| {
            usize::try_from(d).ok().and_then(|d| acc.checked_mul(d))
        })
    }

    fn check_len(&self, len: usize, what: &str) -> Result<()> {
        if self.data_location == 1 {
            return Err(Error::Unsupported(format!(
                "{what} is stored in an external data file; save the model with all tensors \
                 inside it (onnx.save_model(model, path, save_as_external_data=False))"
            )));
        }
        if !self.dims.is_empty() && self.claimed_len() != Some(len) {
            return Err(Error::model(
                what,
                format!("tensor dims {:?} do not match its {len} values", self.dims),
            ));
        }
        Ok(())
    }

    /// Float or double values, with the element type they were stored in.
    pub fn floats(&self, what: &str) -> Result<(Vec<f64>, Elem)> {
        let (values, elem): (Vec<f64>, Elem) = match self.data_type {
            data_type::FLOAT if self.raw_data.is_empty() => (
                self.float_data.iter().map(|&v| v as f64).collect(),
                Elem::F32,
            ),
            data_type::FLOAT => (
                le_chunks::<4>(&self.raw_data, what)?
                    .map(|b| f32::from_le_bytes(b) as f64)
                    .collect(),
                Elem::F32,
            ),
            data_type::DOUBLE if self.raw_data.is_empty() => (self.double_data.clone(), Elem::F64),
            data_type::DOUBLE => (
                le_chunks::<8>(&self.raw_data, what)?
                    .map(f64::from_le_bytes)
                    .collect(),
                Elem::F64,
            ),
            other => {
                return Err(Error::model(
                    what,
                    format!("expected a float or double tensor, found data type {other}"),
                ));
            }
        };
        self.check_len(values.len(), what)?;
        Ok((values, elem))
    }

    /// Integer values of a uint8, int32 or int64 tensor (TreeEnsemble's `nodes_modes`).
    pub fn integers(&self, what: &str) -> Result<Vec<i64>> {
        let values: Vec<i64> = match self.data_type {
            data_type::UINT8 if !self.raw_data.is_empty() => {
                self.raw_data.iter().map(|&b| b as i64).collect()
            }
            data_type::UINT8 | data_type::INT32 if self.raw_data.is_empty() => {
                self.int32_data.iter().map(|&v| v as i64).collect()
            }
            data_type::INT32 => le_chunks::<4>(&self.raw_data, what)?
                .map(|b| i32::from_le_bytes(b) as i64)
                .collect(),
            data_type::INT64 if self.raw_data.is_empty() => self.int64_data.clone(),
            data_type::INT64 => le_chunks::<8>(&self.raw_data, what)?
                .map(i64::from_le_bytes)
                .collect(),
            other => {
                return Err(Error::model(
                    what,
                    format!("expected an integer tensor, found data type {other}"),
                ));
            }
        };
        self.check_len(values.len(), what)?;
        Ok(values)
    }
}

/// `raw_data` as little-endian `N`-byte words; a length that is not a multiple of `N` is corrupt.
fn le_chunks<'a, const N: usize>(
    raw: &'a [u8],
    what: &str,
) -> Result<impl Iterator<Item = [u8; N]> + 'a> {
    if !raw.len().is_multiple_of(N) {
        return Err(Error::model(
            what,
            format!("raw_data has {} bytes, not a multiple of {N}", raw.len()),
        ));
    }
    Ok(raw
        .chunks_exact(N)
        .map(|c| c.try_into().expect("chunks_exact yields N bytes")))
}

/// Typed, named access to one node's attributes; every message names the node.
pub struct Attrs<'a> {
    node: &'a NodeProto,
    /// "TreeEnsembleRegressor node \"name\"", for messages.
    pub label: String,
}

impl<'a> Attrs<'a> {
    pub fn new(node: &'a NodeProto) -> Self {
        let label = if node.name.is_empty() {
            format!("{} node", node.op_type)
        } else {
            format!("{} node {:?}", node.op_type, node.name)
        };
        Attrs { node, label }
    }

    pub fn location(&self, attr: &str) -> String {
        format!("{}, attribute {attr}", self.label)
    }

    fn get(&self, name: &str) -> Option<&'a AttributeProto> {
        self.node.attribute.iter().find(|a| a.name == name)
    }

    /// The attribute `name` when present, after checking its declared type (`UNDEFINED` (0),
    /// which very old writers leave, is accepted).
    fn typed(&self, name: &str, want: i32) -> Result<Option<&'a AttributeProto>> {
        match self.get(name) {
            Some(a) if a.r#type == want || a.r#type == 0 => Ok(Some(a)),
            Some(a) => Err(Error::model(
                self.location(name),
                format!("attribute type {} where type {want} was expected", a.r#type),
            )),
            None => Ok(None),
        }
    }

    pub fn ints(&self, name: &str) -> Result<Option<&'a [i64]>> {
        Ok(self
            .typed(name, attr_type::INTS)?
            .map(|a| a.ints.as_slice()))
    }

    pub fn floats(&self, name: &str) -> Result<Option<&'a [f32]>> {
        Ok(self
            .typed(name, attr_type::FLOATS)?
            .map(|a| a.floats.as_slice()))
    }

    pub fn int(&self, name: &str) -> Result<Option<i64>> {
        Ok(self.typed(name, attr_type::INT)?.map(|a| a.i))
    }

    pub fn string(&self, name: &str) -> Result<Option<String>> {
        match self.typed(name, attr_type::STRING)? {
            Some(a) => Ok(Some(self.utf8(name, &a.s)?)),
            None => Ok(None),
        }
    }

    pub fn strings(&self, name: &str) -> Result<Option<Vec<String>>> {
        match self.typed(name, attr_type::STRINGS)? {
            Some(a) => a
                .strings
                .iter()
                .map(|s| self.utf8(name, s))
                .collect::<Result<Vec<_>>>()
                .map(Some),
            None => Ok(None),
        }
    }

    pub fn tensor(&self, name: &str) -> Result<Option<&'a TensorProto>> {
        match self.typed(name, attr_type::TENSOR)? {
            Some(a) => a.t.as_ref().map(Some).ok_or_else(|| {
                Error::model(self.location(name), "tensor attribute without a tensor")
            }),
            None => Ok(None),
        }
    }

    fn utf8(&self, name: &str, bytes: &[u8]) -> Result<String> {
        String::from_utf8(bytes.to_vec())
            .map_err(|_| Error::model(self.location(name), "a string is not valid UTF-8"))
    }

    /// The values of `name` (floats) or `name_as_tensor` (a float or double tensor), never both,
    /// rounded to `elem` as onnxruntime stores them for an input of that type.
    pub fn values(&self, name: &str, elem: Elem) -> Result<Option<Vec<f64>>> {
        let tensor_name = format!("{name}_as_tensor");
        let plain = self.floats(name)?.filter(|v| !v.is_empty());
        let tensor = self.tensor(&tensor_name)?;
        match (plain, tensor) {
            (Some(_), Some(_)) => Err(Error::model(
                self.location(name),
                format!("both {name} and {tensor_name} are given (onnxruntime refuses this)"),
            )),
            (Some(v), None) => Ok(Some(v.iter().map(|&x| x as f64).collect())),
            (None, Some(t)) => {
                let (v, _) = t.floats(&self.location(&tensor_name))?;
                Ok(Some(v.into_iter().map(|x| elem.round(x)).collect()))
            }
            (None, None) => Ok(None),
        }
    }
}
