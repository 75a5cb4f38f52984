"""shaplab's Python client: send a model and a table to a shaplab server, get exact SHAP values
back as a ``shap.Explanation``.

Map of the package:

- ``client``: :class:`Client` (uploads, submit, polling with a progress bar, results) and
  :class:`Job` (one submitted job: its page URL, state and explanation).
- ``backoff``: the waiting rules the web page uses (poll hints, backoff, Retry-After, jitter).
- ``models``: model objects and files to the bytes the server reads (skops for scikit-learn).
- ``frames``: pandas / polars / numpy tables to Parquet, and the column names they carry.
- ``errors``: :class:`ShaplabError`, the server's error envelope as an exception.
"""

from .client import Client, Job
from .errors import ShaplabError

__all__ = ["Client", "Job", "ShaplabError"]
__version__ = "0.1.0"
