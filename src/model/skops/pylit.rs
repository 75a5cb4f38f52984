//! The few Python literals a `.npy` header is written in: `{'descr': '<f8', 'fortran_order':
//! False, 'shape': (3, 1), }`, where `descr` may also be a list of `(name, type)` tuples or a
//! `{names, formats, offsets, itemsize}` dict. numpy reads this with `ast.literal_eval`; a
//! small hand parser here accepts the same shapes and nothing that could nest without bound.

/// A parsed literal.
#[derive(Clone, Debug, PartialEq)]
pub enum Lit {
    Str(String),
    Int(i128),
    Bool(bool),
    None,
    /// Lists and tuples alike: numpy writes shapes as tuples and fields as lists.
    Seq(Vec<Lit>),
    Dict(Vec<(Lit, Lit)>),
}

impl Lit {
    /// Member `key` of a dict with string keys.
    pub fn get(&self, key: &str) -> Option<&Lit> {
        match self {
            Lit::Dict(members) => members
                .iter()
                .find(|(k, _)| matches!(k, Lit::Str(s) if s == key))
                .map(|(_, v)| v),
            _ => None,
        }
    }
}

/// Deepest nesting accepted; a real header nests three levels.
const MAX_DEPTH: usize = 16;

pub fn parse(text: &str) -> Result<Lit, String> {
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
    };
    let v = p.value(0)?;
    p.ws();
    if p.i != p.s.len() {
        return Err(format!("unexpected text at byte {}", p.i));
    }
    Ok(v)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.s.get(self.i).copied()
    }

    fn value(&mut self, depth: usize) -> Result<Lit, String> {
        if depth > MAX_DEPTH {
            return Err("literal nests too deeply".into());
        }
        match self.peek() {
            Some(b'{') => {
                self.i += 1;
                let mut members = Vec::new();
                loop {
                    if self.peek() == Some(b'}') {
                        self.i += 1;
                        return Ok(Lit::Dict(members));
                    }
                    let k = self.value(depth + 1)?;
                    if self.peek() != Some(b':') {
                        return Err(format!("expected ':' at byte {}", self.i));
                    }
                    self.i += 1;
                    let v = self.value(depth + 1)?;
                    members.push((k, v));
                    match self.peek() {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {}
                        _ => return Err(format!("expected ',' or '}}' at byte {}", self.i)),
                    }
                }
            }
            Some(open @ (b'[' | b'(')) => {
                let close = if open == b'[' { b']' } else { b')' };
                self.i += 1;
                let mut items = Vec::new();
                loop {
                    if self.peek() == Some(close) {
                        self.i += 1;
                        return Ok(Lit::Seq(items));
                    }
                    items.push(self.value(depth + 1)?);
                    match self.peek() {
                        Some(b',') => self.i += 1,
                        Some(c) if c == close => {}
                        _ => return Err(format!("expected ',' at byte {}", self.i)),
                    }
                }
            }
            Some(q @ (b'\'' | b'"')) => self.string(q),
            Some(c) if c == b'-' || c.is_ascii_digit() => {
                let start = self.i;
                self.i += 1;
                while self.i < self.s.len() && self.s[self.i].is_ascii_digit() {
                    self.i += 1;
                }
                let text = std::str::from_utf8(&self.s[start..self.i]).unwrap_or("");
                // Python 2 wrote long integers with an `L` suffix.
                if self.s.get(self.i) == Some(&b'L') {
                    self.i += 1;
                }
                text.parse()
                    .map(Lit::Int)
                    .map_err(|_| format!("bad integer {text:?}"))
            }
            Some(_) => {
                for (word, lit) in [
                    ("True", Lit::Bool(true)),
                    ("False", Lit::Bool(false)),
                    ("None", Lit::None),
                ] {
                    if self.s[self.i..].starts_with(word.as_bytes()) {
                        self.i += word.len();
                        return Ok(lit);
                    }
                }
                Err(format!("unexpected character at byte {}", self.i))
            }
            None => Err("unexpected end of header".into()),
        }
    }

    fn string(&mut self, quote: u8) -> Result<Lit, String> {
        self.i += 1;
        let mut out = Vec::new();
        loop {
            match self.s.get(self.i) {
                None => return Err("unterminated string".into()),
                Some(&c) if c == quote => {
                    self.i += 1;
                    break;
                }
                Some(b'\\') => {
                    let c = *self.s.get(self.i + 1).ok_or("unterminated string")?;
                    out.push(match c {
                        b'n' => b'\n',
                        b't' => b'\t',
                        b'0' => 0,
                        other => other,
                    });
                    self.i += 2;
                }
                Some(&c) => {
                    out.push(c);
                    self.i += 1;
                }
            }
        }
        String::from_utf8(out)
            .map(Lit::Str)
            .map_err(|_| "string is not UTF-8".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_structured_header_parses() {
        let h = "{'descr': [('a', '<i8'), ('', '|V7')], 'fortran_order': False, 'shape': (15,), }";
        let v = parse(h).unwrap();
        assert_eq!(v.get("fortran_order"), Some(&Lit::Bool(false)));
        assert_eq!(v.get("shape"), Some(&Lit::Seq(vec![Lit::Int(15)])));
        let Some(Lit::Seq(fields)) = v.get("descr") else {
            panic!()
        };
        assert_eq!(fields.len(), 2);
    }

    #[test]
    fn deep_nesting_and_garbage_are_errors() {
        assert!(parse(&"[".repeat(100)).is_err());
        assert!(parse("{'a': 1} x").is_err());
        assert!(parse("{'a' 1}").is_err());
        assert!(parse("'abc").is_err());
    }
}
