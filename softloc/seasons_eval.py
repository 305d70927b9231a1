"""The long-term visual localization benchmark's side of retrieval: submission files and, where
query poses are known, the benchmark's own measure computed locally.

A retrieval-only method answers each query with the pose of its top-1 reference image. The
benchmark takes one line per query, `name qw qx qy qz tx ty tz`: the world-to-camera rotation as
a unit quaternion (w first) and the TRANSLATION t = -R c (not the camera centre c that NVM
stores), in the dataset's SfM frame; RobotCar names are `camera/timestamp.jpg`, CMU names the
file's basename (softloc.datasets.seasons.submission_name). Retrieval must stay within one
camera (softloc.evaluate.retrieve does): a rear reference's pose on a left query is about 90
degrees off, so a top-1 of another camera is an error here.

The measure (Sattler et al. CVPR 2018): the percent of queries whose estimated pose lies within
(0.25 m, 2 deg), (0.5 m, 5 deg) and (5 m, 10 deg) of the true one, both errors at most the
threshold: position error = distance of the camera centres, rotation error = the angle of
R_est R_true^T. RobotCar reports day (every other condition) and night (night, night-rain); CMU
reports urban, suburban and park (the query conditions of softloc.datasets.seasons' CMU tables).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from softloc.config import Testset
from softloc.datasets.formats.seasons_files import translations
from softloc.datasets.seasons import day_night, submission_name
from softloc.io import atomic_path

THRESHOLDS: tuple[tuple[float, float], ...] = ((0.25, 2.0), (0.5, 5.0), (5.0, 10.0))
QUATERNION = ["qw", "qx", "qy", "qz"]
CENTRE = ["cx", "cy", "cz"]
SUBMISSION_PREFIX = {"robotcar": "RobotCar", "cmu": "CMU"}


def threshold_key(metres: float, degrees: float) -> str:
    """The results key of a threshold pair, e.g. (0.25, 2) -> "0.25m_2deg"."""
    return f"{metres:g}m_{degrees:g}deg"


def seasons_testsets(testsets: Mapping[str, Testset]) -> dict[str, Testset]:
    """The params `testsets` entries of format `seasons` (their models carry `dataset`, `truth`)."""
    return {name: cfg for name, cfg in testsets.items() if cfg.format == "seasons"}


def submission_filename(dataset: str, method: str) -> str:
    """The benchmark's file name for a method's results: `RobotCar_eval_<method>.txt` / `CMU_eval_<method>.txt`."""
    return f"{SUBMISSION_PREFIX[dataset]}_eval_{method}.txt"


def submission_path(root: Path, method: str, seed: int, testset: str, dataset: str) -> Path:
    """Where the submission stage writes a method's file:
    <root>/<m>/seed<s>/<t>/<Prefix>_eval_softloc-<m>-seed<s>.txt."""
    return root / method / f"seed{seed}" / testset / submission_filename(dataset, f"softloc-{method}-seed{seed}")


def submission_lines(queries: pd.DataFrame, reference: pd.DataFrame, top1: np.ndarray, dataset: str) -> list[str]:
    """`name qw qx qy qz tx ty tz` per query: the pose of its top-1 reference, t = -R c.

    `queries`/`reference` are TESTSET_IMAGES tables, `top1[i]` the reference row of query row i.
    A top-1 reference of another camera, or one without a pose, is an error.
    """
    top1 = np.asarray(top1, dtype=np.int64)
    if len(top1) != len(queries):
        raise ValueError(f"{len(top1)} retrievals for {len(queries)} queries")
    picked = reference.iloc[top1]
    wrong = np.flatnonzero(picked["camera"].to_numpy() != queries["camera"].to_numpy())
    if wrong.size:
        i = wrong[0]
        raise ValueError(f"query {queries['path'].iloc[i]!r} (camera {queries['camera'].iloc[i]!r}) retrieved "
                         f"{picked['path'].iloc[i]!r} of camera {picked['camera'].iloc[i]!r}: retrieval must stay "
                         "within one camera")
    q = picked[QUATERNION].to_numpy(dtype=np.float64)
    if not np.isfinite(q).all():
        raise ValueError(f"reference {picked['path'].iloc[np.flatnonzero(~np.isfinite(q).all(1))[0]]!r} has no pose")
    q = q / np.linalg.norm(q, axis=1, keepdims=True)
    t = translations(q, picked[CENTRE].to_numpy(dtype=np.float64))
    names = [submission_name(p, dataset) for p in queries["path"]]
    if len(set(names)) != len(names):
        raise ValueError("two queries share a submission name (the benchmark needs one line per query)")
    return [" ".join([name, *(repr(float(v)) for v in (*qi, *ti))]) for name, qi, ti in zip(names, q, t)]


def write_submission(lines: list[str], path: str | os.PathLike) -> None:
    """Write a submission file atomically (one line per query, newline-terminated)."""
    with atomic_path(path) as tmp:
        tmp.write_text("".join(line + "\n" for line in lines))


def pose_errors(estimated: pd.DataFrame, truth: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Position error (m, between camera centres) and rotation error (deg) of row-aligned poses."""
    c_est, c_true = estimated[CENTRE].to_numpy(np.float64), truth[CENTRE].to_numpy(np.float64)
    q_est, q_true = estimated[QUATERNION].to_numpy(np.float64), truth[QUATERNION].to_numpy(np.float64)
    q_est = q_est / np.linalg.norm(q_est, axis=1, keepdims=True)
    q_true = q_true / np.linalg.norm(q_true, axis=1, keepdims=True)
    # The angle of R_est R_true^T is twice the angle between the unit quaternions (sign-free).
    cos_half = np.clip(np.abs(np.einsum("ij,ij->i", q_est, q_true)), 0.0, 1.0)
    return np.linalg.norm(c_est - c_true, axis=1), np.degrees(2.0 * np.arccos(cos_half))


