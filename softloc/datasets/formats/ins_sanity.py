"""INS sanity of a RobotCar gps/ins.csv against params: the zone the positions are in, and the
stated latitude/longitude against the stated UTM position.

Latitude and longitude columns swapped, or data of another zone (31U for 30U data), put the two
kilometres apart; a zone column naming another zone than params clean.utm_zone is caught first.
Each failure is an error naming the file and the data row (1 = the line after the header).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from softloc.datasets.positions import MAX_LATLON_DISAGREEMENT_M, latlon_disagreement_m, parse_zone


def check_ins_positions(ins: pd.DataFrame, path: Path, utm_zone: str) -> None:
    """Each row's utm_zone is `utm_zone` and its latitude/longitude agree with its UTM position
    within MAX_LATLON_DISAGREEMENT_M (rows with NaN are skipped: they are no pose)."""
    zone = parse_zone(utm_zone, "params clean.utm_zone")
    if zone is None:
        raise ValueError("params clean.utm_zone: RobotCar INS positions are UTM; give their zone, such as 30U")
    if "utm_zone" in ins.columns:
        stated = ins["utm_zone"].astype("string").str.strip().str.upper()
        other = (stated.notna() & (stated != utm_zone.upper())).to_numpy()
        if other.any():
            row = int(np.flatnonzero(other)[0])
            raise ValueError(f"{path}, data row {ins['data_row'].iloc[row]}: utm_zone {ins['utm_zone'].iloc[row]!r}, but params "
                             f"clean.utm_zone is {utm_zone!r}")
    off = latlon_disagreement_m(ins["easting"].to_numpy(), ins["northing"].to_numpy(), ins["latitude"].to_numpy(),
                                ins["longitude"].to_numpy(), zone)
    far = off > MAX_LATLON_DISAGREEMENT_M
    if far.any():
        row = int(np.flatnonzero(far)[0])
        raise ValueError(f"{path}, data row {ins['data_row'].iloc[row]}: latitude/longitude ({ins['latitude'].iloc[row]}, "
                         f"{ins['longitude'].iloc[row]}) lie {off[row]:.0f} m from easting/northing "
                         f"({ins['easting'].iloc[row]}, {ins['northing'].iloc[row]}) in zone {utm_zone} (at most "
                         f"{MAX_LATLON_DISAGREEMENT_M:.0f} m: latitude and longitude swapped, or params "
                         "clean.utm_zone not the data's zone?)")
