"""Model objects and files to what the server reads, without the libraries as dependencies:
a model is recognised by the module its class comes from.

- XGBoost (``Booster`` or any ``XGBModel``): the booster's JSON (``save_raw("json")``).
- LightGBM (``Booster`` or any ``LGBMModel``): its text format (``model_to_string``).
- CatBoost (any ``CatBoost`` model): its JSON (``save_model(format="json")``).
- scikit-learn estimators: skops (``skops.io.dumps``); never pickle, which the server refuses
  because loading a pickle runs code.
- A path (``str`` / ``os.PathLike``): the file as it is, named by its file name.
"""

import os
import tempfile
from typing import List, Optional, Tuple


def _module(model) -> str:
    return type(model).__module__.split(".")[0]


def model_bytes(model) -> Tuple[str, bytes]:
    """``(file name, bytes)`` of a model object or a model file."""
    if isinstance(model, (str, os.PathLike)):
        with open(model, "rb") as f:
            return os.path.basename(os.fspath(model)), f.read()
    if isinstance(model, tuple) and len(model) == 2 and isinstance(model[1], (bytes, bytearray)):
        return str(model[0]), bytes(model[1])
    kind = _module(model)
    if kind == "xgboost":
        booster = model.get_booster() if hasattr(model, "get_booster") else model
        return "model.json", bytes(booster.save_raw(raw_format="json"))
    if kind == "lightgbm":
        booster = model.booster_ if hasattr(model, "booster_") else model
        return "model.txt", booster.model_to_string().encode("utf-8")
    if kind == "catboost":
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "model.json")
            model.save_model(path, format="json")
            with open(path, "rb") as f:
                return "model.json", f.read()
    if kind == "sklearn":
        try:
            import skops.io as sio
        except ImportError as e:
            raise ImportError(
                "scikit-learn models are sent in the skops format: pip install skops"
            ) from e
        return "model.skops", sio.dumps(model)
    raise TypeError(
        f"cannot send a {type(model).__module__}.{type(model).__name__}: pass an XGBoost, "
        "LightGBM, CatBoost or scikit-learn model, or the path of a saved model file"
    )


def feature_names(model) -> Optional[List[str]]:
    """The column names the model was trained with, when the object knows them."""
    for attr in ("feature_names_in_", "feature_names", "feature_name_"):
        names = getattr(model, attr, None)
        if names is not None and not callable(names) and len(names) > 0:
            return [str(n) for n in names]
    kind = _module(model)
    if kind == "xgboost":
        booster = model.get_booster() if hasattr(model, "get_booster") else model
        if booster.feature_names:
            return list(booster.feature_names)
    if kind == "lightgbm":
        booster = model.booster_ if hasattr(model, "booster_") else model
        return list(booster.feature_name())
    if kind == "catboost":
        return list(model.feature_names_)
    return None
