#!/usr/bin/env python3
"""Workload W1 for `make bench` (driven by scripts/bench.sh).

    bench_w1.py gen DIR            write the models and rows (cached: skipped when present)
    bench_w1.py peers DIR          time xgboost pred_contribs / LightGBM pred_contrib, 1 and 2 threads
    bench_w1.py report DIR         print the table with ratios from DIR/*.json

W1: XGBoost binary:logistic, 500 trees, max_depth 6, 50 features, 10,000 rows explained.
LW: LightGBM binary, 500 trees, 63 leaves (leaf-wise, no depth limit), same rows.
The library peers are slow (hundreds of rows/s), so they are timed on the first PEER_ROWS rows;
rows/s is what is compared.
"""
import json
import os
import sys
import time

import numpy as np

N_TRAIN, N_EXPLAIN, N_FEATURES = 20000, 10000, 50
PEER_ROWS = {"xgboost": 2000, "lightgbm": 1000}


def gen(d):
    os.makedirs(d, exist_ok=True)
    if all(os.path.exists(os.path.join(d, f)) for f in ("w1.json", "lgb.txt", "x.csv")):
        print(f"bench models present in {d}")
        return
    import lightgbm as lgb
    import pandas as pd
    import xgboost as xgb
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=N_TRAIN + N_EXPLAIN, n_features=N_FEATURES, n_informative=20,
                               n_redundant=10, random_state=0)
    rng = np.random.default_rng(0)
    X[rng.random(X.shape) < 0.03] = np.nan
    cols = [f"f{i}" for i in range(N_FEATURES)]
    Xt, yt = pd.DataFrame(X[:N_TRAIN], columns=cols), y[:N_TRAIN]
    Xe = pd.DataFrame(X[N_TRAIN:], columns=cols)
    t = time.time()
    bst = xgb.train({"objective": "binary:logistic", "max_depth": 6, "eta": 0.05, "seed": 0, "nthread": 2},
                    xgb.DMatrix(Xt, label=yt), num_boost_round=500)
    bst.save_model(os.path.join(d, "w1.json"))
    print(f"trained W1 xgboost in {time.time() - t:.1f}s")
    t = time.time()
    lgbm = lgb.train({"objective": "binary", "num_leaves": 63, "learning_rate": 0.05, "verbose": -1, "seed": 0,
                      "num_threads": 2}, lgb.Dataset(Xt, label=yt), num_boost_round=500)
    lgbm.save_model(os.path.join(d, "lgb.txt"))
    print(f"trained LightGBM in {time.time() - t:.1f}s")
    Xe.to_csv(os.path.join(d, "x.csv"), index=False, na_rep="", float_format="%.17g")


def load_rows(d):
    import pandas as pd
    return pd.read_csv(os.path.join(d, "x.csv"))


