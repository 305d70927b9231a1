"""Readers and writers of the RobotCar Seasons / CMU Seasons files (the long-term visual
localization benchmark's own formats).

    NVM model      `NVM_V3` header, a camera count, then one line per camera:
                   `<name> <focal> <qw> <qx> <qy> <qz> <cx> <cy> <cz> <radial> 0`; the quaternion is
                   the world-to-camera rotation (w first), (cx, cy, cz) the camera CENTRE in the
                   world frame (so the translation is t = -R c); then a point count and points
                   (not read). RobotCar's names end in `.png` while its files are `.jpg`.
    intrinsics     RobotCar: `intrinsics/<camera>_intrinsics.txt`, lines `fx <v>`, `fy <v>`,
                   `cx <v>`, `cy <v>`.
    query list     one image per line, its path first (`condition/camera/timestamp.jpg` for
                   RobotCar, `query/img_..._c1_<ts>us_rect.jpg PINHOLE 1024 768 fx fy cx cy` for
                   CMU); further tokens are ignored.
    pose list      `name qw qx qy qz cx cy cz` per line (CMU's ground-truth lists; the embedded
                   set's query truth), or RobotCar Seasons v2's `robotcar_v2_train.txt`:
                   `name` + the 16 numbers of a row-major 4x4 camera-to-world matrix.

Poses are kept as NVM keeps them (world-to-camera quaternion, camera centre); every reader
returns a table with columns name, qw, qx, qy, qz, cx, cy, cz and checks unit quaternions.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from softloc.io import atomic_path

POSE_COLUMNS = ["qw", "qx", "qy", "qz", "cx", "cy", "cz"]
INTRINSICS_KEYS = ("fx", "fy", "cx", "cy")
UNIT_TOLERANCE = 1e-3


def read_nvm(path: str | os.PathLike) -> pd.DataFrame:
    """The cameras of the first model of an NVM file: name (as written, `./` stripped), focal and pose."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no NVM model")
    lines = iter(enumerate(path.read_text().splitlines(), start=1))
    header = _next_content(lines, path)
    if not header[1].startswith("NVM_V3"):
        raise ValueError(f"{path}:{header[0]}: expected the NVM_V3 header, got {header[1][:40]!r}")
    lineno, text = _next_content(lines, path)
    try:
        n = int(text.split()[0])
    except ValueError:
        raise ValueError(f"{path}:{lineno}: expected the camera count, got {text[:40]!r}") from None
    rows = []
    for _ in range(n):
        lineno, text = _next_content(lines, path)
        tokens = text.split()
        if len(tokens) < 10:
            raise ValueError(f"{path}:{lineno}: expected `name focal qw qx qy qz cx cy cz radial 0`, "
                             f"got {len(tokens)} tokens")
        try:
            numbers = [float(v) for v in tokens[1:9]]
        except ValueError:
            raise ValueError(f"{path}:{lineno}: camera line holds a non-number: {text[:80]!r}") from None
        rows.append([tokens[0].removeprefix("./"), *numbers])
    table = pd.DataFrame(rows, columns=["name", "focal", *POSE_COLUMNS])
    _check_quaternions(table, path)
    return table


def write_nvm(path: str | os.PathLike, cameras: pd.DataFrame) -> None:
    """Write an NVM_V3 model of `cameras` (columns name, focal, qw..qz, cx..cz), no 3D points."""
    lines = ["NVM_V3", "", str(len(cameras))]
    for row in cameras.itertuples(index=False):
        numbers = [row.focal, row.qw, row.qx, row.qy, row.qz, row.cx, row.cy, row.cz, 0.0]
        lines.append(" ".join([row.name, *(repr(float(v)) for v in numbers), "0"]))
    lines += ["", "0", "", "0", ""]
    _write_lines(path, lines)


def read_intrinsics(path: str | os.PathLike) -> dict[str, float]:
    """A RobotCar Seasons intrinsics file: {fx, fy, cx, cy} in pixels."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no intrinsics file")
    values = {}
    for lineno, text in enumerate(path.read_text().splitlines(), start=1):
        tokens = text.split()
        if not tokens:
            continue
        if len(tokens) != 2 or tokens[0] not in INTRINSICS_KEYS:
            raise ValueError(f"{path}:{lineno}: expected `<fx|fy|cx|cy> <value>`, got {text!r}")
        values[tokens[0]] = float(tokens[1])
    missing = [k for k in INTRINSICS_KEYS if k not in values]
    if missing:
        raise ValueError(f"{path}: missing {missing}")
    return values


def write_intrinsics(path: str | os.PathLike, fx: float, fy: float, cx: float, cy: float) -> None:
    """Write a RobotCar Seasons intrinsics file."""
    _write_lines(path, [f"{k} {v!r}" for k, v in zip(INTRINSICS_KEYS, (float(fx), float(fy), float(cx), float(cy)))])


def read_query_list(path: str | os.PathLike) -> list[str]:
    """The image names of a query list (first token of each non-empty line)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no query list")
    return [line.split()[0] for line in path.read_text().splitlines() if line.strip()]


