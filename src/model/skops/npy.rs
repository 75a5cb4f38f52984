//! numpy's `.npy` format: a magic string, a version, a Python-literal header naming the dtype
//! and shape, then the raw items. skops stores every non-object array this way.
//!
//! Nothing here trusts the header: the item count times the item size must equal the bytes
//! that follow it exactly, field offsets must lie inside the item, and a value is read only
//! through a dtype this module understands. Reading a lying file is an error, never a panic
//! or an out-of-bounds slice.

use super::archive::syntax;
use super::pylit::{self, Lit};
use crate::error::Result;

/// One number type: `<f8`, `|u1`, `>i4`, `?`, …
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scalar {
    kind: Kind,
    size: usize,
    big_endian: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Float,
    Int,
    Uint,
    Bool,
    /// Padding (`V`) or bytes (`S`): occupies space, cannot be read as a number.
    Opaque,
}

/// A named field of a structured item.
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    pub name: String,
    offset: usize,
    scalar: Scalar,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Dtype {
    Scalar(Scalar),
    Record { fields: Vec<Field>, itemsize: usize },
}

impl Dtype {
    fn itemsize(&self) -> usize {
        match self {
            Dtype::Scalar(s) => s.size,
            Dtype::Record { itemsize, .. } => *itemsize,
        }
    }
}

/// A parsed array, items in C order.
#[derive(Clone, Debug)]
pub struct Npy {
    pub entry: String,
    pub shape: Vec<usize>,
    pub dtype: Dtype,
    data: Vec<u8>,
}

fn scalar_of(code: &str) -> std::result::Result<Scalar, String> {
    let (order, rest) = match code.as_bytes().first() {
        Some(b'<' | b'=') => (false, &code[1..]),
        Some(b'>') => (true, &code[1..]),
        Some(b'|') => (false, &code[1..]),
        _ => (false, code),
    };
    if rest == "?" {
        return Ok(Scalar {
            kind: Kind::Bool,
            size: 1,
            big_endian: false,
        });
    }
    // The first character, not byte: the header is text and may hold any character.
    let split = rest.chars().next().map_or(0, char::len_utf8);
    let (letter, digits) = rest.split_at(split);
    let size: usize = digits
        .parse()
        .map_err(|_| format!("unsupported dtype {code:?}"))?;
    let kind = match letter {
        "f" if size == 4 || size == 8 => Kind::Float,
        "i" if matches!(size, 1 | 2 | 4 | 8) => Kind::Int,
        "u" if matches!(size, 1 | 2 | 4 | 8) => Kind::Uint,
        "b" if size == 1 => Kind::Bool,
        "V" | "S" if (1..=1 << 16).contains(&size) => Kind::Opaque,
        _ => return Err(format!("unsupported dtype {code:?}")),
    };
    Ok(Scalar {
        kind,
        size,
        big_endian: order,
    })
}

fn dtype_of(descr: &Lit) -> std::result::Result<Dtype, String> {
    let field = |name: &Lit, code: &Lit| -> std::result::Result<(String, Scalar), String> {
        // A titled field is written as a (title, name) pair.
        let name = match name {
            Lit::Str(s) => s.clone(),
            Lit::Seq(pair) if pair.len() == 2 => match &pair[1] {
                Lit::Str(s) => s.clone(),
                _ => return Err("a field name is not a string".into()),
            },
            _ => return Err("a field name is not a string".into()),
        };
        match code {
            Lit::Str(c) => Ok((name, scalar_of(c)?)),
            _ => Err(format!(
                "field {name:?} has a nested dtype, which is not supported"
            )),
        }
    };
    match descr {
        Lit::Str(code) => Ok(Dtype::Scalar(scalar_of(code)?)),
        Lit::Seq(items) => {
            let mut fields = Vec::new();
            let mut offset = 0usize;
            for item in items {
                let Lit::Seq(parts) = item else {
                    return Err("a field of descr is not a tuple".into());
                };
                if parts.len() != 2 {
                    return Err("sub-array fields are not supported".into());
                }
                let (name, scalar) = field(&parts[0], &parts[1])?;
                fields.push(Field {
                    name,
                    offset,
                    scalar,
                });
                offset += scalar.size;
            }
            Ok(Dtype::Record {
                fields,
                itemsize: offset,
            })
        }
        Lit::Dict(_) => {
            let list = |key: &str| match descr.get(key) {
                Some(Lit::Seq(v)) => Ok(v.clone()),
                _ => Err(format!("descr has no {key} list")),
            };
            let (names, formats, offsets) = (list("names")?, list("formats")?, list("offsets")?);
            if names.len() != formats.len() || names.len() != offsets.len() {
                return Err("descr names, formats and offsets differ in length".into());
            }
            let itemsize = match descr.get("itemsize") {
                Some(Lit::Int(n)) => usize::try_from(*n).map_err(|_| "bad itemsize")?,
                _ => return Err("descr has no itemsize".into()),
            };
            let mut fields = Vec::new();
            for ((n, f), o) in names.iter().zip(&formats).zip(&offsets) {
                let (name, scalar) = field(n, f)?;
                let Lit::Int(o) = o else {
                    return Err("a field offset is not an integer".into());
                };
                let offset = usize::try_from(*o).map_err(|_| "bad field offset")?;
                fields.push(Field {
                    name,
                    offset,
                    scalar,
                });
            }
            Ok(Dtype::Record { fields, itemsize })
        }
        _ => Err("descr is neither a type string nor a field list".into()),
    }
}

