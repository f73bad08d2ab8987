"""Input/output shape handling shared by the analytics functions.

The analytics accept scalars, NumPy arrays or pandas Series and answer in the same shape: a Series (with
the index of the first Series argument) if any argument is a Series, a float if every argument is a
scalar, else an ndarray. The math itself always runs on float64 ndarrays.
"""

from __future__ import annotations

from typing import TypeAlias

import numpy as np
import pandas as pd

ArrayLike: TypeAlias = float | int | np.ndarray | pd.Series | list[float]
Result: TypeAlias = float | np.ndarray | pd.Series


def as_float(x: ArrayLike) -> np.ndarray:
    """``x`` as a float64 ndarray (None and pd.NA become NaN). Never mutates ``x``."""
    if isinstance(x, pd.Series):
        return pd.to_numeric(x, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    try:
        return np.array(x, dtype="float64")  # a copy: callers may write into it
    except TypeError:  # pd.NA and friends
        flat = pd.to_numeric(pd.Series(np.ravel(np.asarray(x, dtype=object))), errors="coerce")
        return flat.to_numpy(dtype="float64", na_value=np.nan).reshape(np.shape(x))


def positive(x: np.ndarray) -> np.ndarray:
    """Mask of finite, strictly positive values (valid prices)."""
    with np.errstate(invalid="ignore"):
        return np.isfinite(x) & (x > 0)


def wrap(values: np.ndarray, *inputs: ArrayLike, name: str | None = None) -> Result:
    """``values`` in the shape the caller passed (see module docstring)."""
    for x in inputs:
        if isinstance(x, pd.Series):
            return pd.Series(np.broadcast_to(values, len(x)).astype("float64"), index=x.index, name=name)
    if all(np.ndim(x) == 0 for x in inputs) and np.ndim(values) == 0:
        return float(values)
    return np.asarray(values, dtype="float64")
