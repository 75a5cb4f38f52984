//! A bounded UBJSON reader (the subset XGBoost writes for `.ubj` models).
//!
//! Every length in the file is a claim an attacker controls, so each is checked against the
//! bytes that remain before anything is allocated: a 2 GB string or array header in a 100-byte
//! file is an error, not an allocation. Nesting is capped so a crafted file cannot overflow the
//! stack.

use super::value::Value;
use crate::error::{Error, Result};

/// Deepest container nesting accepted; XGBoost models nest about 8 levels.
const MAX_NESTING: usize = 64;

/// Parse a whole UBJSON document. Trailing bytes after the top-level value are an error.
pub fn parse(bytes: &[u8]) -> Result<Value> {
    // Every boxed value costs ~32 bytes of memory; a file of one-byte nulls would otherwise
    // inflate 32-fold. Real models keep their bulk in typed arrays, far under this budget.
    let budget = bytes.len() / 2 + 64;
    let mut r = Reader {
        bytes,
        pos: 0,
        budget,
    };
    let marker = r.marker()?;
    let value = r.value(marker, 0)?;
    if r.pos != bytes.len() {
        return Err(r.err(format!(
            "{} unexpected bytes after the document",
            bytes.len() - r.pos
        )));
    }
    Ok(value)
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// Boxed values still allowed (see `parse`).
    budget: usize,
}

