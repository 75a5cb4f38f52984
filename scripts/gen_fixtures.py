#!/usr/bin/env python3
"""Generate the golden fixtures the engine's tests compare against.

Run from the repo root (all families, or only the ones named):
    /work/venv/bin/python scripts/gen_fixtures.py [numeric] [categorical] [catboost] [sklearn] [onnx] [groups]
(a venv with xgboost, lightgbm, catboost, shap, scikit-learn, skops, skl2onnx, onnxmltools, onnx,
onnxruntime, pyarrow, pandas, numpy; `numeric` alone needs only xgboost, lightgbm, shap,
scikit-learn, numpy, pandas). `--root DIR` writes somewhere else than fixtures/ (e.g. to check
that a family reproduces byte for byte).

Each family writes only its own case directories (it deletes only those) and its own manifest:
- numeric (this file): numeric XGBoost/LightGBM -> fixtures/manifest.json;
- categorical, catboost, sklearn, onnx, groups (scripts/fixtures/<module>.py) ->
  fixtures/manifest-<family>.json.
The outputs are committed, so `make test` needs no Python. Everything is seeded.

References of the numeric family:
- path-dependent SHAP: the libraries' own pred_contribs / pred_contrib (that is what shap
  returns for them; shap's own C++ has known bugs with multiclass base scores and LightGBM
  missing types);
- interaction values: xgboost pred_interactions;
- interventional SHAP: shap.TreeExplainer(model, background, feature_perturbation="interventional").
The other families document their references in their module docstrings.
"""
import argparse
import json
import os
import shutil
import sys

import lightgbm as lgb
import numpy as np
import pandas as pd
import shap
import xgboost as xgb
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine, make_regression

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures")
EXPLAIN_ROWS = 60
rng = np.random.default_rng(20261126)


def with_nans(X, frac=0.1, cols=None):
    X = X.copy()
    cols = range(X.shape[1]) if cols is None else cols
    for c in cols:
        mask = rng.random(X.shape[0]) < frac
        X.iloc[mask, c] = np.nan
    return X


def save_matrix(path, arr):
    arr = np.asarray(arr, dtype=np.float64)
    arr = arr.reshape(arr.shape[0], -1)
    np.savetxt(path, arr, delimiter=",", fmt="%.17g")


def save_data(path, X):
    X.to_csv(path, index=False, na_rep="", float_format="%.17g")


def datasets():
    d = load_diabetes(as_frame=True)
    reg = (d.data.rename(columns=lambda c: c.replace(" ", "_")), d.target.values)
    b = load_breast_cancer(as_frame=True)
    bx = b.data.rename(columns=lambda c: c.replace(" ", "_"))
    binary = (bx, b.target.values)
    w = load_wine(as_frame=True)
    multi = (w.data.rename(columns=lambda c: c.replace(" ", "_").replace("/", "_")), w.target.values)
    Xs, ys = make_regression(n_samples=400, n_features=8, noise=5.0, random_state=3)
    Xs = pd.DataFrame(Xs, columns=[f"s{i}" for i in range(8)])
    counts = rng.poisson(np.exp(0.3 * Xs["s0"].values + 0.2 * Xs["s1"].values))
    return reg, binary, multi, (Xs, ys, counts)


manifest = []


def case_dir(name):
    d = os.path.join(ROOT, name)
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)
    return d


