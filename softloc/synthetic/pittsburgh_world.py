"""The embedded Pittsburgh-format test set: a second synthetic town seen as Street View panoramas.

A town of its own (softloc.synthetic.town with params `synthetic_pittsburgh.seed`, so other
streets, facades and trees than the training world) is captured as Pittsburgh 250k is:

- reference panoramas every `place_spacing_m` metres along the route, one lane
  (`reference_lateral_m`) left of the centreline, in the `reference_condition` look;
- query panoramas of the same streets taken "at another time": the `query_condition` look (its
  own light and parked cars), at `query_places` random places along the first
  `query_route_fraction` of the route (so that references beyond 100 m of every query exist and
  the protocol's distance rule has work), anywhere within `query_lateral_m` of the centreline,
  with a random panorama heading (a query view faces between two reference views);
- each panorama cut into 12 views 30 degrees apart (yaw 1 = the panorama's heading) at pitch 1
  (the horizon centred) and pitch 2 (looking up: the horizon at the bottom row, mostly sky and
  facade tops); one render of twice the height gives both.

Written in the real download's layout, with the authors' flat list file (UTM 17T: the town is
moved to downtown Pittsburgh's coordinates):

    <root>/<NNN>/<PPPPPP>_pitch<1|2>_yaw<1..12>.jpg                 reference views, NNN = P // 1000
    <root>/queries_real/<NNN>/<PPPPPP>_pitch<1|2>_yaw<1..12>.jpg    query views
    <root>/pitts_synthetic_test_lists.mat                           dbImageFns, utmDb, qImageFns, utmQ

Colour JPEGs of `image_width` x `image_height`. Panoramas render on every core; every draw is
seeded per panorama, so the same params write byte-identical files whatever the core count.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd

from softloc.config import SyntheticPittsburgh
from softloc.datasets.formats import pittsburgh_mat as pittsburgh
from softloc.synthetic import town
from softloc.synthetic.looks import CONDITION_NAMES, CONDITIONS
from softloc.synthetic.render import Renderer

log = logging.getLogger(__name__)

LIST_FILE = "pitts_synthetic_test_lists.mat"
QUERIES_DIR = "queries_real"
YAWS = 12
PITCHES = (1, 2)
# Downtown Pittsburgh in UTM 17T (the real lists span easting 583-587 km, northing 4475-4480 km).
PITTSBURGH_EASTING = 584_500.0
PITTSBURGH_NORTHING = 4_476_500.0
_CHUNK = 8   # panoramas per task


def check_conditions(cfg: SyntheticPittsburgh) -> None:
    """The reference and query conditions must be renderer conditions (softloc.synthetic.looks)."""
    for key in ("reference_condition", "query_condition"):
        if getattr(cfg, key) not in CONDITIONS:
            raise ValueError(f"params synthetic_pittsburgh.{key}: unknown condition {getattr(cfg, key)!r}; "
                             f"expected one of {CONDITION_NAMES}")


def plan_panoramas(cfg: SyntheticPittsburgh) -> pd.DataFrame:
    """One row per panorama: kind (db | query), index, x, y (town metres), heading (rad)."""
    check_conditions(cfg)
    route = town.seeded_route(cfg.seed, cfg.route_length_m)
    rng = np.random.default_rng([cfg.seed, 7])
    spacing = cfg.place_spacing_m
    s_db = town.EXTENSION_M + np.arange(spacing / 2, route.length, spacing)
    s_q = town.EXTENSION_M + rng.uniform(0.0, cfg.query_route_fraction * route.length, cfg.query_places)
    lateral_db = np.full(len(s_db), -cfg.reference_lateral_m)
    lateral_q = rng.uniform(-1.0, 1.0, len(s_q)) * cfg.query_lateral_m
    heading_db = route.at(s_db)[2] + np.deg2rad(rng.normal(0.0, 3.0, len(s_db)))
    heading_q = rng.uniform(0.0, 2 * np.pi, len(s_q))
    frames = []
    for kind, s, lateral, heading in (("db", s_db, lateral_db, heading_db), ("query", s_q, lateral_q, heading_q)):
        x, y, h = route.at(s)
        # Lateral offset: positive to the right of the direction of travel (heading clockwise from north).
        frames.append(pd.DataFrame({"kind": kind, "index": np.arange(len(s)), "x": x + lateral * np.cos(h),
                                    "y": y - lateral * np.sin(h), "heading": heading}))
    return pd.concat(frames, ignore_index=True)


def view_names(index: int) -> list[str]:
    """The 24 file names of panorama `index`, in the real list's order (pitch 1 yaws 1-12, then pitch 2)."""
    return [f"{index // 1000:03d}/{index:06d}_pitch{p}_yaw{y}.jpg" for p in PITCHES for y in range(1, YAWS + 1)]


