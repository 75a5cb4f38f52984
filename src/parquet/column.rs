//! One Parquet column chunk read as cells: what each physical/logical type means as a number,
//! and a typed reader that yields `Cell`s row by row for the current row group.
//!
//! The column readers decode levels and values into typed buffers; everything above this file
//! sees only [`Cell`]s, so the row reader and `describe` share one reading of each type and a
//! type added here works in both.

use crate::error::{Error, Result};
use ::parquet::basic::{ConvertedType, LogicalType, Type as Physical};
use ::parquet::column::reader::{ColumnReader, ColumnReaderImpl};
use ::parquet::data_type::{
    BoolType, ByteArrayType, DataType, DoubleType, FixedLenByteArrayType, FloatType, Int32Type,
    Int64Type, Int96Type,
};
use ::parquet::schema::types::ColumnDescriptor;

/// How a column's stored values become cells.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Decode {
    /// `false`/`true` → 0/1, as the training libraries see a bool column.
    Bool,
    /// INT32/INT64, signed or not, with a decimal scale (0 for plain integers).
    Int { unsigned: bool, scale: i32 },
    /// FLOAT (widened exactly to f64, as numpy does for a float32 column) or DOUBLE.
    Float,
    /// Half-precision floats (FIXED_LEN_BYTE_ARRAY(2) with the FLOAT16 logical type).
    Half,
    /// DECIMAL stored as big-endian two's complement bytes.
    DecimalBytes { scale: i32 },
    /// BYTE_ARRAY strings (UTF8/ENUM/JSON annotated or not): category names, or numbers as text.
    Text,
    /// A type that is not a number and not text (timestamps, dates, UUIDs, INT96…), described
    /// in words for the error raised when a model feature needs it.
    Unsupported(String),
}

/// One cell of a column.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Cell<'a> {
    Null,
    Number(f64),
    Text(&'a str),
    /// A non-null value of an [`Decode::Unsupported`] type (only `describe` reads those).
    Other,
}

impl Decode {
    /// The reading of a flat (non-repeated, top-level) column.
    pub(crate) fn of(descr: &ColumnDescriptor) -> Decode {
        let logical = descr.logical_type_ref();
        let converted = descr.converted_type();
        let unsupported =
            |what: &str| Decode::Unsupported(format!("{what} ({})", descr.physical_type()));
        if let Some(LogicalType::Date | LogicalType::Time(_) | LogicalType::Timestamp(_)) = logical
        {
            return unsupported("dates and times");
        }
        if matches!(
            converted,
            ConvertedType::DATE
                | ConvertedType::TIME_MILLIS
                | ConvertedType::TIME_MICROS
                | ConvertedType::TIMESTAMP_MILLIS
                | ConvertedType::TIMESTAMP_MICROS
                | ConvertedType::INTERVAL
        ) {
            return unsupported("dates and times");
        }
        let decimal_scale = match logical {
            Some(LogicalType::Decimal(d)) => Some(d.scale),
            _ if converted == ConvertedType::DECIMAL => Some(descr.type_scale()),
            _ => None,
        };
        match descr.physical_type() {
            Physical::BOOLEAN => Decode::Bool,
            Physical::INT32 | Physical::INT64 => {
                let unsigned = match logical {
                    Some(LogicalType::Integer(i)) => !i.is_signed,
                    _ => matches!(
                        converted,
                        ConvertedType::UINT_8
                            | ConvertedType::UINT_16
                            | ConvertedType::UINT_32
                            | ConvertedType::UINT_64
                    ),
                };
                Decode::Int {
                    unsigned,
                    scale: decimal_scale.unwrap_or(0),
                }
            }
            Physical::FLOAT | Physical::DOUBLE => Decode::Float,
            Physical::BYTE_ARRAY | Physical::FIXED_LEN_BYTE_ARRAY if decimal_scale.is_some() => {
                Decode::DecimalBytes {
                    scale: decimal_scale.unwrap_or(0),
                }
            }
            Physical::FIXED_LEN_BYTE_ARRAY
                if logical == Some(&LogicalType::Float16) && descr.type_length() == 2 =>
            {
                Decode::Half
            }
            Physical::BYTE_ARRAY => match logical {
                None
                | Some(
                    LogicalType::String
                    | LogicalType::Enum
                    | LogicalType::Json
                    | LogicalType::Unknown,
                ) => Decode::Text,
                Some(_) => unsupported("binary values"),
            },
            Physical::FIXED_LEN_BYTE_ARRAY => unsupported("fixed-length binary values"),
            Physical::INT96 => unsupported("INT96 timestamps"),
        }
    }
}

