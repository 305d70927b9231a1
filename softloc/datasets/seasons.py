"""RobotCar Seasons and (Extended) CMU Seasons as test sets, read from the datasets' own files.

params `testsets.<name>` (format `seasons`):

    dataset: robotcar | cmu
    split:   the dataset root (the folder holding 3D-models/, intrinsics/ ... as downloaded)
    images:  the image root the table paths are relative to (RobotCar: <root>/images, CMU: <root>)
    truth:   optional: query poses for a local evaluation (a pose list file, or a folder of them):
             the embedded set's truth file, RobotCar Seasons v2's robotcar_v2_train.txt, or
             Extended CMU's slice<N>/camera-poses ({slice} is replaced per slice). Left out, query
             positions stay unknown (NaN) and only the benchmark submission is written.
    slices:  CMU only: the slice numbers to read (e.g. [2, 3, 4, 5, 6, 13, ..., 21])
    reference_poses: CMU only: the reference pose file per slice, relative to `split`
             (default slice{slice}/ground-truth-database-images-slice{slice}.txt; `.nvm`: a model)
    store_aspect: null (default) or [w, h], as for every colour test set (softloc.datasets.images)

RobotCar Seasons (root layout): references are the cameras of `3D-models/all-merged/all.nvm`
(names `overcast-reference/<camera>/<ts>.png`, files `.jpg`); queries are the union of the
per-location lists `3D-models/individual/queries_per_location/*.txt` (lines
`<condition>/<camera>/<ts>.jpg`; `source` = the list's name); every camera needs
`intrinsics/<camera>_intrinsics.txt`. camera = left | rear | right.

Extended CMU Seasons (root layout): `intrinsics.txt` (`c0 OPENCV 1024 768 fx fy cx cy ...`), per
slice `slice<N>/ground-truth-database-images-slice<N>.txt` (reference poses, `name qw qx qy qz
cx cy cz`; an `.nvm` path is read as an NVM model instead, see `reference_poses`) and
`slice<N>/test-images-slice<N>.txt` (queries); images under `slice<N>/database/` and
`slice<N>/query/`. camera = `slice<N>/c0` or `slice<N>/c1`: each slice is its own map, so the
retrieval group holds the slice. The query condition is the slice's scene (urban: slices 2-8,
suburban: 9-17, park: 18-25), the benchmark's reporting unit; references are `reference`.

Every image must resolve inside `images` and be listed once (an NVM or list name leading out of it,
or by a symlink, is an error naming the row); grey images are dropped and counted (`grayscale`,
softloc.datasets.seam.drop_grayscale).

Retrieval must stay within one `camera` value (a rear reference's pose on a left query is off by
about 90 degrees; another CMU slice is another map): softloc.evaluate.retrieve searches each
camera's references only. Positions: easting/northing are the camera centres on the SfM frame's
ground plane (softloc.datasets.formats.seasons_files.ground_plane_axes, axes from the references' rotations),
metres, utm_zone ""; the 6-DoF pose columns hold the NVM pose (world-to-camera quaternion,
camera centre). Query conditions keep the dataset's names (`night-rain`, `overcast-winter`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field, create_model

from softloc.config import Testset
from softloc.datasets.formats import seasons_files as files
from softloc.datasets.seam import TestSplit, testset_table
from softloc.datasets.images import ColourStoreLoader, colour_store_loader, read_colour, store_aspect_field
from softloc.datasets.paths import check_inside

ROBOTCAR_NVM = "3D-models/all-merged/all.nvm"
ROBOTCAR_QUERY_LISTS = "3D-models/individual/queries_per_location"
ROBOTCAR_CAMERAS = ("left", "rear", "right")
ROBOTCAR_NIGHT = ("night", "night-rain")
CMU_INTRINSICS = "intrinsics.txt"
CMU_REFERENCE_POSES = "slice{slice}/ground-truth-database-images-slice{slice}.txt"
CMU_QUERY_LIST = "slice{slice}/test-images-slice{slice}.txt"
CMU_REFERENCE_CONDITION = "reference"
CMU_NAME = re.compile(r"img_\d+_(c\d)_(\d+)us")

COLOUR = True   # colour JPEGs: grey ones are dropped and counted (softloc.datasets.seam.drop_grayscale)
# params testsets.<name> keys of this format beyond the base ones (checked by softloc.config)
CONFIG = create_model(
    "SeasonsConfig",
    dataset=(Literal["robotcar", "cmu"], ...),
    truth=(str, ""),
    slices=(list[Annotated[int, Field(ge=2, le=25)]], []),
    reference_poses=(str, Field(default=CMU_REFERENCE_POSES, min_length=1)),
    store_aspect=store_aspect_field(None),
)


def read_split(cfg: Testset) -> TestSplit:
    """References and queries of a Seasons dataset (see the module docstring for the keys)."""
    dataset = cfg.dataset
    reference, queries, counts = (_read_robotcar if dataset == "robotcar" else _read_cmu)(cfg)
    _check_images(reference, "reference", cfg)
    _check_images(queries, "queries", cfg)
    axes = ground_axes(reference)
    for table in (reference, queries):
        known = table["qw"].notna().to_numpy()
        xy = table[["cx", "cy", "cz"]].to_numpy()[known] @ axes.T
        table.loc[known, "easting"], table.loc[known, "northing"] = xy[:, 0], xy[:, 1]
    counts["dataset"] = dataset
    counts["by_camera"] = {name: {str(k): int(v) for k, v in t["camera"].value_counts().sort_index().items()}
                           for name, t in (("reference", reference), ("queries", queries))}
    counts["queries_with_truth"] = int(queries["qw"].notna().sum())
    return TestSplit(reference, queries, counts)


def load_image(path: Path) -> np.ndarray:
    """A Seasons JPEG as uint8 RGB (H, W, 3) (RobotCar 1024x1024, CMU 1024x768 in the downloads)."""
    return read_colour(path)


def store_loader(cfg: Testset, max_side: int) -> ColourStoreLoader:
    """The image store's loader: each JPEG decoded at a reduced DCT scale, at the store size
    (`store_aspect`, default null: longest side `max_side`, aspect kept; one size per dataset)."""
    return colour_store_loader(cfg.store_aspect, max_side)


def ground_axes(reference: pd.DataFrame) -> np.ndarray:
    """(2, 3) ground-plane axes of the references' SfM frame (rows: easting, northing stand-ins)."""
    return files.ground_plane_axes(reference[["qw", "qx", "qy", "qz"]].to_numpy(dtype=np.float64))


