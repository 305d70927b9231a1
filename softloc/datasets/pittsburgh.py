"""Pittsburgh 250k, and any NetVLAD-style .mat list, as a test set with the paper's protocol.

params `testsets.<name>` (CONFIG: types and defaults, checked by softloc.config):

    format: pittsburgh
    split: the .mat list: flat (the authors' pitts250k_test_lists.mat) or NetVLAD's dbStruct
    images: the image root; database names are relative to it (`000/000000_pitch1_yaw1.jpg`)
    queries_dir: queries_real     the query images' folder, relative to `images` ("" = `images`)
    utm_zone: 17T                 zone of the list's positions ("" = a local metric frame)
    utm_order: auto               rows of utmDb/utmQ: auto | easting_northing | northing_easting
                                  (auto refuses to guess when the values cannot tell)
    pitch: 1                      keep views of this pitch (1 = horizon; 2 looks at the sky);
                                  null keeps every view (names then need no _pitch<P>_yaw<Y>)
    max_reference_distance_m: 100 references farther than this from every kept query are
                                  dropped (the paper's Pittsburgh test); null keeps them all
    condition: pittsburgh         the queries' condition (Table 1's column name)
    store_aspect: null            image-store policy (softloc.datasets.images)

Every drop is counted in the split's counts, by reason. Images are colour JPEGs (grey ones are
dropped and counted by the testset stage). Every list row's image must resolve inside `images`
(no '..', absolute path or symlink leading out) and be listed once: else an error naming the row.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field, create_model

from softloc.config import Testset, UtmZoneOrLocal
from softloc.datasets.formats import pittsburgh_mat as lists_file
from softloc.datasets.seam import TestSplit, testset_table
from softloc.datasets.images import (CONDITION_PATTERN, ColourStoreLoader, colour_store_loader, read_colour,
                                     store_aspect_field)
from softloc.datasets.paths import check_inside
from softloc.datasets.positions import latlon

COLOUR = True   # colour JPEGs: grey ones are dropped and counted (softloc.datasets.seam.drop_grayscale)
# params testsets.<name> keys of this format beyond the base ones (checked by softloc.config)
CONFIG = create_model(
    "PittsburghConfig",
    queries_dir=(str, "queries_real"),
    utm_zone=(UtmZoneOrLocal, "17T"),
    utm_order=(Literal["auto", "easting_northing", "northing_easting"], "auto"),
    pitch=(Literal[1, 2] | None, 1),
    max_reference_distance_m=(float | None, Field(100.0, gt=0)),
    condition=(str, Field("pittsburgh", pattern=CONDITION_PATTERN)),
    store_aspect=store_aspect_field(None),
)


def read_split(cfg: Testset) -> TestSplit:
    """References and queries of the list `cfg.split`, filtered by pitch and distance to the queries.

    Every row's image must lie inside `cfg.images` and be listed once (softloc.datasets.paths).
    """
    path = Path(cfg.split)
    lists = lists_file.read_mat(path, cfg.utm_order)
    queries_dir = PurePosixPath(cfg.queries_dir)
    reference = lists.reference
    queries = lists.queries.assign(path=[str(queries_dir / p) for p in lists.queries["path"]])
    check_inside(cfg.images, reference["path"], lambda i: f"{path}: 'dbImageFns' row {i}")
    check_inside(cfg.images, queries["path"], lambda i: f"{path}: 'qImageFns' row {i} (under queries_dir)")
    dropped: dict[str, dict[str, int]] = {"reference": {}, "queries": {}}
    if cfg.pitch is not None:
        pitch = cfg.pitch
        ref_pitch, _ = lists_file.parse_views(reference["path"].tolist(), f"{path}: 'dbImageFns'")
        query_pitch, _ = lists_file.parse_views(queries["path"].tolist(), f"{path}: 'qImageFns'")
        dropped["reference"]["other_pitch"] = int(np.sum(ref_pitch != pitch))
        dropped["queries"]["other_pitch"] = int(np.sum(query_pitch != pitch))
        reference, queries = reference[ref_pitch == pitch], queries[query_pitch == pitch]
    if cfg.max_reference_distance_m is not None:
        near = lists_file.near_any(reference, queries, cfg.max_reference_distance_m)
        dropped["reference"]["beyond_max_reference_distance"] = int(np.sum(~near))
        reference = reference[near]
    tables = {"reference": _table(reference, "db", cfg, path), "queries": _table(queries, "queries", cfg, path)}
    counts: dict[str, Any] = {
        "list_file": str(path), "layout": lists.layout, "utm_order": lists.utm_order, **({"list_info": lists.info} if lists.info else {}),
        "reference": {"read": len(lists.reference), "dropped": dropped["reference"], "kept": len(tables["reference"])},
        "queries": {"read": len(lists.queries), "dropped": dropped["queries"], "kept": len(tables["queries"])},
    }
    return TestSplit(tables["reference"], tables["queries"], counts)


def load_image(path: Path) -> np.ndarray:
    """A colour JPEG as uint8 RGB (640x480 in the real download)."""
    return read_colour(path)


def store_loader(cfg: Testset, max_side: int) -> ColourStoreLoader:
    """The image store's loader: every view at the store size, per `store_aspect`."""
    return colour_store_loader(cfg.store_aspect, max_side)


def _table(rows: pd.DataFrame, source: str, cfg: Testset, path: Path) -> pd.DataFrame:
    easting, northing = rows["easting"].to_numpy(np.float64), rows["northing"].to_numpy(np.float64)
    latitude, longitude = latlon(easting, northing, cfg.utm_zone, f"{path} (params utm_zone)")
    return testset_table({
        "path": rows["path"].to_numpy(object), "source": source, "condition": cfg.condition,
        "easting": easting, "northing": northing, "utm_zone": cfg.utm_zone.upper(),
        "latitude": latitude, "longitude": longitude,
    }, len(rows))
