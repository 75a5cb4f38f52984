//! A small, deterministic workload for profiling the explainers under callgrind (where
//! `cargo bench` is awkward) and for quick rows/s checks without the Python peers.
//!
//! ```text
//! cargo build --release -p shaplab --example profile_engine
//! valgrind --tool=callgrind target/release/examples/profile_engine path w1 200
//! target/release/examples/profile_engine path w1 2000 [threads]
//! ```
//!
//! Modes: `path` (shap_values), `interactions`, `interventional` (100 background rows,
//! probability). Workloads: `w1` is synthetic but shaped like the W1 bench (XGBoost-style f32
//! splits, 500 trees, depth ≤ 6, ~43 leaves, 50 features, 3% NaN); `deep` is shaped like a
//! scikit-learn forest (100 trees, depth up to 24, so the 16-point and classic paths run);
//! `lw` is leaf-wise like the LightGBM bench (500 trees, 63 leaves, unbounded depth).
//! Or pass a model file and a CSV instead of a workload name: `path MODEL.json X.csv 200`.
//! The synthetic trees are seeded, so instruction counts compare across commits.

use shaplab::model::{Split, TreeBuilder};
use shaplab::rng::SplitMix64;
use shaplab::{CsvRows, Ensemble, Link, Matrix, ModelFormat};
use std::time::Instant;

const FEATURES: usize = 50;

fn uniform(rng: &mut SplitMix64) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// Grow one random tree: `leaves` leaves, split the widest-cover leaf first (leaf-wise) or a
/// random open leaf above `max_depth` (depth-wise), covers consistent top-down.
fn tree(rng: &mut SplitMix64, leaves: usize, max_depth: usize, split: Split) -> TreeBuilder {
    let n = 2 * leaves - 1;
    let mut b = TreeBuilder::with_nodes(n, split);
    b.cover[0] = 5000.0;
    let mut depth = vec![0usize; n];
    let mut open = vec![0usize];
    let mut next = 1;
    while next + 1 < n && !open.is_empty() {
        let i = rng.below(open.len());
        let node = open.swap_remove(i);
        if depth[node] >= max_depth {
            continue;
        }
        let (l, r) = (next, next + 1);
        next += 2;
        b.left[node] = l as i64;
        b.right[node] = r as i64;
        b.feature[node] = rng.below(FEATURES) as i64;
        b.threshold[node] = uniform(rng) * 3.0 - 1.5;
        b.default_left[node] = rng.below(2) == 0;
        let frac = 0.1 + 0.8 * uniform(rng);
        b.cover[l] = b.cover[node] * frac;
        b.cover[r] = b.cover[node] - b.cover[l];
        depth[l] = depth[node] + 1;
        depth[r] = depth[node] + 1;
        open.push(l);
        open.push(r);
    }
    // Unused trailing slots become unreachable leaves (dropped by the preorder renumbering).
    for v in &mut b.value {
        *v = (uniform(rng) - 0.5) * 0.1;
    }
    for c in &mut b.cover[next..] {
        *c = 1.0;
    }
    b
}

fn synthetic(name: &str) -> Ensemble {
    let mut rng = SplitMix64(42);
    let (trees, leaves, depth, split) = match name {
        "w1" => (500, 43, 6, Split::LessF32),
        "lw" => (500, 63, 64, Split::LessF32),
        "deep" => (100, 600, 24, Split::LessEqF32),
        _ => panic!("unknown workload {name}: w1, lw or deep"),
    };
    let trees: Vec<_> = (0..trees)
        .map(|i| {
            tree(&mut rng, leaves, depth, split)
                .build(i, FEATURES)
                .expect("valid synthetic tree")
        })
        .collect();
    let outputs = vec![0; trees.len()];
    Ensemble::new(
        ModelFormat::XgboostJson,
        "binary:logistic".into(),
        FEATURES,
        1,
        None,
        vec![0.0],
        Link::Logistic { scale: 1.0 },
        trees,
        outputs,
    )
    .expect("valid synthetic ensemble")
}

fn synthetic_rows(n: usize) -> Matrix {
    let mut rng = SplitMix64(7);
    let values = (0..n * FEATURES)
        .map(|_| {
            if rng.below(100) < 3 {
                f64::NAN
            } else {
                // Roughly normal: sum of three uniforms.
                (0..3).map(|_| uniform(&mut rng)).sum::<f64>() * 2.0 - 3.0
            }
        })
        .collect();
    Matrix::new(n, FEATURES, values).expect("shape")
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = args.first().map(String::as_str).unwrap_or("path");
    let workload = args.get(1).map(String::as_str).unwrap_or("w1");
    let (model, rows, rest) = if workload.contains('.') {
        let model = Ensemble::from_path(std::path::Path::new(workload)).expect("model");
        let csv = args.get(2).expect("model file needs a CSV of rows");
        let rows = CsvRows::open(std::path::Path::new(csv), &model)
            .and_then(|mut r| r.read_all())
            .expect("rows");
        (model, rows, &args[3.min(args.len())..])
    } else {
        let model = synthetic(workload);
        let n = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(200);
        (model, synthetic_rows(n), &args[3.min(args.len())..])
    };
    let n: usize = rest
        .first()
        .and_then(|s| s.parse().ok())
        .unwrap_or(rows.rows)
        .min(rows.rows);
    let threads: usize = rest.get(1).and_then(|s| s.parse().ok()).unwrap_or(1);
    let all_rows = rows.clone();
    let rows = rows.slice(0, n);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("pool");
    // The background is prepared once per job, so it is timed apart from the rows.
    let background = (mode == "interventional").then(|| {
        let t = Instant::now();
        // From the data itself for a model file (as `make bench` and the service draw it).
        let pool = if workload.contains('.') {
            all_rows.clone()
        } else {
            synthetic_rows(1000)
        };
        let bg = shaplab::Background::sample(&model, &pool, 100, 1).expect("background");
        println!("background: {:.3} s", t.elapsed().as_secs_f64());
        bg
    });
    let t = Instant::now();
    let checksum: f64 = pool
        .install(|| match (mode, &background) {
            ("path", _) => shaplab::shap_values(&model, &rows).expect("shap").values,
            ("interactions", _) => {
                shaplab::interaction_values(&model, &rows).expect("interactions")
            }
            ("interventional", Some(bg)) => {
                shaplab::interventional_values(&model, &rows, bg, shaplab::Output::Probability)
                    .expect("interventional")
                    .values
            }
            _ => panic!("unknown mode {mode}: path, interactions or interventional"),
        })
        .iter()
        .map(|v| v.abs())
        .sum();
    let secs = t.elapsed().as_secs_f64();
    println!(
        "{mode} {workload}: {} trees, {n} rows, {threads} threads: {:.0} rows/s, checksum {checksum:.12e}",
        model.trees.len(),
        n as f64 / secs
    );
}