def xgb_case(name, X, y, params, rounds, names=True, interactions=False, interventional=None):
    d = case_dir(name)
    dtrain = xgb.DMatrix(X if names else X.values, label=y, missing=np.nan)
    bst = xgb.train(params, dtrain, num_boost_round=rounds)
    bst.save_model(os.path.join(d, "model.json"))
    bst.save_model(os.path.join(d, "model.ubj"))
    Xe = X.iloc[:EXPLAIN_ROWS]
    save_data(os.path.join(d, "data.csv"), Xe)
    de = xgb.DMatrix(Xe if names else Xe.values, missing=np.nan)
    save_matrix(os.path.join(d, "contribs.csv"), bst.predict(de, pred_contribs=True))
    save_matrix(os.path.join(d, "margin.csv"), bst.predict(de, output_margin=True))
    save_matrix(os.path.join(d, "prediction.csv"), bst.predict(de))
    entry = {"name": name, "library": "xgboost", "models": ["model.json", "model.ubj"],
             "objective": params["objective"], "max_depth": params.get("max_depth"),
             "has_names": names, "rows": len(Xe), "features": X.shape[1]}
    if interactions:
        save_matrix(os.path.join(d, "interactions.csv"), bst.predict(de, pred_interactions=True))
        entry["interactions"] = "interactions.csv"
    if interventional:
        add_interventional(d, entry, bst, X, Xe, interventional)
    manifest.append(entry)


def lgb_case(name, X, y, params, rounds, interventional=None, stump_first=False, interactions=False,
             nan_probe=False):
    d = case_dir(name)
    params = dict(params, verbose=-1, seed=7, deterministic=True, num_threads=1)
    init = None
    if stump_first:
        # One round that cannot split (a stump: num_leaves=1, empty split arrays), then normal
        # boosting on top of it.
        init = lgb.train(dict(params, min_gain_to_split=1e12), lgb.Dataset(X, label=y), num_boost_round=1)
    bst = lgb.train(params, lgb.Dataset(X, label=y), num_boost_round=rounds, init_model=init)
    bst.save_model(os.path.join(d, "model.txt"))
    Xe = X.iloc[:EXPLAIN_ROWS]
    save_data(os.path.join(d, "data.csv"), Xe)
    save_matrix(os.path.join(d, "contribs.csv"), bst.predict(Xe, pred_contrib=True))
    save_matrix(os.path.join(d, "margin.csv"), bst.predict(Xe, raw_score=True))
    save_matrix(os.path.join(d, "prediction.csv"), bst.predict(Xe))
    entry = {"name": name, "library": "lightgbm", "models": ["model.txt"],
             "objective": params["objective"], "max_depth": params.get("max_depth"),
             "has_names": True, "rows": len(Xe), "features": X.shape[1]}
    if nan_probe:
        # NaNs in features that had none in training: LightGBM treats them as 0 (missing type
        # None), not as missing — a trap for any engine that sends NaN to the default side.
        Xn = with_nans(Xe, 0.3)
        save_data(os.path.join(d, "data_nan.csv"), Xn)
        save_matrix(os.path.join(d, "contribs_nan.csv"), bst.predict(Xn, pred_contrib=True))
        entry["extra"] = [["data_nan.csv", "contribs_nan.csv"]]
    if interactions:
        # LightGBM has no pred_interactions; shap's own C++ computes them. It ignores LightGBM's
        # missing types, so this is only a valid reference on data without missing values.
        assert not Xe.isna().any().any(), "shap interaction reference needs NaN-free data"
        ex = shap.TreeExplainer(bst)
        iv = np.asarray(ex.shap_interaction_values(Xe))
        f = X.shape[1]
        full = np.zeros((len(Xe), f + 1, f + 1))
        full[:, :f, :f] = iv
        full[:, f, f] = np.atleast_1d(ex.expected_value)[0]
        save_matrix(os.path.join(d, "interactions.csv"), full)
        entry["interactions"] = "interactions.csv"
    if interventional:
        add_interventional(d, entry, bst, X, Xe, interventional)
    manifest.append(entry)


def add_interventional(d, entry, model, X, Xe, outputs):
    """shap's interventional values against the last 40 rows as background."""
    bg = X.iloc[-40:]
    save_data(os.path.join(d, "background.csv"), bg)
    entry["background"] = "background.csv"
    for out in outputs:
        ex = shap.TreeExplainer(model, bg, feature_perturbation="interventional", model_output=out)
        vals = np.asarray(ex.shap_values(Xe, check_additivity=False))
        base = np.atleast_1d(np.asarray(ex.expected_value, dtype=np.float64))
        vals = vals.reshape(len(Xe), -1, X.shape[1]) if vals.ndim == 3 else vals.reshape(len(Xe), 1, X.shape[1])
        full = np.concatenate([vals, np.broadcast_to(base[None, :, None], (len(Xe), len(base), 1))], axis=2)
        save_matrix(os.path.join(d, f"interventional_{out}.csv"), full)
        entry.setdefault("interventional", []).append(out)


