//! A minimal protobuf writer for hand-made ONNX models: just the fields a tree ensemble needs,
//! so bad-input tests can state exactly which id is wrong without Python in the loop.

/// Protobuf bytes built field by field.
#[derive(Default, Clone)]
pub struct Msg(pub Vec<u8>);

fn varint(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

impl Msg {
    pub fn int(mut self, field: u32, v: i64) -> Self {
        varint(&mut self.0, (field as u64) << 3);
        varint(&mut self.0, v as u64);
        self
    }
    pub fn bytes(mut self, field: u32, b: &[u8]) -> Self {
        varint(&mut self.0, ((field as u64) << 3) | 2);
        varint(&mut self.0, b.len() as u64);
        self.0.extend_from_slice(b);
        self
    }
    pub fn str(self, field: u32, s: &str) -> Self {
        self.bytes(field, s.as_bytes())
    }
    pub fn msg(self, field: u32, m: &Msg) -> Self {
        self.bytes(field, &m.0)
    }
    /// A packed repeated int64 field.
    pub fn ints(self, field: u32, vs: &[i64]) -> Self {
        let mut p = Vec::new();
        for &v in vs {
            varint(&mut p, v as u64);
        }
        self.bytes(field, &p)
    }
    /// A packed repeated float field.
    pub fn floats(self, field: u32, vs: &[f32]) -> Self {
        let p: Vec<u8> = vs.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.bytes(field, &p)
    }
}

/// One node attribute (AttributeProto).
pub enum Attr<'a> {
    Int(i64),
    Str(&'a str),
    Ints(&'a [i64]),
    Floats(&'a [f32]),
    Strs(&'a [&'a str]),
    /// A tensor attribute: (data type, values as f64, written as float_data or double_data).
    Tensor(i32, &'a [f64]),
    /// A uint8 tensor (TreeEnsemble's nodes_modes), as raw_data.
    Bytes(&'a [u8]),
}

pub fn attr(name: &str, a: Attr) -> Msg {
    let m = Msg::default().str(1, name);
    match a {
        Attr::Int(v) => m.int(3, v).int(20, 2),
        Attr::Str(s) => m.str(4, s).int(20, 3),
        Attr::Ints(v) => m.ints(8, v).int(20, 7),
        Attr::Floats(v) => m.floats(7, v).int(20, 6),
        Attr::Strs(v) => v.iter().fold(m, |m, s| m.str(9, s)).int(20, 8),
        Attr::Tensor(dt, v) => {
            let t = Msg::default().ints(1, &[v.len() as i64]).int(2, dt as i64);
            let t = if dt == 11 {
                let p: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
                t.bytes(10, &p)
            } else {
                let p: Vec<f32> = v.iter().map(|&x| x as f32).collect();
                t.floats(4, &p)
            };
            m.msg(5, &t).int(20, 4)
        }
        Attr::Bytes(v) => {
            let t = Msg::default()
                .ints(1, &[v.len() as i64])
                .int(2, 2)
                .bytes(9, v);
            m.msg(5, &t).int(20, 4)
        }
    }
}

pub fn node(op: &str, domain: &str, inputs: &[&str], outputs: &[&str], attrs: &[Msg]) -> Msg {
    let m = inputs.iter().fold(Msg::default(), |m, i| m.str(1, i));
    let m = outputs.iter().fold(m, |m, o| m.str(2, o));
    let m = m.str(4, op).str(7, domain);
    attrs.iter().fold(m, |m, a| m.msg(5, a))
}

/// An ai.onnx.ml operator `op` (TreeEnsembleRegressor, TreeEnsemble) from the input "X" to
/// the one output "Y": the shape of every single-node model the tests build.
pub fn ml_node(op: &str, attrs: &[Msg]) -> Msg {
    node(op, "ai.onnx.ml", &["X"], &["Y"], attrs)
}

/// A tensor ValueInfoProto of `elem` (1 float, 11 double, 7 int64) and shape [N, cols].
pub fn value_info(name: &str, elem: i64, cols: Option<i64>) -> Msg {
    let dim_n = Msg::default().str(2, "N");
    let shape = match cols {
        Some(c) => Msg::default()
            .msg(1, &dim_n)
            .msg(1, &Msg::default().int(1, c)),
        None => Msg::default(),
    };
    let tensor = Msg::default().int(1, elem).msg(2, &shape);
    Msg::default()
        .str(1, name)
        .msg(2, &Msg::default().msg(1, &tensor))
}

/// A model of `nodes` reading input "X" (element type `elem`, `cols` columns) and returning
/// `outputs`, importing ai.onnx.ml at `ml`.
pub fn model(nodes: &[Msg], elem: i64, cols: i64, outputs: &[&str], ml: i64) -> Vec<u8> {
    let g = nodes.iter().fold(Msg::default(), |g, n| g.msg(1, n));
    let g = g.msg(11, &value_info("X", elem, Some(cols)));
    let g = outputs
        .iter()
        .fold(g, |g, o| g.msg(12, &value_info(o, 1, None)));
    let ml_set = Msg::default().str(1, "ai.onnx.ml").int(2, ml);
    let default_set = Msg::default().str(1, "").int(2, 17);
    Msg::default()
        .int(1, 8)
        .str(2, "shaplab-tests")
        .msg(7, &g)
        .msg(8, &ml_set)
        .msg(8, &default_set)
        .0
}

/// The attributes of a TreeEnsembleRegressor, spelled as lists.
pub struct Reg<'a> {
    pub tree_ids: &'a [i64],
    pub node_ids: &'a [i64],
    pub features: &'a [i64],
    pub modes: &'a [&'a str],
    pub values: &'a [f32],
    pub true_ids: &'a [i64],
    pub false_ids: &'a [i64],
    pub tracks: &'a [i64],
    /// (tree, node, target, weight)
    pub weights: &'a [(i64, i64, i64, f32)],
    pub n_targets: i64,
    pub extra: Vec<Msg>,
}

impl Reg<'_> {
    /// The node's attributes, with `prefix` "target" (regressor) or "class" (classifier).
    pub fn attrs(&self, prefix: &str) -> Vec<Msg> {
        let w = self.weights;
        let col = |f: fn(&(i64, i64, i64, f32)) -> i64| w.iter().map(f).collect::<Vec<_>>();
        let mut v = vec![
            attr("nodes_treeids", Attr::Ints(self.tree_ids)),
            attr("nodes_nodeids", Attr::Ints(self.node_ids)),
            attr("nodes_featureids", Attr::Ints(self.features)),
            attr("nodes_modes", Attr::Strs(self.modes)),
            attr("nodes_values", Attr::Floats(self.values)),
            attr("nodes_truenodeids", Attr::Ints(self.true_ids)),
            attr("nodes_falsenodeids", Attr::Ints(self.false_ids)),
            attr("nodes_missing_value_tracks_true", Attr::Ints(self.tracks)),
            attr(&format!("{prefix}_treeids"), Attr::Ints(&col(|x| x.0))),
            attr(&format!("{prefix}_nodeids"), Attr::Ints(&col(|x| x.1))),
            attr(&format!("{prefix}_ids"), Attr::Ints(&col(|x| x.2))),
            attr(
                &format!("{prefix}_weights"),
                Attr::Floats(&w.iter().map(|x| x.3).collect::<Vec<_>>()),
            ),
        ];
        if prefix == "target" {
            v.push(attr("n_targets", Attr::Int(self.n_targets)));
        }
        v.extend(self.extra.iter().cloned());
        v
    }

    /// A whole model: this regressor on a float input of `cols` columns.
    pub fn model(&self, cols: i64) -> Vec<u8> {
        let n = ml_node("TreeEnsembleRegressor", &self.attrs("target"));
        model(&[n], 1, cols, &["Y"], 3)
    }
}

/// One split on feature 0 (`mode` at 1.0, NaN tracks true when `tracks`) into leaves of
/// weight 1 (true) and 0 (false).
pub fn stump<'a>(mode: &'a [&'a str], tracks: &'a [i64]) -> Reg<'a> {
    Reg {
        tree_ids: &[0, 0, 0],
        node_ids: &[0, 1, 2],
        features: &[0, 0, 0],
        modes: mode,
        values: &[1.0, 0.0, 0.0],
        true_ids: &[1, 0, 0],
        false_ids: &[2, 0, 0],
        tracks,
        weights: &[(0, 1, 0, 1.0), (0, 2, 0, 0.0)],
        n_targets: 1,
        extra: Vec::new(),
    }
}