/// A typed column reader and its value buffer, for one row group.
enum Typed {
    Bool(ColumnReaderImpl<BoolType>, Vec<bool>),
    Int32(ColumnReaderImpl<Int32Type>, Vec<i32>),
    Int64(ColumnReaderImpl<Int64Type>, Vec<i64>),
    Int96(ColumnReaderImpl<Int96Type>, Vec<<Int96Type as DataType>::T>),
    Float(ColumnReaderImpl<FloatType>, Vec<f32>),
    Double(ColumnReaderImpl<DoubleType>, Vec<f64>),
    Bytes(
        ColumnReaderImpl<ByteArrayType>,
        Vec<<ByteArrayType as DataType>::T>,
    ),
    Fixed(
        ColumnReaderImpl<FixedLenByteArrayType>,
        Vec<<FixedLenByteArrayType as DataType>::T>,
    ),
}

/// Reads one column chunk of one row group as cells.
pub(crate) struct ColumnCells {
    typed: Typed,
    decode: Decode,
    /// 1 for an optional column (a level below it is a null), 0 for a required one.
    max_def: i16,
    defs: Vec<i16>,
}

/// A Parquet error while reading column data: the file's bytes are damaged.
pub(crate) fn corrupt(column: &str, e: impl std::fmt::Display) -> Error {
    Error::InvalidData(format!(
        "the Parquet file is damaged (column {column:?}): {e}"
    ))
}

/// Runs parquet-crate code on the file's bytes, turning a panic into the damaged-file error.
/// The crate asserts on some inconsistent metadata and decoder states instead of returning an
/// error (found by `tests/parquet.rs`'s byte-flipping test), and an upload must never take the
/// process down. A reader that panicked may be left mid-page; later calls on it are guarded too.
pub(crate) fn guarded<T>(column: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .unwrap_or_else(|_| Err(corrupt(column, "its bytes are inconsistent")))
}

impl ColumnCells {
    pub(crate) fn new(reader: ColumnReader, decode: Decode, max_def: i16) -> Self {
        let typed = match reader {
            ColumnReader::BoolColumnReader(r) => Typed::Bool(r, Vec::new()),
            ColumnReader::Int32ColumnReader(r) => Typed::Int32(r, Vec::new()),
            ColumnReader::Int64ColumnReader(r) => Typed::Int64(r, Vec::new()),
            ColumnReader::Int96ColumnReader(r) => Typed::Int96(r, Vec::new()),
            ColumnReader::FloatColumnReader(r) => Typed::Float(r, Vec::new()),
            ColumnReader::DoubleColumnReader(r) => Typed::Double(r, Vec::new()),
            ColumnReader::ByteArrayColumnReader(r) => Typed::Bytes(r, Vec::new()),
            ColumnReader::FixedLenByteArrayColumnReader(r) => Typed::Fixed(r, Vec::new()),
        };
        ColumnCells {
            typed,
            decode,
            max_def,
            defs: Vec::new(),
        }
    }

    /// Skips `n` rows; returns how many there were.
    pub(crate) fn skip(&mut self, n: usize, column: &str) -> Result<usize> {
        guarded(column, || {
            self.skip_unguarded(n).map_err(|e| corrupt(column, e))
        })
    }

    fn skip_unguarded(&mut self, n: usize) -> ::parquet::errors::Result<usize> {
        match &mut self.typed {
            Typed::Bool(r, _) => r.skip_records(n),
            Typed::Int32(r, _) => r.skip_records(n),
            Typed::Int64(r, _) => r.skip_records(n),
            Typed::Int96(r, _) => r.skip_records(n),
            Typed::Float(r, _) => r.skip_records(n),
            Typed::Double(r, _) => r.skip_records(n),
            Typed::Bytes(r, _) => r.skip_records(n),
            Typed::Fixed(r, _) => r.skip_records(n),
        }
    }