impl Npy {
    pub fn parse(entry: &str, bytes: &[u8]) -> Result<Npy> {
        let err = |m: String| syntax(format!("entry {entry:?}"), m);
        let Some(rest) = bytes.strip_prefix(b"\x93NUMPY") else {
            return Err(err("not a .npy array (no \\x93NUMPY magic)".into()));
        };
        let (header_len, start) = match rest {
            [1, _, a, b, ..] => (u16::from_le_bytes([*a, *b]) as usize, 10usize),
            [2 | 3, _, a, b, c, d, ..] => (u32::from_le_bytes([*a, *b, *c, *d]) as usize, 12),
            [v, ..] => return Err(err(format!(".npy version {v} is not supported"))),
            [] => return Err(err("truncated .npy header".into())),
        };
        let end = start
            .checked_add(header_len)
            .filter(|&e| e <= bytes.len())
            .ok_or_else(|| {
                err(format!(
                    "the header claims {header_len} bytes, but the entry has only {}",
                    bytes.len().saturating_sub(start)
                ))
            })?;
        let text = std::str::from_utf8(&bytes[start..end])
            .map_err(|_| err("the .npy header is not text".into()))?;
        let header = pylit::parse(text.trim_end()).map_err(|m| err(format!("bad header: {m}")))?;
        let descr = header
            .get("descr")
            .ok_or_else(|| err("the header has no descr".into()))?;
        let dtype = dtype_of(descr).map_err(err)?;
        let itemsize = dtype.itemsize();
        if itemsize == 0 {
            return Err(err("zero-sized items".into()));
        }
        if let Dtype::Record { fields, .. } = &dtype
            && let Some(f) = fields.iter().find(|f| {
                f.offset
                    .checked_add(f.scalar.size)
                    .is_none_or(|end| end > itemsize)
            })
        {
            return Err(err(format!(
                "field {:?} lies outside the {itemsize}-byte item",
                f.name
            )));
        }
        let shape: Vec<usize> = match header.get("shape") {
            Some(Lit::Seq(dims)) => dims
                .iter()
                .map(|d| match d {
                    Lit::Int(n) => {
                        usize::try_from(*n).map_err(|_| err(format!("bad dimension {n}")))
                    }
                    _ => Err(err("a dimension is not an integer".into())),
                })
                .collect::<Result<_>>()?,
            _ => return Err(err("the header has no shape tuple".into())),
        };
        let fortran = match header.get("fortran_order") {
            Some(Lit::Bool(b)) => *b,
            _ => return Err(err("the header has no fortran_order".into())),
        };
        let count = shape
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .ok_or_else(|| err(format!("shape {} overflows", as_tuple(&shape))))?;
        let body = &bytes[end..];
        let want = count.checked_mul(itemsize);
        if want != Some(body.len()) {
            return Err(err(format!(
                "the header says shape {} of {itemsize}-byte items ({} bytes), but {} bytes follow it",
                as_tuple(&shape),
                want.map_or("too many".to_string(), |w| w.to_string()),
                body.len()
            )));
        }
        let data = if fortran && shape.len() > 1 {
            to_c_order(body, &shape, itemsize)
        } else {
            body.to_vec()
        };
        Ok(Npy {
            entry: entry.to_string(),
            shape,
            dtype,
            data,
        })
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.data.len() / self.dtype.itemsize()
    }

