"""Tables to Parquet: pandas and polars DataFrames keep their column names; a numpy array takes
the model's feature names (or ``f0, f1, ...``). Category columns go as their words, which the
server maps to the model's codes the way the library did when it trained."""

import io
from typing import List, Optional, Tuple

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


def to_parquet(X, names: Optional[List[str]] = None) -> Tuple[bytes, List[str], np.ndarray]:
    """``(Parquet bytes, column names, the data as an array for the Explanation)``."""
    module = type(X).__module__.split(".")[0]
    if module == "pandas":
        frame = X.copy()
        for column in frame.columns:
            if str(frame[column].dtype) == "category":
                # Words, not dictionary codes: the model's own category list decides the codes.
                frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
        frame.columns = [str(c) for c in frame.columns]
        table = pa.Table.from_pandas(frame, preserve_index=False)
        data = X.to_numpy()
    elif module == "polars":
        table = X.to_arrow()
        data = X.to_numpy()
    else:
        data = np.asarray(X)
        if data.ndim != 2:
            raise ValueError(f"X must be a table (2-D); it has shape {data.shape}")
        names = names or [f"f{j}" for j in range(data.shape[1])]
        if len(names) != data.shape[1]:
            raise ValueError(
                f"X has {data.shape[1]} columns but the model has {len(names)} features"
            )
        table = pa.table({n: data[:, j].astype(np.float64) for j, n in enumerate(names)})
    # Dictionary columns (polars categoricals) go as plain strings for the same reason.
    columns = [
        c.cast(pa.string()) if pa.types.is_dictionary(c.type) else c for c in table.columns
    ]
    table = pa.table(columns, names=[str(n) for n in table.column_names])
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue(), list(table.column_names), data
