"""A folder in the layout of the visual geo-localization benchmark (Pitts30k, Tokyo 24/7, MSLS,
St Lucia, SF-XL, ...): `database/` and `queries/` of images whose names hold their metadata,

    @UTM_east@UTM_north@UTM_zone_number@UTM_zone_letter@latitude@longitude@pano_id@tile_num@heading@pitch@roll@altitude@timestamp@note@.jpg

fields separated by `@`, any field but UTM_east and UTM_north may be empty.

params `testsets.<name>`:

    format: vgbench
    split: the folder holding database/ and queries/ (e.g. <dataset>/images/test)
    images: the root the tables' paths are relative to (usually = split; must contain it)
    condition: the queries' condition (Table 1's column name), e.g. tokyo247
    malformed: error               error | drop: a file whose name does not follow the layout
                                   stops the read naming it, or is dropped and counted
    store_aspect: [4, 3]           image-store policy (softloc.datasets.images); null needs one
                                   aspect ratio over the whole set

Files without an image extension (.jpg .jpeg .png) are ignored and counted; every file must
resolve inside `images` (no symlink out of it). Positions are the names' UTM metres; every image
of a set must share one UTM zone (a set whose names leave the zone empty is a local frame:
utm_zone "", latitude/longitude from the names when given). A position implausible for its zone
(easting outside 100-900 km, northing outside the hemisphere's range, latitude outside the zone
letter's band: easting and northing swapped?) or a name's latitude/longitude more than 50 m from
its UTM position is an error naming the file.
heading -> yaw (degrees), NaN when empty. The timestamp field is not used: its format differs
between the benchmark's datasets (SF-XL and Pitts30k write year and month).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field, create_model

from softloc.config import Testset
from softloc.datasets.seam import TestSplit, testset_table
from softloc.datasets.images import (CONDITION_PATTERN, ColourStoreLoader, colour_store_loader, read_colour,
                                     store_aspect_field)
from softloc.datasets.paths import check_inside
from softloc.datasets.positions import (MAX_LATLON_DISAGREEMENT_M, implausible, latlon, latlon_disagreement_m,
                                        parse_zone)

FOLDERS = {"reference": "database", "queries": "queries"}
SOURCES = {"reference": "db", "queries": "queries"}   # TESTSET_IMAGES source, as the .mat lists
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")
FIELDS = ("utm_east", "utm_north", "utm_zone_number", "utm_zone_letter", "latitude", "longitude", "pano_id",
          "tile_num", "heading", "pitch", "roll", "altitude", "timestamp", "note")
COLOUR = True   # colour images: grey ones are dropped and counted (softloc.datasets.seam.drop_grayscale)
# params testsets.<name> keys of this format beyond the base ones (checked by softloc.config)
CONFIG = create_model(
    "VgbenchConfig",
    condition=(str, Field(pattern=CONDITION_PATTERN)),
    malformed=(Literal["error", "drop"], "error"),
    store_aspect=store_aspect_field([4, 3]),
)


class MalformedName(ValueError):
    """A file name that does not follow the benchmark's @-separated layout."""


def parse_name(name: str) -> dict[str, Any]:
    """The metadata of one file name: easting, northing (float), utm_zone ("17T" or ""), latitude,
    longitude, heading (float, NaN when empty). Anything else is a MalformedName saying why."""
    stem = os.path.splitext(name)[0]
    parts = stem.split("@")
    if len(parts) != len(FIELDS) + 2 or parts[0] != "" or parts[-1] != "":
        raise MalformedName(f"expected {len(FIELDS)} @-separated fields between a leading and a trailing @ "
                            f"({'@'.join(['', *FIELDS, ''])}), found {len(parts) - 2 if len(parts) > 1 else 0}")
    values = dict(zip(FIELDS, parts[1:-1]))
    out = {"easting": _number(values, "utm_east", required=True), "northing": _number(values, "utm_north", required=True)}
    number, letter = values["utm_zone_number"].strip(), values["utm_zone_letter"].strip().upper()
    if bool(number) != bool(letter):
        raise MalformedName(f"UTM zone number {number!r} and letter {letter!r}: give both or neither")
    out["utm_zone"] = f"{int(number) if number.isdigit() else number}{letter}"
    try:
        parse_zone(out["utm_zone"], "name")
    except ValueError as err:
        raise MalformedName(str(err)) from None
    for key, field in (("latitude", "latitude"), ("longitude", "longitude"), ("yaw", "heading")):
        out[key] = _number(values, field, required=False)
    return out


