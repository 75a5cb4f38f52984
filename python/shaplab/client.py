"""The HTTP client: uploads, submission, following a job, and the results as shap objects.

Every request that meets an outage (no answer, 502/503/504, 429) is retried with the page's
backoff (:mod:`shaplab.backoff`) until ``patience`` seconds of consecutive failure; the submit
carries an ``Idempotency-Key`` so a retried submit never makes a second job.
"""

import csv
import io
import random
import time
import uuid
import webbrowser
from typing import Any, Dict, List, Optional

import numpy as np
import requests

from .backoff import Poller
from .errors import ShaplabError
from .frames import to_parquet
from .models import feature_names, model_bytes

RETRIED_STATUSES = {429, 502, 503, 504}
TERMINAL = {"succeeded", "failed", "cancelled"}


def _retry_after(response) -> Optional[float]:
    try:
        return float(response.headers.get("retry-after"))
    except (TypeError, ValueError):
        return None


class Client:
    """A shaplab server. ``api_key``: a key from the server's API keys page (or
    ``shaplab key create``), needed when the server has sign-in on."""

    def __init__(self, url: str, api_key: Optional[str] = None, patience: float = 600.0,
                 timeout: float = 60.0):
        self.url = url.rstrip("/")
        self.patience = patience
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["Accept"] = "application/json"
        if api_key:
            self.session.headers["Authorization"] = f"Bearer {api_key}"
        self._random = random.Random()
        #: Requests that met an outage and were retried (for logs and tests).
        self.retried = 0

    # -- requests ------------------------------------------------------------------------

    def _request(self, method: str, path: str, **kwargs) -> requests.Response:
        """Sends until an answer that is not an outage, or until ``patience`` runs out."""
        poller = Poller()
        started = time.monotonic()
        while True:
            files = kwargs.get("files")
            if files:
                # A retried upload must send the file from its start again.
                for value in files.values():
                    if hasattr(value[1], "seek"):
                        value[1].seek(0)
            try:
                response = self.session.request(method, self.url + path, timeout=self.timeout, **kwargs)
            except requests.ConnectionError as e:
                failure, retry_after = ShaplabError(
                    "server_unreachable", f"cannot reach {self.url}: {e}", retryable=True
                ), None
            else:
                if response.status_code not in RETRIED_STATUSES:
                    if response.status_code >= 400:
                        raise ShaplabError.from_response(response)
                    return response
                failure, retry_after = ShaplabError.from_response(response), _retry_after(response)
            poller.failed(retry_after)
            self.retried += 1
            wait = poller.delay_s(self._random.random())
            if time.monotonic() - started + wait > self.patience:
                raise failure
            time.sleep(wait)

    def _json(self, method: str, path: str, **kwargs) -> Any:
        return self._request(method, path, **kwargs).json()

    # -- the API -------------------------------------------------------------------------

    def upload(self, kind: str, name: str, data: bytes) -> Dict[str, Any]:
        """Stores a model (``kind="model"``) or data file; the server's record of it."""
        files = {"file": (name, io.BytesIO(data))}
        return self._json("POST", "/api/uploads", data={"kind": kind}, files=files)

    def submit(self, model_id: str, data_id: str, **options) -> "Job":
        body = {"model": model_id, "data": data_id}
        body.update({k: v for k, v in options.items() if v is not None})
        headers = {"Idempotency-Key": uuid.uuid4().hex}
        job = self._json("POST", "/api/jobs", json=body, headers=headers)
        return Job(self, job["id"])

    def job(self, job_id: str) -> "Job":
        return Job(self, job_id)

    def jobs(self, q: str = "", page: int = 1, per_page: int = 20) -> List[Dict[str, Any]]:
        """Your jobs, newest first (``GET /api/jobs``): id, label, model and data names, state,
        rows, created, duration."""
        params = {"q": q, "page": page, "per_page": per_page}
        return self._json("GET", "/api/jobs", params=params)["jobs"]

    def explain(self, model, X, output: str = "raw", background_rows: Optional[int] = None,
                covers: Optional[str] = None, progress: bool = True):
        """Explains every row of ``X`` with ``model`` and returns a ``shap.Explanation``.

        ``model``: an XGBoost, LightGBM, CatBoost or scikit-learn model, or a model file's
        path. ``X``: a pandas or polars DataFrame or a numpy array (sent as Parquet).
        ``output``: ``"raw"`` (margin / log-odds, shap's default) or ``"probability"``
        (interventional, against ``background_rows`` sampled rows). ``progress``: a tqdm bar.
        """
        names = None if isinstance(model, (str, bytes)) else feature_names(model)
        model_name, model_data = model_bytes(model)
        parquet, columns, data = to_parquet(X, names)
        model_id = self.upload("model", model_name, model_data)["id"]
        data_id = self.upload("data", "data.parquet", parquet)["id"]
        job = self.submit(model_id, data_id, output=output, background_rows=background_rows,
                          covers=covers)
        job.wait(progress=progress)
        return job.explanation(data=data)


class Job:
    """A submitted job."""

    def __init__(self, client: Client, job_id: str):
        self.client = client
        self.id = job_id

    @property
    def url(self) -> str:
        """The job's page in the web app."""
        return f"{self.client.url}/jobs/{self.id}"

    def open(self) -> None:
        webbrowser.open(self.url)

    def status(self) -> Dict[str, Any]:
        return self.client._json("GET", f"/api/jobs/{self.id}")

    def wait(self, progress: bool = True) -> Dict[str, Any]:
        """Follows the job until it ends (the page's polling rules); raises on failure."""
        bar = None
        if progress:
            from tqdm.auto import tqdm
            bar = tqdm(total=None, unit="rows", desc=f"job {self.id}")
        poller, last = Poller(), None
        try:
            while True:
                response = self.client._request("GET", f"/api/jobs/{self.id}")
                job = response.json()
                hint = response.headers.get("x-poll-interval")
                hint_s = float(hint) if hint else None
                done, total = job["progress"]["rows_done"], job["progress"]["rows_total"]
                if bar is not None:
                    bar.total = total
                    bar.n = done
                    bar.refresh()
                if job["state"] in TERMINAL:
                    break
                seen = (job["state"], done)
                poller.progressed(hint_s) if seen != last else poller.same(hint_s)
                last = seen
                time.sleep(poller.delay_s(self.client._random.random()))
        finally:
            if bar is not None:
                bar.close()
        if job["state"] != "succeeded":
            error = job.get("error") or {}
            raise ShaplabError(error.get("code", job["state"]),
                               error.get("message", f"the job was {job['state']}"))
        return job

    def explanation(self, data: Optional[np.ndarray] = None):
        """The SHAP values as a ``shap.Explanation``: values ``(rows, features)`` (with a
        third axis per output for multi-output models), base values, feature names, and
        ``data`` when given."""
        import shap

        text = self.client._request("GET", f"/api/jobs/{self.id}/shap.csv").text
        reader = csv.reader(io.StringIO(text))
        header = next(reader)
        values = np.array([[float(c) for c in row] for row in reader if row], dtype=np.float64)
        outputs = sum(1 for h in header if h.startswith("base_value"))
        width = len(header) // outputs
        names = [h[: -len("[0]")] if outputs > 1 else h for h in header[: width - 1]]
        values = values.reshape(len(values), outputs, width)
        shap_values, base = values[:, :, :-1], values[:, :, -1]
        if outputs == 1:
            shap_values, base = shap_values[:, 0, :], base[:, 0]
        else:
            shap_values = np.transpose(shap_values, (0, 2, 1))
        return shap.Explanation(values=shap_values, base_values=base, data=data,
                                feature_names=names)