def within(position_m: np.ndarray, rotation_deg: np.ndarray) -> dict[str, np.ndarray]:
    """Per threshold key, whether each pose is within both its position and rotation threshold."""
    return {threshold_key(m, d): (position_m <= m) & (rotation_deg <= d) for m, d in THRESHOLDS}


def pose_metrics(queries: pd.DataFrame, reference: pd.DataFrame, top1: np.ndarray, dataset: str) -> dict[str, Any]:
    """The benchmark's measure of top-1 pose transfer on the queries with a known pose.

    Percent (2 decimals) within each threshold pair per query condition and per reporting group
    (RobotCar: day / night; CMU: the conditions, which are the scenes), with query counts and
    median errors. Queries without truth are counted and left out; with none, only counts.
    """
    known = queries["qw"].notna().to_numpy()
    out: dict[str, Any] = {"dataset": dataset, "n_queries": int(len(queries)), "n_with_truth": int(known.sum()),
                           "thresholds": [list(t) for t in THRESHOLDS]}
    if not known.any():
        return out
    truth = queries[known]
    position, rotation = pose_errors(reference.iloc[np.asarray(top1)[known]], truth)
    hits = within(position, rotation)
    conditions = truth["condition"].to_numpy().astype(str)
    groups = np.array([day_night(c) for c in conditions]) if dataset == "robotcar" else conditions
    out["by_condition"] = _percent_by(hits, conditions)
    out["by_group"] = _percent_by(hits, groups)
    out["all"] = _percent_by(hits, np.full(len(conditions), "all"))["all"]
    out["median_position_error_m"] = round(float(np.median(position)), 3)
    out["median_rotation_error_deg"] = round(float(np.median(rotation)), 3)
    return out


def _percent_by(hits: dict[str, np.ndarray], labels: np.ndarray) -> dict[str, dict[str, float]]:
    table = {}
    for label in sorted(set(labels)):
        rows = labels == label
        table[str(label)] = {key: round(100.0 * float(np.mean(h[rows])), 2) for key, h in hits.items()}
        table[str(label)]["n"] = int(rows.sum())
    return table