    fn err(&self, m: String) -> crate::error::Error {
        syntax(format!("entry {:?}", self.entry), m)
    }

    /// The item's bytes for scalar `s` at `offset`, widened to 8 little-endian bytes. Padding
    /// and byte-string fields are not numbers (and may be wider than 8 bytes).
    fn raw(&self, s: Scalar, offset: usize, item: usize) -> Result<u64> {
        if s.kind == Kind::Opaque || s.size > 8 {
            return Err(self.err("a padding or byte-string field is not a number".into()));
        }
        let raw = item
            .checked_mul(self.dtype.itemsize())
            .and_then(|at| at.checked_add(offset))
            .and_then(|at| self.data.get(at..at.checked_add(s.size)?))
            .ok_or_else(|| self.err(format!("item {item} lies past the end of the array")))?;
        let mut b = [0u8; 8];
        b[..s.size].copy_from_slice(raw);
        if s.big_endian {
            b[..s.size].reverse();
        }
        Ok(u64::from_le_bytes(b))
    }

    fn read(&self, s: Scalar, offset: usize, item: usize) -> Result<f64> {
        let u = self.raw(s, offset, item)?;
        Ok(match (s.kind, s.size) {
            (Kind::Float, 4) => f32::from_bits(u as u32) as f64,
            (Kind::Float, _) => f64::from_bits(u),
            (Kind::Int, n) => {
                let shift = 64 - 8 * n as u32;
                (((u << shift) as i64) >> shift) as f64
            }
            (Kind::Uint | Kind::Bool, _) => u as f64,
            (Kind::Opaque, _) => return Err(self.err("a padding field is not a number".into())),
        })
    }

    fn read_int(&self, s: Scalar, offset: usize, item: usize) -> Result<i64> {
        if s.kind == Kind::Float {
            return Err(self.err("expected integers, found floats".into()));
        }
        let u = self.raw(s, offset, item)?;
        match s.kind {
            Kind::Int => {
                let shift = 64 - 8 * s.size as u32;
                Ok(((u << shift) as i64) >> shift)
            }
            Kind::Uint | Kind::Bool => {
                i64::try_from(u).map_err(|_| self.err(format!("integer {u} is out of range")))
            }
            _ => Err(self.err("a padding field is not a number".into())),
        }
    }

    fn scalar(&self) -> Result<Scalar> {
        match &self.dtype {
            Dtype::Scalar(s) => Ok(*s),
            Dtype::Record { .. } => Err(self.err("expected a plain array, found records".into())),
        }
    }

    fn field(&self, name: &str) -> Result<&Field> {
        match &self.dtype {
            Dtype::Record { fields, .. } => fields
                .iter()
                .find(|f| f.name == name)
                .ok_or_else(|| self.err(format!("the records have no field {name:?}"))),
            Dtype::Scalar(_) => Err(self.err(format!("expected records with field {name:?}"))),
        }
    }

    pub fn has_field(&self, name: &str) -> bool {
        self.field(name).is_ok()
    }

    /// All items of a numeric array as f64.
    pub fn f64s(&self) -> Result<Vec<f64>> {
        let s = self.scalar()?;
        (0..self.len()).map(|i| self.read(s, 0, i)).collect()
    }

    /// All items of an integer array.
    pub fn i64s(&self) -> Result<Vec<i64>> {
        let s = self.scalar()?;
        (0..self.len()).map(|i| self.read_int(s, 0, i)).collect()
    }

    /// One field of every record as f64.
    pub fn field_f64s(&self, name: &str) -> Result<Vec<f64>> {
        let f = self.field(name)?;
        (0..self.len())
            .map(|i| self.read(f.scalar, f.offset, i))
            .collect()
    }

    /// One integer field of every record.
    pub fn field_i64s(&self, name: &str) -> Result<Vec<i64>> {
        let f = self.field(name)?;
        (0..self.len())
            .map(|i| self.read_int(f.scalar, f.offset, i))
            .collect()
    }
}

/// A shape as numpy prints it: `(15,)`, `(15, 1, 3)`.
fn as_tuple(shape: &[usize]) -> String {
    match shape {
        [n] => format!("({n},)"),
        _ => {
            let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
            format!("({})", dims.join(", "))
        }
    }
}