def peers(d):
    import lightgbm as lgb
    import xgboost as xgb
    X = load_rows(d)
    out = {}
    bst = xgb.Booster(model_file=os.path.join(d, "w1.json"))
    xs = X.iloc[:PEER_ROWS["xgboost"]]
    for threads in (1, 2):
        bst.set_param({"nthread": threads})
        dm = xgb.DMatrix(xs)
        t = time.perf_counter()
        contribs = bst.predict(dm, pred_contribs=True)
        secs = time.perf_counter() - t
        out[f"xgboost/{threads}"] = {"rows": len(xs), "secs": secs, "rows_per_s": len(xs) / secs}
        print(f"xgboost pred_contribs     threads={threads} rows={len(xs)} {len(xs) / secs:9.0f} rows/s", flush=True)
    np.save(os.path.join(d, "xgb_contribs.npy"), contribs)
    lg = lgb.Booster(model_file=os.path.join(d, "lgb.txt"))
    ls = X.iloc[:PEER_ROWS["lightgbm"]]
    for threads in (1, 2):
        t = time.perf_counter()
        contribs = lg.predict(ls, pred_contrib=True, num_threads=threads)
        secs = time.perf_counter() - t
        out[f"lightgbm/{threads}"] = {"rows": len(ls), "secs": secs, "rows_per_s": len(ls) / secs}
        print(f"lightgbm pred_contrib     threads={threads} rows={len(ls)} {len(ls) / secs:9.0f} rows/s", flush=True)
    np.save(os.path.join(d, "lgb_contribs.npy"), contribs)
    # Interactions and interventional (probability, 100 background rows), 1 thread: slow peers,
    # so a few rows.
    bst.set_param({"nthread": 1})
    xi = X.iloc[:20]
    t = time.perf_counter()
    bst.predict(xgb.DMatrix(xi), pred_interactions=True)
    secs = time.perf_counter() - t
    out["xgboost-interactions/1"] = {"rows": len(xi), "secs": secs, "rows_per_s": len(xi) / secs}
    print(f"xgboost pred_interactions threads=1 rows={len(xi)} {len(xi) / secs:9.1f} rows/s", flush=True)
    try:
        import shap
        bg = X.sample(100, random_state=0)
        ex = shap.TreeExplainer(bst, bg, feature_perturbation="interventional", model_output="probability")
        xs = X.iloc[:50]
        t = time.perf_counter()
        ex.shap_values(xs, check_additivity=False)
        secs = time.perf_counter() - t
        out["shap-interventional/1"] = {"rows": len(xs), "secs": secs, "rows_per_s": len(xs) / secs}
        print(f"shap interventional prob. threads=1 rows={len(xs)} {len(xs) / secs:9.1f} rows/s", flush=True)
    except ImportError:
        print("shap not installed: interventional peer skipped")
    with open(os.path.join(d, "peers.json"), "w") as f:
        json.dump(out, f, indent=1)


def report(d):
    with open(os.path.join(d, "peers.json")) as f:
        peers = json.load(f)
    with open(os.path.join(d, "rust.json")) as f:
        rust = json.load(f)
    print()
    print("workload  threads  shaplab rows/s  treeshap-linear  library     shaplab/treeshap  shaplab/library")
    for wl, lib in (("W1", "xgboost"), ("LW", "lightgbm")):
        for threads in (1, 2):
            s = rust[f"{wl}/shaplab/{threads}"]["rows_per_s"]
            t = rust[f"{wl}/treeshap/{threads}"]["rows_per_s"]
            l = peers[f"{lib}/{threads}"]["rows_per_s"]
            print(f"{wl:<9} {threads:>7}  {s:>14.0f}  {t:>15.0f}  {l:>8.0f} ({lib[:3]})  {s / t:>15.2f}x  {s / l:>14.2f}x")
    for key, peer, label in (("W1/interactions/1", "xgboost-interactions/1", "interactions vs xgboost"),
                             ("W1/interventional/1", "shap-interventional/1", "interventional (prob., 100 bg) vs shap")):
        if key in rust and peer in peers:
            s, p = rust[key]["rows_per_s"], peers[peer]["rows_per_s"]
            print(f"W1 {label}, 1 thread: shaplab {s:.1f} rows/s, peer {p:.1f} rows/s, {s / p:.1f}x")
    # Identical values: shaplab vs the libraries on the rows both explained.
    for wl, lib, npy in (("W1", "xgboost", "xgb_contribs.npy"), ("LW", "lightgbm", "lgb_contribs.npy")):
        ref = np.load(os.path.join(d, npy))
        ours = np.loadtxt(os.path.join(d, f"{wl}_shaplab.csv"), delimiter=",", skiprows=1, max_rows=len(ref))
        diff = np.abs(ours - ref).max()
        scale = np.abs(ref).max()
        print(f"{wl}: max |shaplab - {lib}| = {diff:.3g} (reference scale {scale:.3g}, relative {diff / scale:.2g})")
    for wl in ("W1", "LW"):
        print(f"{wl}: max |shaplab - treeshap| = {rust[f'{wl}/max_diff_vs_treeshap']:.3g}")


if __name__ == "__main__":
    cmd, d = sys.argv[1], sys.argv[2]
    {"gen": gen, "peers": peers, "report": report}[cmd](d)
