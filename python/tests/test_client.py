"""The client against a real server: each library's model object, each table type, compared
with the library's own SHAP values (xgboost's and LightGBM's pred_contribs, shap's
TreeExplainer for scikit-learn); errors as exceptions; the job list; a Redis stall survived."""

import threading

import numpy as np
import pandas as pd
import polars as pl
import pytest
import shap

import shaplab

RNG = np.random.default_rng(7)


def table(rows=300, features=5):
    X = pd.DataFrame(RNG.normal(size=(rows, features)), columns=[f"x{j}" for j in range(features)])
    X.iloc[::17, 1] = np.nan  # missing values take the trees' default branches
    y = X["x0"] * 2 + np.sin(X["x2"] * 3) + X["x3"].fillna(0) * X["x4"] + RNG.normal(0, 0.1, rows)
    return X, y


@pytest.fixture
def client(server):
    return shaplab.Client(server.url, api_key=server.api_key)


def assert_explains(e, contribs, X):
    """values + base = the library's contributions, bias column last."""
    assert isinstance(e, shap.Explanation)
    assert e.values.shape == (len(X), X.shape[1])
    np.testing.assert_allclose(e.values, contribs[:, :-1], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(e.base_values, contribs[:, -1], rtol=1e-4, atol=1e-4)
    assert list(e.feature_names) == list(X.columns)


def test_xgboost_regressor_matches_pred_contribs(client):
    import xgboost as xgb

    X, y = table()
    model = xgb.XGBRegressor(n_estimators=40, max_depth=4).fit(X, y)
    e = client.explain(model, X, progress=False)
    contribs = model.get_booster().predict(xgb.DMatrix(X), pred_contribs=True)
    assert_explains(e, contribs, X)
    np.testing.assert_allclose(e.data, X.to_numpy())
    shap.plots.beeswarm(e, show=False)  # shap's own plots take it as it is


def test_xgboost_classifier_log_odds_with_a_polars_frame(client):
    import xgboost as xgb

    X, y = table()
    model = xgb.XGBClassifier(n_estimators=30, max_depth=3).fit(X, (y > 0).astype(int))
    e = client.explain(model, pl.from_pandas(X), progress=False)
    contribs = model.get_booster().predict(xgb.DMatrix(X), pred_contribs=True)
    assert_explains(e, contribs, X)


def test_lightgbm_from_numpy_takes_the_models_feature_names(client):
    import lightgbm as lgb

    X, y = table()
    model = lgb.LGBMRegressor(n_estimators=30, num_leaves=15, verbose=-1).fit(X, y)
    e = client.explain(model, X.to_numpy(), progress=False)
    contribs = model.predict(X, pred_contrib=True)
    assert_explains(e, contribs, X)


def test_a_model_file_by_path(client, tmp_path):
    import xgboost as xgb

    X, y = table(rows=120)
    model = xgb.XGBRegressor(n_estimators=10, max_depth=3).fit(X, y)
    path = tmp_path / "model.ubj"
    model.save_model(path)
    e = client.explain(str(path), X, progress=False)
    contribs = model.get_booster().predict(xgb.DMatrix(X), pred_contribs=True)
    assert_explains(e, contribs, X)


def test_scikit_learn_forest_via_skops_matches_shap(client):
    from sklearn.ensemble import RandomForestRegressor

    X, y = table(rows=150)
    X = X.fillna(0.0)
    model = RandomForestRegressor(n_estimators=15, max_depth=6, random_state=0).fit(X, y)
    e = client.explain(model, X, progress=False)
    reference = shap.TreeExplainer(model)(X)
    np.testing.assert_allclose(e.values, reference.values, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(e.base_values, reference.base_values, rtol=1e-6, atol=1e-6)


def test_multiclass_values_have_an_axis_per_class(client):
    import lightgbm as lgb

    X, y = table()
    classes = np.digitize(y, np.quantile(y, [0.33, 0.66]))
    model = lgb.LGBMClassifier(n_estimators=15, num_leaves=7, verbose=-1).fit(X, classes)
    e = client.explain(model, X, progress=False)
    assert e.values.shape == (len(X), X.shape[1], 3)
    assert e.base_values.shape == (len(X), 3)
    contribs = model.predict(X, pred_contrib=True).reshape(len(X), 3, X.shape[1] + 1)
    np.testing.assert_allclose(e.values, contribs[:, :, :-1].transpose(0, 2, 1), rtol=1e-4, atol=1e-4)


def test_server_errors_are_exceptions_with_the_servers_code_and_message(client, server):
    import xgboost as xgb

    X, y = table(rows=50)
    model = xgb.XGBRegressor(n_estimators=3, max_depth=2).fit(X, y)
    with pytest.raises(shaplab.ShaplabError) as refused:
        client.explain(model, X.drop(columns=["x3"]), progress=False)
    assert refused.value.code == "incompatible", refused.value
    assert "x3" in refused.value.message
    assert refused.value.status == 422
    with pytest.raises(shaplab.ShaplabError) as bad_key:
        shaplab.Client(server.url, api_key="shk_not-a-key").jobs()
    assert (bad_key.value.code, bad_key.value.status) == ("invalid_api_key", 401)
    with pytest.raises(TypeError, match="cannot send"):
        client.explain(object(), X, progress=False)


def test_jobs_are_listed_and_have_a_page(client):
    import xgboost as xgb

    X, y = table(rows=80)
    model = xgb.XGBRegressor(n_estimators=3, max_depth=2).fit(X, y)
    job_model = client.upload("model", "listed.json", bytes(model.get_booster().save_raw("json")))
    from shaplab.frames import to_parquet

    parquet, _, _ = to_parquet(X)
    job_data = client.upload("data", "listed.parquet", parquet)
    job = client.submit(job_model["id"], job_data["id"])
    job.wait(progress=True)
    assert job.url == f"{client.url}/jobs/{job.id}"
    listed = {j["id"]: j for j in client.jobs(per_page=100)}
    assert listed[job.id]["model_name"] == "listed.json"
    assert listed[job.id]["state"] == "succeeded"
    assert listed[job.id]["rows"] == 80


def test_a_redis_stall_mid_job_is_waited_out(client, server):
    import xgboost as xgb

    X, y = table(rows=2000)
    model = xgb.XGBRegressor(n_estimators=60, max_depth=5).fit(X, y)
    stall = threading.Timer(0.5, server.pause_redis, args=(6.0,))
    stall.start()
    e = client.explain(model, X, progress=False)
    stall.join()
    assert client.retried >= 1, "the stall was met and waited out, not missed"
    contribs = model.get_booster().predict(xgb.DMatrix(X), pred_contribs=True)
    assert_explains(e, contribs, X)


def test_catboost_matches_its_own_shap_values(client):
    import catboost

    X, y = table(rows=200)
    X = X.fillna(0.0)
    model = catboost.CatBoostRegressor(
        iterations=30, depth=4, verbose=False, random_seed=0, allow_writing_files=False
    )
    model.fit(X, y)
    e = client.explain(model, X, progress=False)
    contribs = model.get_feature_importance(catboost.Pool(X), type="ShapValues")
    assert_explains(e, contribs, X)