    /// Reads the next `n` rows and hands `visit` each row's cell with its index in `0..n`.
    /// Fewer than `n` rows in the chunk is an error: the row group's metadata promised them.
    pub(crate) fn read(
        &mut self,
        n: usize,
        column: &str,
        visit: &mut dyn FnMut(usize, Cell<'_>) -> Result<()>,
    ) -> Result<()> {
        guarded(column, || self.read_unguarded(n, column, visit))
    }

    fn read_unguarded(
        &mut self,
        n: usize,
        column: &str,
        visit: &mut dyn FnMut(usize, Cell<'_>) -> Result<()>,
    ) -> Result<()> {
        let ColumnCells {
            typed,
            decode,
            max_def,
            defs,
        } = self;
        let max_def = *max_def;
        let number = |v: f64| Cell::Number(v);
        match typed {
            Typed::Bool(r, vals) => {
                fill(r, n, max_def, defs, vals, column)?;
                each(defs, max_def, n, vals, column, |i, v| {
                    visit(i, v.map_or(Cell::Null, |b| number(f64::from(u8::from(*b)))))
                })
            }
            Typed::Int32(r, vals) => {
                fill(r, n, max_def, defs, vals, column)?;
                each(defs, max_def, n, vals, column, |i, v| {
                    let cell = v.map_or(Cell::Null, |&v| {
                        int_cell(decode, i128::from(v), i128::from(v as u32))
                    });
                    visit(i, cell)
                })
            }
            Typed::Int64(r, vals) => {
                fill(r, n, max_def, defs, vals, column)?;
                each(defs, max_def, n, vals, column, |i, v| {
                    let cell = v.map_or(Cell::Null, |&v| {
                        int_cell(decode, i128::from(v), i128::from(v as u64))
                    });
                    visit(i, cell)
                })
            }
            Typed::Int96(r, vals) => {
                fill(r, n, max_def, defs, vals, column)?;
                each(defs, max_def, n, vals, column, |i, v| {
                    visit(i, v.map_or(Cell::Null, |_| Cell::Other))
                })
            }
            Typed::Float(r, vals) => {
                fill(r, n, max_def, defs, vals, column)?;
                each(defs, max_def, n, vals, column, |i, v| {
                    visit(i, v.map_or(Cell::Null, |&v| number(f64::from(v))))
                })
            }
            Typed::Double(r, vals) => {
                fill(r, n, max_def, defs, vals, column)?;
                each(defs, max_def, n, vals, column, |i, v| {
                    visit(i, v.map_or(Cell::Null, |&v| number(v)))
                })
            }
            Typed::Bytes(r, vals) => {
                fill(r, n, max_def, defs, vals, column)?;
                each(defs, max_def, n, vals, column, |i, v| {
                    let Some(v) = v else {
                        return visit(i, Cell::Null);
                    };
                    match decode {
                        Decode::Text => {
                            let text = v
                                .as_utf8()
                                .map_err(|_| corrupt(column, "a value is not valid UTF-8 text"))?;
                            visit(i, Cell::Text(text))
                        }
                        Decode::DecimalBytes { scale } => {
                            visit(i, number(decimal_bytes(v.data(), *scale, column)?))
                        }
                        _ => visit(i, Cell::Other),
                    }
                })
            }
            Typed::Fixed(r, vals) => {
                fill(r, n, max_def, defs, vals, column)?;
                each(defs, max_def, n, vals, column, |i, v| {
                    let Some(v) = v else {
                        return visit(i, Cell::Null);
                    };
                    match decode {
                        Decode::DecimalBytes { scale } => {
                            visit(i, number(decimal_bytes(v.data(), *scale, column)?))
                        }
                        Decode::Half => match v.data() {
                            &[lo, hi] => visit(i, number(half(u16::from_le_bytes([lo, hi])))),
                            _ => Err(corrupt(column, "a FLOAT16 value is not 2 bytes")),
                        },
                        _ => visit(i, Cell::Other),
                    }
                })
            }
        }
    }
}

/// Reads exactly `n` records' levels and values into `defs` and `vals` (both cleared first).
fn fill<T: DataType>(
    reader: &mut ColumnReaderImpl<T>,
    n: usize,
    max_def: i16,
    defs: &mut Vec<i16>,
    vals: &mut Vec<T::T>,
    column: &str,
) -> Result<()> {
    defs.clear();
    vals.clear();
    let mut got = 0;
    while got < n {
        let levels = if max_def > 0 { Some(&mut *defs) } else { None };
        let (records, _, _) = reader
            .read_records(n - got, levels, None, vals)
            .map_err(|e| corrupt(column, e))?;
        if records == 0 {
            return Err(corrupt(
                column,
                format!("the row group's metadata promises {n} more rows, the data holds {got}"),
            ));
        }
        got += records;
    }
    Ok(())
}

/// Pairs definition levels with the non-null values: `f(i, None)` for a null in row `i`.
fn each<T>(
    defs: &[i16],
    max_def: i16,
    n: usize,
    vals: &[T],
    column: &str,
    mut f: impl FnMut(usize, Option<&T>) -> Result<()>,
) -> Result<()> {
    if max_def == 0 {
        if vals.len() != n {
            return Err(corrupt(
                column,
                "fewer values than rows in a required column",
            ));
        }
        return vals.iter().enumerate().try_for_each(|(i, v)| f(i, Some(v)));
    }
    let mut values = vals.iter();
    for (i, &d) in defs.iter().take(n).enumerate() {
        if d == max_def {
            let v = values
                .next()
                .ok_or_else(|| corrupt(column, "fewer values than definition levels"))?;
            f(i, Some(v))?;
        } else {
            f(i, None)?;
        }
    }
    Ok(())
}

/// `unscaled / 10^scale`. While both are exact in f64 (|v| < 2^53, scale ≤ 22) one division
/// is correctly rounded, i.e. the same double as parsing the decimal's text from a CSV; past
/// that the text is built and parsed, which is correctly rounded too.
/// An integer cell of either width: its signed or unsigned reading (by the column's logical
/// type), scaled when it is a decimal.
fn int_cell<'a>(decode: &Decode, signed: i128, unsigned: i128) -> Cell<'a> {
    match decode {
        Decode::Int {
            unsigned: true,
            scale,
        } => Cell::Number(scaled(unsigned as f64, unsigned, *scale)),
        Decode::Int { scale, .. } => Cell::Number(scaled(signed as f64, signed, *scale)),
        _ => Cell::Other,
    }
}

fn scaled(approx: f64, unscaled: i128, scale: i32) -> f64 {
    if scale == 0 {
        return approx;
    }
    if (0..=22).contains(&scale) && unscaled.unsigned_abs() < (1u128 << 53) {
        return approx / 10f64.powi(scale);
    }
    format!("{unscaled}e{}", -i64::from(scale))
        .parse()
        .unwrap_or(f64::NAN)
}

/// A DECIMAL in big-endian two's complement bytes (at most 16: precision ≤ 38).
fn decimal_bytes(bytes: &[u8], scale: i32, column: &str) -> Result<f64> {
    if bytes.len() > 16 {
        return Err(Error::InvalidData(format!(
            "column {column:?} holds decimals of {} bytes; at most 16 (38 digits) are read",
            bytes.len()
        )));
    }
    let negative = bytes.first().is_some_and(|b| b & 0x80 != 0);
    let mut buf = if negative { [0xFF; 16] } else { [0; 16] };
    buf[16 - bytes.len()..].copy_from_slice(bytes);
    let v = i128::from_be_bytes(buf);
    Ok(scaled(v as f64, v, scale))
}

/// IEEE 754 half precision → f64 (exact: every half is a double).
fn half(bits: u16) -> f64 {
    let sign = if bits & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = i32::from((bits >> 10) & 0x1F);
    let frac = f64::from(bits & 0x3FF);
    sign * match exp {
        0 => frac * 2f64.powi(-24),
        31 if frac == 0.0 => f64::INFINITY,
        31 => f64::NAN,
        _ => (1.0 + frac / 1024.0) * 2f64.powi(exp - 15),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_read_as_the_double_their_text_parses_to() {
        assert_eq!(scaled(1234.0, 1234, 2), "12.34".parse::<f64>().unwrap());
        assert_eq!(scaled(-5.0, -5, 1), -0.5);
        let big: i128 = 12_345_678_901_234_567_890;
        assert_eq!(
            scaled(big as f64, big, 3),
            "12345678901234567.890".parse::<f64>().unwrap()
        );
        // 0xFF85 = -123 in two's complement.
        assert_eq!(decimal_bytes(&[0xFF, 0x85], 1, "d").unwrap(), -12.3);
        assert!(decimal_bytes(&[0; 17], 0, "d").is_err());
    }

    #[test]
    fn half_floats_convert_exactly() {
        assert_eq!(half(0x3C00), 1.0);
        assert_eq!(half(0xC000), -2.0);
        assert_eq!(half(0x0001), 2f64.powi(-24));
        assert_eq!(half(0x7C00), f64::INFINITY);
        assert!(half(0x7E00).is_nan());
    }
}
