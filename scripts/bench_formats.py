#!/usr/bin/env python3
"""Format workloads for `make bench` (driven by scripts/bench.sh, after W1/LW).

    bench_formats.py gen DIR       write the models and rows (cached: skipped when present)
    bench_formats.py peers DIR     time the libraries' own SHAP on the same rows
    bench_formats.py report DIR    print the table and value cross-checks from DIR/*formats.json

CW: XGBoost binary:logistic with pandas `category` columns (hist, max_cat_to_onehot=1, so
    splits are category partitions), 500 trees, depth 6. Peer: pred_contribs.
CL: LightGBM binary on the same frame, 500 trees, 63 leaves. Peer: pred_contrib.
RF: scikit-learn RandomForestClassifier (100 trees, max_depth 12, min_samples_leaf 5) on the
    numeric columns without NaN, saved with skops. Peer: shap.TreeExplainer (C++), class 1.
Data: 40 numeric + 10 categorical features (5..60 categories each, as words), 20,000 rows to
train, 10,000 explained. shaplab reads xc.csv, whose category columns hold the words; the
peers get the same rows as a pandas frame with the training categories.
Peers are slow, so they are timed on the first PEER_ROWS rows; rows/s is what is compared.
"""
import json
import os
import sys
import time

import numpy as np

N_TRAIN, N_EXPLAIN, N_NUMERIC, N_CAT = 20000, 10000, 40, 10
PEER_ROWS = {"xgboost": 1000, "lightgbm": 500, "shap": 200}
FILES = ("cw.json", "cl.txt", "rf.skops", "xc.csv", "xr.csv", "cats.json")
NUM = [f"f{i}" for i in range(N_NUMERIC)]
CAT = [f"c{j}" for j in range(N_CAT)]


def words(rng, n):
    """n distinct pronounceable words (three consonant-vowel syllables): never a number and
    never one of the spellings a CSV reader takes for missing (na, nan, null)."""
    out = set()
    while len(out) < n:
        out.add("".join(rng.choice(list("bdfgklmprstvz")) + rng.choice(list("aeiou")) for _ in range(3)))
    return sorted(out)


def gen(d):
    os.makedirs(d, exist_ok=True)
    if all(os.path.exists(os.path.join(d, f)) for f in FILES):
        print(f"format bench models present in {d}")
        return
    import lightgbm as lgb
    import pandas as pd
    import skops.io
    import xgboost as xgb
    from sklearn.datasets import make_classification
    from sklearn.ensemble import RandomForestClassifier

    n = N_TRAIN + N_EXPLAIN
    X, y0 = make_classification(n_samples=n, n_features=N_NUMERIC, n_informative=15, n_redundant=5,
                                random_state=1)
    rng = np.random.default_rng(1)
    # The label also depends on the categories (a random effect per category), so the trees
    # have reasons to split on them.
    sizes = np.linspace(5, 60, N_CAT).round().astype(int)
    cats, codes, score = {}, {}, 1.5 * (2 * y0 - 1.0)
    for col, k in zip(CAT, sizes):
        cats[col] = words(rng, k)
        codes[col] = rng.integers(0, k, n)
        score = score + 0.6 * rng.normal(0, 1, k)[codes[col]]
    y = (rng.random(n) < 1 / (1 + np.exp(-score))).astype(int)
    frame = pd.DataFrame(np.where(rng.random(X.shape) < 0.03, np.nan, X), columns=NUM)
    for col in CAT:
        c = np.where(rng.random(n) < 0.02, -1, codes[col])  # -1: a missing category
        frame[col] = pd.Categorical.from_codes(c, categories=cats[col])
    ft, fe = frame.iloc[:N_TRAIN], frame.iloc[N_TRAIN:]
    t = time.time()
    bst = xgb.train({"objective": "binary:logistic", "max_depth": 6, "eta": 0.05, "tree_method": "hist",
                     "max_cat_to_onehot": 1, "seed": 0, "nthread": 2},
                    xgb.DMatrix(ft, label=y[:N_TRAIN], enable_categorical=True), num_boost_round=500)
    bst.save_model(os.path.join(d, "cw.json"))
    trees = json.load(open(os.path.join(d, "cw.json")))["learner"]["gradient_booster"]["model"]["trees"]
    parts = sum(sum(1 for s in t["split_type"] if s == 1) for t in trees)
    print(f"trained CW xgboost in {time.time() - t:.1f}s ({parts} categorical splits)")
    t = time.time()
    lg = lgb.train({"objective": "binary", "num_leaves": 63, "learning_rate": 0.05, "verbose": -1, "seed": 0,
                    "num_threads": 2}, lgb.Dataset(ft, label=y[:N_TRAIN]), num_boost_round=500)
    lg.save_model(os.path.join(d, "cl.txt"))
    parts = sum(t["num_cat"] for t in lg.dump_model()["tree_info"])
    print(f"trained CL LightGBM in {time.time() - t:.1f}s ({parts} categorical splits)")
    # The forest: numeric columns, no NaN, the make_classification label.
    xr = pd.DataFrame(X, columns=NUM)
    t = time.time()
    rf = RandomForestClassifier(n_estimators=100, max_depth=12, min_samples_leaf=5, n_jobs=2, random_state=0)
    rf.fit(xr.iloc[:N_TRAIN], y0[:N_TRAIN])
    skops.io.dump(rf, os.path.join(d, "rf.skops"))
    leaves = sum(e.tree_.n_leaves for e in rf.estimators_)
    print(f"trained RF scikit-learn in {time.time() - t:.1f}s ({leaves} leaves)")
    fe.to_csv(os.path.join(d, "xc.csv"), index=False, na_rep="", float_format="%.17g")
    xr.iloc[N_TRAIN:].to_csv(os.path.join(d, "xr.csv"), index=False, float_format="%.17g")
    # Written last: its presence says the rest is complete.
    with open(os.path.join(d, "cats.json"), "w") as f:
        json.dump(cats, f)