def submission_name(path: str, dataset: str) -> str:
    """The benchmark's name of an image: RobotCar `camera/ts.jpg` (condition dropped), CMU the basename."""
    parts = path.split("/")
    return "/".join(parts[-2:]) if dataset == "robotcar" else parts[-1]


def day_night(condition: str) -> str:
    """RobotCar Seasons' reporting group of a condition: `night` (night, night-rain) or `day`."""
    return "night" if condition in ROBOTCAR_NIGHT else "day"


def cmu_scene(slice_number: int) -> str:
    """The Extended CMU Seasons scene of a slice (urban 2-8, suburban 9-17, park 18-25)."""
    if 2 <= slice_number <= 8:
        return "urban"
    if 9 <= slice_number <= 17:
        return "suburban"
    if 18 <= slice_number <= 25:
        return "park"
    raise ValueError(f"CMU Seasons has slices 2-25, got slice {slice_number}")


# ----------------------------------------------------------------------------------------------
# RobotCar Seasons


def _read_robotcar(cfg: Testset) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    root = Path(cfg.split)
    nvm = files.read_nvm(root / ROBOTCAR_NVM)
    ref_paths = [_robotcar_path(n, root / ROBOTCAR_NVM) for n in nvm["name"]]
    reference = _robotcar_table(ref_paths, ["overcast-reference"] * len(nvm), nvm)
    list_dir = root / ROBOTCAR_QUERY_LISTS
    lists = sorted(list_dir.glob("*.txt"))
    if not lists:
        raise FileNotFoundError(f"{list_dir}: no query lists (*.txt; unzip queries_per_location.zip there)")
    names, sources, seen = [], [], set()
    duplicates = 0
    for path in lists:
        for name in files.read_query_list(path):
            name = _robotcar_path(name, path)
            if name in seen:
                duplicates += 1
                continue
            seen.add(name)
            names.append(name)
            sources.append(path.stem)
    queries = _robotcar_table(names, sources, None)
    _fill_truth(queries, cfg, {p: p for p in names}, root)
    intrinsics = {}
    for camera in sorted(set(reference["camera"]) | set(queries["camera"])):
        intrinsics[camera] = files.read_intrinsics(root / "intrinsics" / f"{camera}_intrinsics.txt")
    _check_cameras(reference, queries, root)
    counts = {"query_lists": len(lists), "duplicate_queries_dropped": duplicates, "intrinsics": intrinsics}
    return reference, queries, counts


