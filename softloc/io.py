"""Atomic output writing and schema-checked parquet I/O shared by every stage.

Every stage writes to a temporary name beside the target and renames it, so a killed stage
never leaves a half-written file that DVC or the next stage could mistake for a result.
"""

from __future__ import annotations

import contextlib
import glob
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator, Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

log = logging.getLogger(__name__)


def _default_file_mode() -> int:
    """0666 under the process umask (0644 with the usual 022), as open() would create a file."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


_FILE_MODE = _default_file_mode()


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `target`; rename it onto `target` only on success.

    A temporary file of the same target left by a killed earlier writer is removed first (no
    stage reads temporary names; this keeps a kill from leaving debris behind for good).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    for leftover in target.parent.glob(f".{glob.escape(target.name)}.*.tmp"):
        log.info("removing %s, left by a killed writer of %s", leftover, target)
        leftover.unlink(missing_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, _FILE_MODE)  # mkstemp makes 0600; outputs are for the group to read
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


@contextlib.contextmanager
def atomic_dir(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary folder beside `target`; it replaces `target` (a folder) only once the
    block completes, so a killed writer never leaves a half-written folder under the real name."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        yield tmp
        tmp.chmod(_FILE_MODE | 0o111)   # mkdtemp makes 0700; outputs are for the group to read
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def write_json(obj: Any, path: str | os.PathLike) -> None:
    """Write `obj` as indented, key-sorted JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")
    log.info("wrote %s", path)


def write_text(text: str, path: str | os.PathLike) -> None:
    """Write a text file atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    log.info("wrote %s", path)


def write_csv(df: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write a table as CSV (no index, 6 significant digits), atomically."""
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False, float_format="%.6g")
    log.info("wrote %s (%d rows)", path, len(df))


def save_npy(array: np.ndarray, path: str | os.PathLike) -> None:
    """Save one array as .npy atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, array)
    log.info("wrote %s %s %s", path, array.shape, array.dtype)


def write_parquet(df: pd.DataFrame, path: str | os.PathLike, schema: Mapping[str, str]) -> None:
    """Validate `df` against `schema` and write it as parquet, atomically and byte-reproducibly.

    `schema` maps column name to a pyarrow type string ("int64", "float64", "string", "bool",
    "list<int64>", "list<float32>"). Columns are written in schema order; extra columns are an
    error, so every parquet file holds exactly its documented columns.
    """
    validate_columns(df, schema, str(path))
    table = pa.Table.from_pandas(df[list(schema)], schema=arrow_schema(schema), preserve_index=False)
    table = table.replace_schema_metadata(None)
    with atomic_path(path) as tmp:
        # Dictionary-encoding the long list columns (neighbour lists) costs time and saves nothing.
        flat = [name for name, kind in schema.items() if not kind.startswith("list<")]
        pq.write_table(table, tmp, compression="zstd", write_statistics=False, use_dictionary=flat)
    log.info("wrote %s (%d rows)", path, len(df))


def read_parquet(path: str | os.PathLike, schema: Mapping[str, str]) -> pd.DataFrame:
    """Read a parquet file and check it holds exactly the documented columns and types."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file (run the stage that writes it first)")
    table = pq.read_table(path)
    expected = arrow_schema(schema)
    missing = [c for c in schema if c not in table.column_names]
    if missing:
        raise ValueError(f"{path}: missing columns {missing}; expected {list(schema)}")
    for field in expected:
        actual = table.schema.field(field.name).type
        if actual != field.type:
            raise ValueError(f"{path}: column {field.name!r} has type {actual}, expected {field.type}")
    log.info("read %s (%d rows)", path, table.num_rows)
    return table.select(list(schema)).to_pandas()


def validate_columns(df: pd.DataFrame, schema: Mapping[str, str], where: str) -> None:
    """Raise if `df` lacks a schema column or has one the schema does not document."""
    missing = [c for c in schema if c not in df.columns]
    extra = [c for c in df.columns if c not in schema]
    if missing or extra:
        raise ValueError(f"{where}: columns differ from the schema: missing {missing}, undocumented {extra}")


def arrow_schema(schema: Mapping[str, str]) -> pa.Schema:
    """Turn a {column: type string} mapping into a pyarrow schema."""
    return pa.schema([(name, _arrow_type(kind)) for name, kind in schema.items()])


def _arrow_type(kind: str) -> pa.DataType:
    if kind.startswith("list<") and kind.endswith(">"):
        return pa.list_(_arrow_type(kind[5:-1]))
    return pa.type_for_alias(kind)