def load_categorical(d, rows):
    """The first `rows` rows of xc.csv as the frame the models were trained on: the same
    category lists in the same order, so codes mean the same words."""
    import pandas as pd
    with open(os.path.join(d, "cats.json")) as f:
        cats = json.load(f)
    x = pd.read_csv(os.path.join(d, "xc.csv"), nrows=rows, dtype={c: str for c in CAT}, keep_default_na=False,
                    na_values={c: [""] for c in NUM + CAT})
    for c in CAT:
        x[c] = pd.Categorical(x[c], categories=cats[c])
    return x


def timed(out, key, label, rows, fn):
    t = time.perf_counter()
    result = fn()
    secs = time.perf_counter() - t
    out[key] = {"rows": rows, "secs": secs, "rows_per_s": rows / secs}
    print(f"{label:<34} rows={rows} {rows / secs:9.0f} rows/s", flush=True)
    return result


def peers(d):
    import lightgbm as lgb
    import pandas as pd
    import shap
    import skops.io
    import xgboost as xgb
    out = {}
    xs = load_categorical(d, PEER_ROWS["xgboost"])
    bst = xgb.Booster(model_file=os.path.join(d, "cw.json"))
    for threads in (1, 2):
        bst.set_param({"nthread": threads})
        dm = xgb.DMatrix(xs, enable_categorical=True)
        contribs = timed(out, f"CW/{threads}", f"xgboost pred_contribs threads={threads}", len(xs),
                         lambda: bst.predict(dm, pred_contribs=True))
    np.save(os.path.join(d, "cw_contribs.npy"), contribs)
    ls = load_categorical(d, PEER_ROWS["lightgbm"])
    lg = lgb.Booster(model_file=os.path.join(d, "cl.txt"))
    for threads in (1, 2):
        contribs = timed(out, f"CL/{threads}", f"lightgbm pred_contrib threads={threads}", len(ls),
                         lambda: lg.predict(ls, pred_contrib=True, num_threads=threads))
    np.save(os.path.join(d, "cl_contribs.npy"), contribs)
    # skops refuses types it does not know unless trusted: this file is the one gen wrote.
    path = os.path.join(d, "rf.skops")
    rf = skops.io.load(path, trusted=skops.io.get_untrusted_types(file=path))
    xr = pd.read_csv(os.path.join(d, "xr.csv"), nrows=PEER_ROWS["shap"])
    # Building the explainer (converting the trees) is left out of the timing, in shap's favour.
    ex = shap.TreeExplainer(rf)
    sv = timed(out, "RF/1", "shap TreeExplainer threads=1", len(xr),
               lambda: ex.shap_values(xr, check_additivity=False))
    # shap ≥ 0.45 returns rows × features × classes; older versions a list per class.
    sv = sv[1] if isinstance(sv, list) else sv[..., 1]
    base = np.full((len(sv), 1), np.asarray(ex.expected_value).reshape(-1)[1])
    np.save(os.path.join(d, "rf_contribs.npy"), np.hstack([sv, base]))
    with open(os.path.join(d, "peers_formats.json"), "w") as f:
        json.dump(out, f, indent=1)


PEERS = {"CW": "xgboost pred_contribs", "CL": "lightgbm pred_contrib", "RF": "shap TreeExplainer"}


def report(d):
    with open(os.path.join(d, "peers_formats.json")) as f:
        peers = json.load(f)
    with open(os.path.join(d, "rust_formats.json")) as f:
        rust = json.load(f)
    print()
    print("workload  threads  shaplab rows/s  peer rows/s  peer                            shaplab/peer")
    for wl in ("CW", "CL", "RF"):
        for threads in (1, 2):
            s = rust[f"{wl}/shaplab/{threads}"]["rows_per_s"]
            # shap's TreeExplainer has no threads setting and runs on one: the 2-thread row
            # is against that same 1-thread rate, marked so.
            key = f"{wl}/{threads}" if f"{wl}/{threads}" in peers else f"{wl}/1"
            peer = PEERS[wl] + ("" if key.endswith(f"/{threads}") else " (1 thread)*")
            p = peers[key]["rows_per_s"]
            print(f"{wl:<9} {threads:>7}  {s:>14.0f}  {p:>11.0f}  {peer:<30}  {s / p:>11.2f}x")
    ratio = rust["RF/shaplab/1"]["rows_per_s"] / peers["RF/1"]["rows_per_s"]
    print("* shap's TreeExplainer is single-threaded; RF at equal threads (1 vs 1): "
          f"{ratio:.1f}x (goal >= 20x: {'met' if ratio >= 20 else 'NOT met'})")
    # Identical values: shaplab vs the peer on the rows both explained, SHAP values and base.
    for wl, npy in (("CW", "cw_contribs.npy"), ("CL", "cl_contribs.npy"), ("RF", "rf_contribs.npy")):
        ref = np.load(os.path.join(d, npy))
        ours = np.loadtxt(os.path.join(d, f"{wl}_shaplab.csv"), delimiter=",", skiprows=1, max_rows=len(ref))
        diff = np.abs(ours - ref).max()
        scale = np.abs(ref).max()
        print(f"{wl}: max |shaplab - {PEERS[wl]}| = {diff:.3g} over {len(ref)} rows "
              f"(reference scale {scale:.3g}, relative {diff / scale:.2g})")


if __name__ == "__main__":
    cmd, d = sys.argv[1], sys.argv[2]
    {"gen": gen, "peers": peers, "report": report}[cmd](d)