def _robotcar_path(name: str, where: Path) -> str:
    """`condition/camera/ts.jpg` from an NVM or list name (`./` and a `.png` suffix tolerated)."""
    path = name.removeprefix("./")
    if path.endswith(".png"):
        path = path[:-4] + ".jpg"
    parts = path.split("/")
    if len(parts) < 3 or parts[-2] not in ROBOTCAR_CAMERAS or not parts[-1][:-4].isdigit():
        raise ValueError(f"{where}: image name {name!r} is not `<condition>/<left|rear|right>/<timestamp>.jpg`")
    return "/".join(parts[-3:])


def _robotcar_table(paths: list[str], sources: list[str], poses: pd.DataFrame | None) -> pd.DataFrame:
    parts = [p.split("/") for p in paths]
    columns: dict[str, Any] = {
        "path": np.array(paths, dtype=object), "source": np.array(sources, dtype=object),
        "condition": np.array([p[0] for p in parts], dtype=object),
        "camera": np.array([p[1] for p in parts], dtype=object),
        "timestamp": np.array([int(p[2][:-4]) for p in parts], dtype=np.int64),
    }
    if poses is not None:
        columns.update({c: poses[c].to_numpy(dtype=np.float64) for c in files.POSE_COLUMNS})
    return testset_table(columns, len(paths))


# ----------------------------------------------------------------------------------------------
# Extended CMU Seasons


def _read_cmu(cfg: Testset) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    root = Path(cfg.split)
    slices = list(cfg.slices)
    if not slices:
        raise ValueError("testsets (format seasons, dataset cmu): `slices` must list the slice numbers to read")
    intrinsics = _cmu_intrinsics(root / CMU_INTRINSICS)
    pose_pattern = cfg.reference_poses
    references, queries = [], []
    for number in slices:
        pose_path = root / pose_pattern.format(slice=number)
        poses = files.read_nvm(pose_path) if pose_path.suffix == ".nvm" else files.read_pose_list(pose_path)
        references.append(_cmu_table(poses["name"].tolist(), number, "database", CMU_REFERENCE_CONDITION,
                                     poses, pose_path))
        query_path = root / CMU_QUERY_LIST.format(slice=number)
        names = files.read_query_list(query_path)
        table = _cmu_table(names, number, "query", cmu_scene(number), None, query_path)
        by_name = {Path(p).name: p for p in table["path"]}
        _fill_truth(table, cfg, by_name, root, slice_number=number)
        queries.append(table)
    reference = _renumber(pd.concat(references, ignore_index=True))
    query_table = _renumber(pd.concat(queries, ignore_index=True))
    for camera in sorted(set(reference["camera"]) | set(query_table["camera"])):
        if camera.split("/")[1] not in intrinsics:
            raise ValueError(f"{root / CMU_INTRINSICS}: no intrinsics for camera {camera.split('/')[1]!r}")
    _check_cameras(reference, query_table, root)
    return reference, query_table, {"slices": slices, "intrinsics": intrinsics}