def write_pittsburgh(cfg: SyntheticPittsburgh, root: str | os.PathLike, workers: int | None = None) -> dict[str, int]:
    """Render every panorama and write the views and the list file under `root` (empty or absent)."""
    root = Path(root)
    panoramas = plan_panoramas(cfg)
    tasks = [(root, panoramas.iloc[i:i + _CHUNK]) for i in range(0, len(panoramas), _CHUNK)]
    workers = max(1, min(workers or os.cpu_count() or 1, len(tasks)))
    if workers == 1:
        _init_worker(cfg)
        for task in tasks:
            _render_chunk(*task)
    else:
        with ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(cfg,)) as pool:
            list(pool.map(_render_chunk, *zip(*tasks)))
    lists = {}
    for kind in ("db", "query"):
        rows = panoramas[panoramas["kind"] == kind]
        easting = rows["x"].to_numpy() - town.ORIGIN_EASTING + PITTSBURGH_EASTING
        northing = rows["y"].to_numpy() - town.ORIGIN_NORTHING + PITTSBURGH_NORTHING
        lists[kind] = pd.DataFrame({
            "path": [name for i in rows["index"] for name in view_names(int(i))],
            "easting": np.repeat(easting, YAWS * len(PITCHES)), "northing": np.repeat(northing, YAWS * len(PITCHES)),
        })
    pittsburgh.write_lists(root / LIST_FILE, lists["db"], lists["query"], layout="flat")
    counts = {"reference_panoramas": int((panoramas["kind"] == "db").sum()),
              "query_panoramas": int((panoramas["kind"] == "query").sum()),
              "reference_views": len(lists["db"]), "query_views": len(lists["query"])}
    log.info("wrote %s: %s", root, counts)
    return counts


_WORKER: dict[str, Any] = {}


def _init_worker(cfg: SyntheticPittsburgh) -> None:
    """Build the town, a renderer of twice the view height and the two looks (once per process)."""
    seed = cfg.seed
    _, scenery = town.build_town(seed, cfg.route_length_m)
    renderer = Renderer(scenery, cfg.image_width, 2 * cfg.image_height)
    _WORKER.update(cfg=cfg, renderer=renderer, looks={
        "db": renderer.make_look(cfg.reference_condition, np.random.default_rng([seed, 5, 0])),
        "query": renderer.make_look(cfg.query_condition, np.random.default_rng([seed, 5, 1])),
    })


def _render_chunk(root: Path, panoramas: pd.DataFrame) -> int:
    """Render and write the 24 views of each panorama of the chunk."""
    cfg, renderer = _WORKER["cfg"], _WORKER["renderer"]
    height, quality = cfg.image_height, cfg.jpeg_quality
    for pano in panoramas.itertuples():
        folder = root / (QUERIES_DIR if pano.kind == "query" else "")
        frame_rng = np.random.default_rng([cfg.seed, 6, pano.kind == "query", pano.index])
        views = {}
        for y in range(YAWS):
            tall = renderer.render(pano.x, pano.y, pano.heading + np.deg2rad(30.0 * y), _WORKER["looks"][pano.kind], frame_rng)
            views[1, y + 1] = tall[height // 2: height // 2 + height]    # horizon centred
            views[2, y + 1] = tall[:height]                              # looking up
        for name, (pitch, yaw) in zip(view_names(int(pano.index)), [(p, y) for p in PITCHES for y in range(1, YAWS + 1)]):
            ok, data = cv2.imencode(".jpg", np.ascontiguousarray(views[pitch, yaw][..., ::-1]),
                                    [cv2.IMWRITE_JPEG_QUALITY, quality])
            if not ok:
                raise RuntimeError(f"cv2.imencode failed on {folder / name}")
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(data.tobytes())
    return len(panoramas)