impl Reader<'_> {
    fn err(&self, message: impl Into<String>) -> Error {
        Error::Syntax {
            format: "UBJSON",
            location: format!("byte {}", self.pos),
            message: message.into(),
        }
    }

    fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    fn take(&mut self, n: usize) -> Result<&[u8]> {
        if n > self.remaining() {
            return Err(self.err(format!(
                "truncated: needs {n} bytes, only {} remain",
                self.remaining()
            )));
        }
        let s = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let s = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(s);
        Ok(out)
    }

    /// The next marker byte, skipping no-ops.
    fn marker(&mut self) -> Result<u8> {
        loop {
            let m = self.take(1)?[0];
            if m != b'N' {
                return Ok(m);
            }
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn int(&mut self, marker: u8) -> Result<i64> {
        Ok(match marker {
            b'i' => i8::from_be_bytes(self.array()?) as i64,
            b'U' => u8::from_be_bytes(self.array()?) as i64,
            b'I' => i16::from_be_bytes(self.array()?) as i64,
            b'l' => i32::from_be_bytes(self.array()?) as i64,
            b'L' => i64::from_be_bytes(self.array()?),
            other => {
                return Err(self.err(format!(
                    "expected an integer marker, found {:?}",
                    other as char
                )));
            }
        })
    }

    /// A length or count: an integer that must be non-negative and, given that each unit takes
    /// at least `unit` bytes, must fit in what remains.
    fn length(&mut self, unit: usize) -> Result<usize> {
        let m = self.marker()?;
        let n = self.int(m)?;
        if n < 0 {
            return Err(self.err(format!("negative length {n}")));
        }
        let n = n as u64;
        if n.saturating_mul(unit.max(1) as u64) > self.remaining() as u64 {
            return Err(self.err(format!(
                "length {n} claims more than the {} bytes that remain",
                self.remaining()
            )));
        }
        Ok(n as usize)
    }

    fn string(&mut self) -> Result<String> {
        let n = self.length(1)?;
        let at = self.pos;
        let s = self.take(n)?;
        String::from_utf8(s.to_vec()).map_err(|_| Error::Syntax {
            format: "UBJSON",
            location: format!("byte {at}"),
            message: "string is not valid UTF-8".into(),
        })
    }

    fn value(&mut self, marker: u8, depth: usize) -> Result<Value> {
        if self.budget == 0 {
            return Err(self.err("more values than a model of this size can hold"));
        }
        self.budget -= 1;
        Ok(match marker {
            b'Z' => Value::Null,
            b'T' => Value::Bool(true),
            b'F' => Value::Bool(false),
            b'i' | b'U' | b'I' | b'l' | b'L' => Value::Int(self.int(marker)?),
            b'd' => Value::Float(f32::from_be_bytes(self.array()?) as f64),
            b'D' => Value::Float(f64::from_be_bytes(self.array()?)),
            b'C' => Value::Str((self.take(1)?[0] as char).to_string()),
            b'S' | b'H' => Value::Str(self.string()?),
            b'[' => self.container(depth, false)?,
            b'{' => self.container(depth, true)?,
            other => {
                return Err(self.err(format!(
                    "unknown marker {:?} (0x{other:02x})",
                    other as char
                )));
            }
        })
    }

    /// An array or object, in any of the plain, counted or typed-and-counted forms.
    fn container(&mut self, depth: usize, object: bool) -> Result<Value> {
        if depth >= MAX_NESTING {
            return Err(self.err(format!("containers nested deeper than {MAX_NESTING}")));
        }
        let mut typ = None;
        if self.peek() == Some(b'$') {
            self.pos += 1;
            let t = self.take(1)?[0];
            if matches!(t, b'Z' | b'T' | b'F' | b'N') {
                // Payload-free element types would let a tiny file claim billions of elements.
                return Err(self.err(format!("unsupported typed container of {:?}", t as char)));
            }
            typ = Some(t);
            if self.peek() != Some(b'#') {
                return Err(self.err("typed container without a count"));
            }
        }
        let mut count = None;
        if self.peek() == Some(b'#') {
            self.pos += 1;
            let unit = match typ {
                Some(b'i' | b'U' | b'C') => 1,
                Some(b'I') => 2,
                Some(b'l' | b'd') => 4,
                Some(b'L' | b'D') => 8,
                _ if object => 2,
                _ => 1,
            };
            count = Some(self.length(unit)?);
        }
        if object {
            let mut members = Vec::with_capacity(count.unwrap_or(0).min(1024));
            loop {
                match count {
                    Some(n) if members.len() == n => break,
                    None if self.peek() == Some(b'}') => {
                        self.pos += 1;
                        break;
                    }
                    _ => {}
                }
                let key = self.string()?;
                let m = match typ {
                    Some(t) => t,
                    None => self.marker()?,
                };
                let v = self.value(m, depth + 1)?;
                members.push((key, v));
            }
            return Ok(Value::Object(members));
        }
        if let (Some(t), Some(n)) = (typ, count) {
            // Typed numeric arrays: the count was already checked against the remaining bytes.
            let typed = match t {
                b'd' => Some(Value::F32s(
                    self.take(4 * n)?
                        .chunks_exact(4)
                        .map(|c| f32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                        .collect(),
                )),
                b'D' => Some(Value::F64s(
                    self.take(8 * n)?
                        .chunks_exact(8)
                        .map(|c| f64::from_be_bytes(c.try_into().unwrap_or([0; 8])))
                        .collect(),
                )),
                b'U' => Some(Value::U8s(self.take(n)?.to_vec())),
                b'i' => Some(Value::Ints(
                    self.take(n)?.iter().map(|&b| b as i8 as i64).collect(),
                )),
                b'I' => Some(Value::Ints(
                    self.take(2 * n)?
                        .chunks_exact(2)
                        .map(|c| i16::from_be_bytes([c[0], c[1]]) as i64)
                        .collect(),
                )),
                b'l' => Some(Value::Ints(
                    self.take(4 * n)?
                        .chunks_exact(4)
                        .map(|c| i32::from_be_bytes([c[0], c[1], c[2], c[3]]) as i64)
                        .collect(),
                )),
                b'L' => Some(Value::Ints(
                    self.take(8 * n)?
                        .chunks_exact(8)
                        .map(|c| i64::from_be_bytes(c.try_into().unwrap_or([0; 8])))
                        .collect(),
                )),
                _ => None,
            };
            if let Some(v) = typed {
                return Ok(v);
            }
        }
        let mut items = Vec::with_capacity(count.unwrap_or(0).min(1024));
        loop {
            match count {
                Some(n) if items.len() == n => break,
                None if self.peek() == Some(b']') => {
                    self.pos += 1;
                    break;
                }
                _ => {}
            }
            let m = match typ {
                Some(t) => t,
                None => self.marker()?,
            };
            items.push(self.value(m, depth + 1)?);
        }
        Ok(Value::Array(items))
    }
}
