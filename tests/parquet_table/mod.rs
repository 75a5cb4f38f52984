//! A small typed table the Parquet tests write twice: as Parquet with the parquet crate's
//! low-level writer, and as the equivalent CSV (the text a CSV export of the same values holds),
//! so every Parquet read can be checked against the CSV reader.
#![allow(dead_code)]

pub mod cases;

use parquet::basic::Compression;
use parquet::data_type::{
    BoolType, ByteArray, ByteArrayType, DoubleType, FloatType, Int32Type, Int64Type,
};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use parquet::schema::types::ColumnPath;
use std::path::Path;
use std::sync::Arc;

/// One column's cells; `None` is a null.
#[derive(Clone, Debug)]
pub enum Values {
    Bool(Vec<Option<bool>>),
    I32(Vec<Option<i32>>),
    /// INT32 stored bits read as unsigned (UINT_32): the CSV holds the unsigned number.
    U32(Vec<Option<u32>>),
    I64(Vec<Option<i64>>),
    /// INT64 DECIMAL with this scale: the CSV holds the decimal's text.
    Decimal(Vec<Option<i64>>, u32),
    F32(Vec<Option<f32>>),
    F64(Vec<Option<f64>>),
    Text(Vec<Option<String>>),
}

#[derive(Clone, Debug)]
pub struct Column {
    pub name: String,
    pub values: Values,
    /// False writes the column `required` (its values must all be present).
    pub optional: bool,
    /// Dictionary-encode the column (otherwise plain).
    pub dictionary: bool,
}

impl Column {
    pub fn new(name: &str, values: Values) -> Self {
        Column {
            name: name.to_string(),
            values,
            optional: true,
            dictionary: false,
        }
    }

    pub fn dictionary(mut self) -> Self {
        self.dictionary = true;
        self
    }

    pub fn required(mut self) -> Self {
        self.optional = false;
        self
    }

    fn len(&self) -> usize {
        match &self.values {
            Values::Bool(v) => v.len(),
            Values::I32(v) => v.len(),
            Values::U32(v) => v.len(),
            Values::I64(v) | Values::Decimal(v, _) => v.len(),
            Values::F32(v) => v.len(),
            Values::F64(v) => v.len(),
            Values::Text(v) => v.len(),
        }
    }

    fn declaration(&self) -> String {
        let repetition = if self.optional {
            "optional"
        } else {
            "required"
        };
        let ty = match &self.values {
            Values::Bool(_) => "boolean".to_string(),
            Values::I32(_) => "int32".to_string(),
            Values::U32(_) => "int32 (UINT_32)".to_string(),
            Values::I64(_) => "int64".to_string(),
            Values::Decimal(_, scale) => format!("int64 (DECIMAL(18,{scale}))"),
            Values::F32(_) => "float".to_string(),
            Values::F64(_) => "double".to_string(),
            Values::Text(_) => "binary (UTF8)".to_string(),
        };
        let (ty, annotation) = ty.split_once(' ').unwrap_or((&ty, ""));
        format!("{repetition} {ty} {} {annotation};", self.name)
    }

    /// The CSV text of row `i` (empty for a null).
    fn cell(&self, i: usize) -> String {
        fn text<T: ToString>(v: &Option<T>) -> String {
            v.as_ref().map(T::to_string).unwrap_or_default()
        }
        match &self.values {
            Values::Bool(v) => v[i].map(|b| u8::from(b).to_string()).unwrap_or_default(),
            Values::I32(v) => text(&v[i]),
            Values::U32(v) => text(&v[i]),
            Values::I64(v) => text(&v[i]),
            Values::Decimal(v, scale) => v[i].map(|u| decimal_text(u, *scale)).unwrap_or_default(),
            // Rust prints the shortest text that parses back to the same double.
            Values::F32(v) => v[i].map(|x| f64::from(x).to_string()).unwrap_or_default(),
            Values::F64(v) => text(&v[i]),
            Values::Text(v) => v[i].clone().unwrap_or_default(),
        }
    }
}

/// `unscaled × 10^-scale` as decimal text: `-4422, 5` → `-0.04422`.
pub fn decimal_text(unscaled: i64, scale: u32) -> String {
    let digits = format!(
        "{:0>width$}",
        unscaled.unsigned_abs(),
        width = scale as usize + 1
    );
    let (int, frac) = digits.split_at(digits.len() - scale as usize);
    let sign = if unscaled < 0 { "-" } else { "" };
    if scale == 0 {
        format!("{sign}{int}")
    } else {
        format!("{sign}{int}.{frac}")
    }
}