def _cmu_intrinsics(path: Path) -> dict[str, dict[str, float]]:
    """Extended CMU's intrinsics.txt: `<camera> <model> <w> <h> <fx> <fy> <cx> <cy> [distortion]`."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no intrinsics file")
    cameras = {}
    for lineno, text in enumerate(path.read_text().splitlines(), start=1):
        tokens = text.split()
        if not tokens or tokens[0].startswith("#"):
            continue
        if len(tokens) < 8:
            raise ValueError(f"{path}:{lineno}: expected `camera model width height fx fy cx cy ...`, got {text!r}")
        cameras[tokens[0]] = {"model": tokens[1], "width": int(tokens[2]), "height": int(tokens[3]),
                              **{k: float(v) for k, v in zip(("fx", "fy", "cx", "cy"), tokens[4:8])}}
    return cameras


def _cmu_table(names: list[str], number: int, folder: str, condition: str, poses: pd.DataFrame | None,
               where: Path) -> pd.DataFrame:
    paths, cameras, stamps = [], [], []
    for name in names:
        base = Path(name).name
        match = CMU_NAME.search(base)
        if match is None:
            raise ValueError(f"{where}: image name {name!r} is not `img_<n>_<c0|c1>_<timestamp>us...jpg`")
        paths.append(f"slice{number}/{folder}/{base}")
        cameras.append(f"slice{number}/{match.group(1)}")
        stamps.append(int(match.group(2)))
    columns: dict[str, Any] = {
        "path": np.array(paths, dtype=object), "source": f"slice{number}", "condition": condition,
        "camera": np.array(cameras, dtype=object), "timestamp": np.array(stamps, dtype=np.int64),
    }
    if poses is not None:
        columns.update({c: poses[c].to_numpy(dtype=np.float64) for c in files.POSE_COLUMNS})
    return testset_table(columns, len(names))


# ----------------------------------------------------------------------------------------------
# Shared


def _fill_truth(queries: pd.DataFrame, cfg: Testset, by_name: dict[str, str], root: Path,
                slice_number: int | None = None) -> None:
    """Set the pose columns of queries named in the `truth` pose list(s), when params give one."""
    if not cfg.truth:
        return
    path = Path(cfg.truth.format(slice=slice_number))
    if not path.is_absolute() and not path.exists():
        path = root / path
    lists = sorted(path.glob("*.txt")) if path.is_dir() else [path]
    row_of = {p: i for i, p in enumerate(queries["path"])}
    rows, values = [], []
    for pose_list in lists:
        for row in files.read_pose_list(pose_list).itertuples(index=False):
            key = row.name.removeprefix("./")
            key = key[:-4] + ".jpg" if key.endswith(".png") else key
            target = by_name.get(Path(key).name if slice_number is not None else key)
            if target is not None:   # truth of an image that is no query is skipped (v2 lists hold others)
                rows.append(row_of[target])
                values.append([getattr(row, c) for c in files.POSE_COLUMNS])
    if rows:
        queries.loc[rows, files.POSE_COLUMNS] = np.array(values, dtype=np.float64)


def _check_cameras(reference: pd.DataFrame, queries: pd.DataFrame, root: Path) -> None:
    missing = sorted(set(queries["camera"]) - set(reference["camera"]))
    if missing:
        raise ValueError(f"{root}: queries of camera(s) {missing} but no reference image of that camera: "
                         "retrieval stays within one camera")


def _check_images(table: pd.DataFrame, part: str, cfg: Testset) -> None:
    """Every image of `table` inside `cfg.images` and listed once, else an error naming the row
    and its source list."""
    paths, sources = table["path"].tolist(), table["source"].tolist()
    check_inside(cfg.images, paths, lambda i: f"{cfg.split}: {part} row {i} (from {sources[i]})")


def _renumber(table: pd.DataFrame) -> pd.DataFrame:
    table = table.reset_index(drop=True)
    table["image_id"] = np.arange(len(table), dtype=np.int64)
    return table