/// Items stored column-major, reordered row-major.
fn to_c_order(body: &[u8], shape: &[usize], itemsize: usize) -> Vec<u8> {
    let count = body.len() / itemsize;
    let mut out = vec![0u8; body.len()];
    let mut index = vec![0usize; shape.len()];
    for c in 0..count {
        // Fortran offset of the C multi-index: the first axis varies fastest.
        let mut f = 0;
        let mut stride = 1;
        for (d, &n) in shape.iter().enumerate() {
            f += index[d] * stride;
            stride *= n;
        }
        out[c * itemsize..(c + 1) * itemsize]
            .copy_from_slice(&body[f * itemsize..(f + 1) * itemsize]);
        for d in (0..shape.len()).rev() {
            index[d] += 1;
            if index[d] < shape[d] {
                break;
            }
            index[d] = 0;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npy(header: &str, body: &[u8]) -> Vec<u8> {
        let mut h = header.to_string();
        while !(10 + h.len() + 1).is_multiple_of(64) {
            h.push(' ');
        }
        h.push('\n');
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend((h.len() as u16).to_le_bytes());
        out.extend(h.as_bytes());
        out.extend(body);
        out
    }

    #[test]
    fn a_fortran_ordered_matrix_reads_in_c_order() {
        let body: Vec<u8> = [1.0f64, 3.0, 2.0, 4.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let b = npy(
            "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 2), }",
            &body,
        );
        let a = Npy::parse("m.npy", &b).unwrap();
        assert_eq!(a.f64s().unwrap(), vec![1.0, 2.0, 3.0, 4.0]);
    }

    #[test]
    fn big_endian_and_narrow_ints_read_with_their_sign() {
        let b = npy(
            "{'descr': '>i2', 'fortran_order': False, 'shape': (2,), }",
            &[0xff, 0xfe, 0x00, 0x05],
        );
        assert_eq!(
            Npy::parse("a.npy", &b).unwrap().i64s().unwrap(),
            vec![-2, 5]
        );
    }

    #[test]
    fn a_field_past_the_item_is_refused() {
        let b = npy(
            "{'descr': {'names': ['a'], 'formats': ['<f8'], 'offsets': [4], 'itemsize': 8}, 'fortran_order': False, 'shape': (1,), }",
            &[0; 8],
        );
        let e = Npy::parse("a.npy", &b).unwrap_err().to_string();
        assert!(e.contains("outside the 8-byte item"), "{e}");
    }

    // Found by reading: each of these used to panic (slice out of range, overflow, a split
    // inside a character) instead of refusing the file.
    #[test]
    fn a_field_at_an_offset_near_the_end_of_memory_is_refused() {
        let b = npy(
            "{'descr': {'names': ['a'], 'formats': ['<f8'], 'offsets': [18446744073709551615], 'itemsize': 8}, 'fortran_order': False, 'shape': (1,), }",
            &[0; 8],
        );
        let e = Npy::parse("a.npy", &b).unwrap_err().to_string();
        assert!(e.contains("outside the 8-byte item"), "{e}");
    }

    #[test]
    fn a_wide_byte_field_read_as_a_number_is_refused() {
        let b = npy(
            "{'descr': [('threshold', '|V16')], 'fortran_order': False, 'shape': (1,), }",
            &[0; 16],
        );
        let a = Npy::parse("a.npy", &b).expect("a byte field parses");
        let e = a.field_f64s("threshold").unwrap_err().to_string();
        assert!(e.contains("not a number"), "{e}");
        let plain = npy(
            "{'descr': '|S16', 'fortran_order': False, 'shape': (1,), }",
            &[0; 16],
        );
        let a = Npy::parse("a.npy", &plain).expect("a byte array parses");
        assert!(a.f64s().is_err());
        assert!(a.i64s().is_err());
    }

    #[test]
    fn a_dtype_starting_with_a_wide_character_is_refused() {
        let b = npy(
            "{'descr': '\u{e9}8', 'fortran_order': False, 'shape': (1,), }",
            &[0; 8],
        );
        let e = Npy::parse("a.npy", &b).unwrap_err().to_string();
        assert!(e.contains("unsupported dtype"), "{e}");
    }
}