def read_pose_list(path: str | os.PathLike) -> pd.DataFrame:
    """A pose list: `name qw qx qy qz cx cy cz` lines, or v2's `name` + row-major 4x4 camera-to-world."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no pose list")
    rows = []
    for lineno, text in enumerate(path.read_text().splitlines(), start=1):
        tokens = text.split()
        if not tokens:
            continue
        try:
            numbers = np.array([float(v) for v in tokens[1:]])
        except ValueError:
            raise ValueError(f"{path}:{lineno}: pose line holds a non-number: {text[:80]!r}") from None
        if len(numbers) == 7:
            rows.append([tokens[0], *numbers])
        elif len(numbers) == 16:
            rows.append([tokens[0], *camera_to_world_pose(numbers.reshape(4, 4), f"{path}:{lineno}")])
        else:
            raise ValueError(f"{path}:{lineno}: expected `name qw qx qy qz cx cy cz` or `name` + 16 numbers "
                             f"(4x4 camera-to-world), got {len(numbers)} numbers")
    table = pd.DataFrame(rows, columns=["name", *POSE_COLUMNS])
    _check_quaternions(table, path)
    return table


def write_pose_list(path: str | os.PathLike, poses: pd.DataFrame) -> None:
    """Write `name qw qx qy qz cx cy cz` lines (columns name and POSE_COLUMNS of `poses`)."""
    _write_lines(path, [" ".join([row[0], *(repr(float(v)) for v in row[1:])])
                        for row in poses[["name", *POSE_COLUMNS]].itertuples(index=False)])


def camera_to_world_pose(matrix: np.ndarray, where: str = "pose") -> list[float]:
    """[qw qx qy qz cx cy cz] (world-to-camera quaternion, camera centre) of a 4x4 camera-to-world matrix."""
    rotation_c2w = matrix[:3, :3]
    if not np.allclose(rotation_c2w @ rotation_c2w.T, np.eye(3), atol=1e-3) or np.linalg.det(rotation_c2w) < 0:
        raise ValueError(f"{where}: the 4x4 matrix's upper-left 3x3 is not a rotation")
    from scipy.spatial.transform import Rotation  # scipy.spatial costs 0.4 s: only where poses are read

    q = Rotation.from_matrix(rotation_c2w.T).as_quat(scalar_first=True)
    return [*(q if q[0] >= 0 else -q), *matrix[:3, 3]]


def rotation_matrices(quaternions: np.ndarray) -> np.ndarray:
    """(N, 3, 3) world-to-camera rotation matrices of (N, 4) unit quaternions, w first."""
    from scipy.spatial.transform import Rotation

    return Rotation.from_quat(np.asarray(quaternions, dtype=np.float64), scalar_first=True).as_matrix()


def translations(quaternions: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """(N, 3) translations t = -R c of poses given as NVM gives them (quaternion, camera centre)."""
    return -np.einsum("nij,nj->ni", rotation_matrices(quaternions), np.asarray(centres, dtype=np.float64))


def ground_plane_axes(quaternions: np.ndarray) -> np.ndarray:
    """(2, 3) orthonormal axes of the ground plane of an SfM frame, from upright cameras' rotations.

    Cameras on a car are upright: each camera's y axis (image down, in NVM's computer-vision
    camera frame) points to the ground, so their mean in the world frame is the down direction.
    The first axis is the world x axis projected on the plane orthogonal to it (another world
    axis when x is nearly vertical), the second is up x first: a right-handed frame seen from
    above. Centres @ axes.T are positions in metres on the ground (easting/northing stand-ins);
    in a frame with z up (the embedded set's) they are simply (x, y).
    """
    down = rotation_matrices(quaternions)[:, 1, :].mean(axis=0)   # row 1 of R: camera y in the world
    if np.linalg.norm(down) < 0.5:
        raise ValueError("ground_plane_axes: the cameras' y axes disagree (not upright cameras of a car?)")
    up = -down / np.linalg.norm(down)
    first = np.eye(3)[0] if abs(up[0]) < 0.9 else np.eye(3)[1]
    first = first - up * (first @ up)
    first /= np.linalg.norm(first)
    return np.stack([first, np.cross(up, first)])


def _check_quaternions(table: pd.DataFrame, path: Path) -> None:
    norms = np.linalg.norm(table[["qw", "qx", "qy", "qz"]].to_numpy(dtype=np.float64), axis=1)
    bad = np.flatnonzero(np.abs(norms - 1.0) > UNIT_TOLERANCE)
    if bad.size:
        raise ValueError(f"{path}: camera {table['name'].iloc[bad[0]]!r} has a quaternion of norm "
                         f"{norms[bad[0]]:.4f}, expected a unit quaternion")


def _next_content(lines, path: Path) -> tuple[int, str]:
    for lineno, text in lines:
        if text.strip():
            return lineno, text.strip()
    raise ValueError(f"{path}: ended early (truncated NVM model?)")


def _write_lines(path: str | os.PathLike, lines: list[str]) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines) + ("\n" if lines and lines[-1] != "" else ""))