def main():
    """The numeric family. Deletes only its own case directories (those of the previous
    manifest.json and the ones it rewrites), never the other families' files."""
    os.makedirs(ROOT, exist_ok=True)
    old = os.path.join(ROOT, "manifest.json")
    if os.path.exists(old):
        with open(old) as f:
            for case in json.load(f)["cases"]:
                if os.path.isdir(os.path.join(ROOT, case["name"])):
                    shutil.rmtree(os.path.join(ROOT, case["name"]))
    (rx, ry), (bx, by), (mx, my), (sx, sy, sc) = datasets()
    rxn = with_nans(rx)
    bxn = with_nans(bx, 0.1, cols=range(0, 30, 3))
    mxn = with_nans(mx, 0.08)
    sxn = with_nans(sx, 0.1)

    xgb_case("xgb_reg_d3", rxn, ry, {"objective": "reg:squarederror", "max_depth": 3, "eta": 0.3, "seed": 1},
             20, interactions=True, interventional=["raw"])
    xgb_case("xgb_binary_d6", bxn, by, {"objective": "binary:logistic", "max_depth": 6, "eta": 0.3, "seed": 1},
             30, interactions=True, interventional=["raw", "probability"])
    xgb_case("xgb_multi_d4", mxn, my, {"objective": "multi:softprob", "num_class": 3, "max_depth": 4, "eta": 0.3,
                                        "seed": 1}, 12, interactions=True)
    xgb_case("xgb_softmax_d8_nonames", mxn, my, {"objective": "multi:softmax", "num_class": 3, "max_depth": 8,
                                                  "eta": 0.5, "seed": 2}, 6, names=False)
    xgb_case("xgb_dart_d5", bxn, by, {"booster": "dart", "objective": "binary:logistic", "max_depth": 5, "eta": 0.3,
                                       "rate_drop": 0.3, "skip_drop": 0.0, "seed": 3}, 15)
    xgb_case("xgb_logitraw_d5", bxn, by, {"objective": "binary:logitraw", "max_depth": 5, "eta": 0.3, "seed": 4}, 15)
    xgb_case("xgb_poisson_d8", sxn, sc, {"objective": "count:poisson", "max_depth": 8, "eta": 0.2, "seed": 5}, 20)
    xgb_case("xgb_gamma_d4", sxn, sc + 1.0, {"objective": "reg:gamma", "max_depth": 4, "eta": 0.2, "seed": 6}, 15)

    lgb_case("lgb_reg_d3", rxn, ry, {"objective": "regression", "max_depth": 3, "num_leaves": 8,
                                      "learning_rate": 0.2, "min_data_in_leaf": 5}, 25)
    lgb_case("lgb_binary_d8", bxn, by, {"objective": "binary", "max_depth": 8, "num_leaves": 31,
                                         "learning_rate": 0.2, "min_data_in_leaf": 5}, 30)
    lgb_case("lgb_binary_clean_d6", bx, by, {"objective": "binary", "max_depth": 6, "num_leaves": 20,
                                              "learning_rate": 0.2, "min_data_in_leaf": 5}, 20,
             interventional=["raw", "probability"], interactions=True)
    lgb_case("lgb_multi_d5", mxn, my, {"objective": "multiclass", "num_class": 3, "max_depth": 5,
                                        "num_leaves": 12, "learning_rate": 0.2, "min_data_in_leaf": 5}, 12)
    lgb_case("lgb_zero_missing_leafwise", sxn.fillna(0.0), sy, {"objective": "regression", "num_leaves": 24,
                                                                 "zero_as_missing": True, "learning_rate": 0.2,
                                                                 "min_data_in_leaf": 3}, 20)
    lgb_case("lgb_stump_first_d2", sxn, sy, {"objective": "regression", "num_leaves": 4, "max_depth": 2,
                                              "learning_rate": 0.5, "min_data_in_leaf": 15}, 10, stump_first=True)
    lgb_case("lgb_poisson_d4", sxn, sc, {"objective": "poisson", "max_depth": 4, "num_leaves": 15,
                                          "learning_rate": 0.2, "min_data_in_leaf": 5}, 15)

    # Random forests: LightGBM rf mode writes `average_output` (raw score = mean of the trees);
    # XGBoost boosts 4 parallel trees per round (tree_info repeats per round).
    lgb_case("lgb_rf_d4", rxn, ry, {"objective": "regression", "boosting": "rf", "max_depth": 4, "num_leaves": 12,
                                     "bagging_fraction": 0.7, "bagging_freq": 1, "feature_fraction": 0.8,
                                     "min_data_in_leaf": 5}, 8)
    xgb_case("xgb_forest_d4", bxn, by, {"objective": "binary:logistic", "max_depth": 4, "num_parallel_tree": 4,
                                         "subsample": 0.8, "colsample_bynode": 0.8, "eta": 0.5, "seed": 8}, 3)

    # Standardised features trained without NaNs: thresholds of both signs, so a NaN read as 0
    # and a NaN sent to the default side part ways.
    lgb_case("lgb_reg_nan_probe_d5", sx, sy, {"objective": "regression", "max_depth": 5, "num_leaves": 20,
                                               "learning_rate": 0.2, "min_data_in_leaf": 5}, 15, nan_probe=True)
    # More objectives: per-class sigmoid, a scaled sigmoid, logistic regression, tweedie.
    lgb_case("lgb_multiova_d3", mxn, my, {"objective": "multiclassova", "num_class": 3, "max_depth": 3,
                                           "num_leaves": 8, "learning_rate": 0.3, "min_data_in_leaf": 5}, 6)
    lgb_case("lgb_binary_sigmoid2_d4", bxn, by, {"objective": "binary", "sigmoid": 2.0, "max_depth": 4,
                                                  "num_leaves": 12, "learning_rate": 0.2, "min_data_in_leaf": 5}, 10)
    xgb_case("xgb_reglogistic_d7", bxn, by.astype(float), {"objective": "reg:logistic", "max_depth": 7, "eta": 0.3,
                                                            "seed": 9}, 8)
    xgb_case("xgb_tweedie_d3", sxn, sc, {"objective": "reg:tweedie", "max_depth": 3, "eta": 0.3, "seed": 10}, 10)

    with open(os.path.join(ROOT, "manifest.json"), "w") as f:
        json.dump({"generator": "scripts/gen_fixtures.py",
                   "versions": {"xgboost": xgb.__version__, "lightgbm": lgb.__version__, "shap": shap.__version__},
                   "cases": manifest}, f, indent=1)


FAMILIES = ["numeric", "categorical", "catboost", "sklearn", "onnx", "groups"]


def cli(argv=None):
    global ROOT
    ap = argparse.ArgumentParser(description="Generate golden fixtures (see the module docstring).")
    ap.add_argument("families", nargs="*", metavar="family", help="one of " + ", ".join(FAMILIES) + " (default: all)")
    ap.add_argument("--root", default=ROOT, help="output directory (default: fixtures/)")
    args = ap.parse_args(argv)
    unknown = [f for f in args.families if f not in FAMILIES]
    if unknown:
        ap.error("unknown family: " + ", ".join(unknown))
    ROOT = os.path.abspath(args.root)
    os.makedirs(ROOT, exist_ok=True)
    for family in args.families or FAMILIES:
        print(f"== {family}", flush=True)
        if family == "numeric":
            main()
            continue
        import importlib
        module = {"categorical": "categorical", "catboost": "catboost_cases", "sklearn": "sklearn_cases",
                  "onnx": "onnx_cases", "groups": "groups_cases"}[family]
        importlib.import_module(f"fixtures.{module}").build(ROOT)


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    cli()