/// How the Parquet file is laid out.
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    pub row_group_rows: usize,
    /// Rows per data page (several pages per row group exercise skipping inside a group).
    pub page_rows: usize,
    pub statistics: bool,
}

impl Default for Layout {
    fn default() -> Self {
        Layout {
            row_group_rows: 7,
            page_rows: 3,
            statistics: true,
        }
    }
}

pub struct Table {
    pub columns: Vec<Column>,
}

impl Table {
    pub fn rows(&self) -> usize {
        self.columns.first().map_or(0, Column::len)
    }

    pub fn write_csv(&self, path: &Path) {
        let mut out = self
            .columns
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>()
            .join(",");
        out.push('\n');
        for i in 0..self.rows() {
            let cells: Vec<String> = self.columns.iter().map(|c| c.cell(i)).collect();
            out.push_str(&cells.join(","));
            out.push('\n');
        }
        std::fs::write(path, out).unwrap();
    }

    pub fn write_parquet(&self, path: &Path, layout: Layout) {
        let message = format!(
            "message schema {{ {} }}",
            self.columns
                .iter()
                .map(Column::declaration)
                .collect::<Vec<_>>()
                .join(" ")
        );
        let schema = Arc::new(parse_message_type(&message).unwrap());
        let mut props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_dictionary_enabled(false)
            .set_data_page_row_count_limit(layout.page_rows)
            .set_write_batch_size(layout.page_rows)
            .set_statistics_enabled(if layout.statistics {
                EnabledStatistics::Chunk
            } else {
                EnabledStatistics::None
            });
        for c in self.columns.iter().filter(|c| c.dictionary) {
            props = props.set_column_dictionary_enabled(ColumnPath::from(c.name.as_str()), true);
        }
        let file = std::fs::File::create(path).unwrap();
        let mut writer = SerializedFileWriter::new(file, schema, Arc::new(props.build())).unwrap();
        let rows = self.rows();
        let mut start = 0;
        while start < rows {
            let end = (start + layout.row_group_rows).min(rows);
            let mut group = writer.next_row_group().unwrap();
            let mut columns = self.columns.iter();
            while let Some(mut out) = group.next_column().unwrap() {
                let column = columns.next().unwrap();
                write_cells(&mut out, column, start, end);
                out.close().unwrap();
            }
            group.close().unwrap();
            start = end;
        }
        writer.close().unwrap();
    }
}

fn write_cells(
    out: &mut parquet::file::writer::SerializedColumnWriter<'_>,
    c: &Column,
    start: usize,
    end: usize,
) {
    fn split<T: Clone>(cells: &[Option<T>]) -> (Vec<T>, Vec<i16>) {
        let values = cells.iter().flatten().cloned().collect();
        let defs = cells.iter().map(|v| i16::from(v.is_some())).collect();
        (values, defs)
    }
    macro_rules! write {
        ($ty:ty, $cells:expr, $map:expr) => {{
            let (values, defs) = split(&$cells[start..end]);
            let values: Vec<_> = values.into_iter().map($map).collect();
            let defs = c.optional.then_some(defs.as_slice());
            out.typed::<$ty>().write_batch(&values, defs, None).unwrap();
        }};
    }
    match &c.values {
        Values::Bool(v) => write!(BoolType, v, |b| b),
        Values::I32(v) => write!(Int32Type, v, |x| x),
        Values::U32(v) => write!(Int32Type, v, |x: u32| x as i32),
        Values::I64(v) | Values::Decimal(v, _) => write!(Int64Type, v, |x| x),
        Values::F32(v) => write!(FloatType, v, |x| x),
        Values::F64(v) => write!(DoubleType, v, |x| x),
        Values::Text(v) => write!(ByteArrayType, v, |s: String| ByteArray::from(s.as_str())),
    }
}

/// Column `j` of CSV cells parsed as `T`.
pub fn column_of<T: std::str::FromStr>(rows: &[Vec<Option<String>>], j: usize) -> Vec<Option<T>>
where
    T::Err: std::fmt::Debug,
{
    rows.iter()
        .map(|r| r[j].as_ref().map(|c| c.parse().unwrap()))
        .collect()
}