def read_split(cfg: Testset) -> TestSplit:
    """References (database/) and queries (queries/) of the folder `cfg.split`, sorted by file name."""
    root, images = Path(cfg.split), Path(cfg.images)
    try:
        prefix = root.resolve().relative_to(images.resolve())
    except ValueError:
        raise ValueError(f"vgbench: split {root} is not inside images {images}; the tables' paths are relative to images") from None
    rows: dict[str, pd.DataFrame] = {}
    counts: dict[str, Any] = {"folder": str(root)}
    for name, folder in FOLDERS.items():
        rows[name], counts[name] = _read_folder(root / folder, prefix / folder, cfg.malformed == "drop", images)
    zones = sorted({z for table in rows.values() for z in table["utm_zone"]})
    if len(zones) > 1:
        first = {z: next(t["path"][t["utm_zone"] == z].iloc[0] for t in rows.values() if (t["utm_zone"] == z).any()) for z in zones}
        raise ValueError(f"{root}: images in several UTM zones {zones} (e.g. {first}); positions of one test set must share a zone")
    utm_zone = zones[0] if zones else ""
    tables = {name: _table(table, SOURCES[name], cfg.condition, utm_zone, root) for name, table in rows.items()}
    return TestSplit(tables["reference"], tables["queries"], counts)


def load_image(path: Path) -> np.ndarray:
    """A colour JPEG/PNG as uint8 RGB."""
    return read_colour(path)


def store_loader(cfg: Testset, max_side: int) -> ColourStoreLoader:
    """The image store's loader: every image at the store size, per `store_aspect` (default [4, 3])."""
    return colour_store_loader(cfg.store_aspect, max_side)


def _read_folder(folder: Path, prefix: Path, drop: bool, images: Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder (a benchmark test set holds database/ and queries/)")
    names = sorted(entry.name for entry in os.scandir(folder) if entry.is_file())
    image_names = [n for n in names if n.lower().endswith(IMAGE_EXTENSIONS)]
    parsed, malformed = [], []
    for name in image_names:
        try:
            parsed.append({"path": (prefix / name).as_posix(), "name": name, **parse_name(name)})
        except MalformedName as err:
            if not drop:
                raise ValueError(f"{folder / name}: malformed benchmark file name: {err} "
                                 "(set malformed: drop to count and skip such files)") from None
            malformed.append(name)
    columns = ["path", "name", "easting", "northing", "utm_zone", "latitude", "longitude", "yaw"]
    table = pd.DataFrame(parsed, columns=columns)
    check_inside(images, table["path"], lambda i: str(folder / table["name"].iat[i]))
    _check_positions(table, folder)
    counts = {"files": len(names), "ignored_not_images": len(names) - len(image_names),
              "dropped": {"malformed_name": len(malformed)}, "kept": len(table)}
    if malformed:
        counts["malformed_examples"] = malformed[:5]
    return table, counts


def _check_positions(table: pd.DataFrame, folder: Path) -> None:
    """Each name's position must be plausible for its zone (softloc.datasets.positions.implausible)
    and agree with the name's latitude/longitude within 50 m; else an error naming the file."""
    for zone_name, rows in table.groupby("utm_zone", sort=True):
        zone = parse_zone(str(zone_name), str(folder))
        if zone is None:
            continue
        easting, northing = rows["easting"].to_numpy(np.float64), rows["northing"].to_numpy(np.float64)
        reasons = implausible(easting, northing, zone)
        if (reasons != "").any():
            i = int(np.flatnonzero(reasons != "")[0])
            raise ValueError(f"{folder / rows['name'].iat[i]}: position ({easting[i]:.1f}, {northing[i]:.1f}) "
                             f"implausible for UTM zone {zone_name}: {reasons[i]} (easting and northing swapped?)")
        off = latlon_disagreement_m(easting, northing, rows["latitude"].to_numpy(np.float64),
                                    rows["longitude"].to_numpy(np.float64), zone)
        if (off > MAX_LATLON_DISAGREEMENT_M).any():
            i = int(np.flatnonzero(off > MAX_LATLON_DISAGREEMENT_M)[0])
            raise ValueError(f"{folder / rows['name'].iat[i]}: latitude/longitude ({rows['latitude'].iat[i]}, "
                             f"{rows['longitude'].iat[i]}) lie {off[i]:.0f} m from the UTM position ({easting[i]:.1f}, "
                             f"{northing[i]:.1f}) in zone {zone_name} (at most {MAX_LATLON_DISAGREEMENT_M:.0f} m)")


def _table(rows: pd.DataFrame, source: str, condition: str, utm_zone: str, root: Path) -> pd.DataFrame:
    easting, northing = rows["easting"].to_numpy(np.float64), rows["northing"].to_numpy(np.float64)
    latitude, longitude = rows["latitude"].to_numpy(np.float64), rows["longitude"].to_numpy(np.float64)
    if utm_zone:  # the zone gives every image its latitude/longitude; the names' own are not needed
        latitude, longitude = latlon(easting, northing, utm_zone, str(root))
    return testset_table({
        "path": rows["path"].to_numpy(object), "source": source, "condition": condition,
        "easting": easting, "northing": northing, "utm_zone": utm_zone, "yaw": rows["yaw"].to_numpy(np.float64),
        "latitude": latitude, "longitude": longitude,
    }, len(rows))


def _number(values: dict[str, str], field: str, required: bool) -> float:
    text = values[field].strip()
    if not text:
        if required:
            raise MalformedName(f"field {field} is empty")
        return math.nan
    try:
        value = float(text)
    except ValueError:
        raise MalformedName(f"field {field} is {text!r}, not a number") from None
    if not math.isfinite(value):
        raise MalformedName(f"field {field} is {text!r}, not a finite number")
    return value
