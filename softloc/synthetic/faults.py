"""Where the synthetic RobotCar world plants its faults (counts in params `synthetic.faults`).

Each fault lies in its own stretch of one run; the clean reason it must cost is recorded per
image in the world's truth:
    location_outlier  INS positions jumped >= 45 m sideways, >= 35 m from every street, over a short
                      span (images inside; the span runs midway to the neighbouring images, which
                      stay exact)
    bad_ins           a burst of INS rows with status INS_HIGH_VARIANCE; every image inside it has
                      bracketing usable (good, finite) rows >= `bad_ins_burst_s` apart, while every
                      other image has them <= 40 ms apart (20 ms, or 40 ms next to a NaN row)
    nan_rows          isolated INS rows with NaN numbers (status still good), each the row just
                      after an image: cost NO image (truth ""), interpolation must skip them
    underexposed      frame scaled to mean < 3/255;  overexposed: mean > 250/255
    unreadable_image  PNG truncated to half its bytes
    no_image_file     timestamp listed, PNG not written
    no_ins_coverage   the INS log of one run ends 40 ms after its image -k-1: its last k images
                      lie after the end of the INS time span
The INS faults are applied by softloc.synthetic.ins, the image faults by robotcar_world.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from softloc.config import Synthetic
from softloc.synthetic.ins import INS_STEP_US
from softloc.synthetic.motion import Run, frame_times


@dataclass
class Faults:
    """Where each planted fault lies in one run (image indices) and what it does to the INS."""

    truth: np.ndarray                       # (N,) expected clean reason per image, "" = good
    jump: list[tuple[int, int]]             # image index ranges [a, b) with jumped INS positions
    burst: list[tuple[int, int]]            # image index ranges [a, b) inside a bad-status burst
    nan_after: list[int]                    # images whose next INS row is NaN
    under: list[int]
    over: list[int]
    truncated: list[int]
    missing: list[int]
    uncovered: int                          # the last `uncovered` images have no INS coverage


def plan_faults(cfg: Synthetic, runs: list[Run]) -> dict[str, Faults]:
    """Spread the planted faults of `cfg.faults` over the runs, each in its own stretch, never touching another."""
    counts = cfg.faults
    rng = np.random.default_rng([cfg.seed, 3])
    if any(r.frame_dt < 3 * INS_STEP_US / 1e6 for r in runs) and any(counts.model_dump().values()):
        raise ValueError("params synthetic.frame_spacing_m: frames closer than 3 INS rows (60 ms) leave no room "
                         "to plant INS faults between images; raise frame_spacing_m or plant no faults")
    n_images = {r.name: len(frame_times(r)) for r in runs}
    faults = {r.name: Faults(np.full(n_images[r.name], "", dtype=object), [], [], [], [], [], [], [], 0)
              for r in runs}
    used = {r.name: np.zeros(n_images[r.name], bool) for r in runs}
    margin = 4

    def claim(length: int, run: Run | None = None) -> tuple[Run, int] | None:
        for _ in range(200):
            pick = run or runs[int(rng.integers(len(runs)))]
            n = n_images[pick.name]
            lo, hi = margin + 2, n - length - margin - 8
            if hi <= lo:
                continue
            a = int(rng.integers(lo, hi))
            if not used[pick.name][a - margin:a + length + margin].any():
                used[pick.name][a - margin:a + length + margin] = True
                return pick, a
        return None

    def place(kind: str, count: int, length_of) -> None:
        for _ in range(count):
            run0 = runs[int(rng.integers(len(runs)))]
            length = length_of(run0)
            got = claim(length, run0) or claim(length)
            if got is None:
                raise ValueError(f"params synthetic.faults: no room for {count} {kind} fault(s); "
                                 "lengthen the route or plant fewer")
            run, a = got
            f = faults[run.name]
            if kind in ("location_outlier", "bad_ins"):
                (f.jump if kind == "location_outlier" else f.burst).append((a, a + length))
                f.truth[a:a + length] = kind
            elif kind == "nan_rows":
                f.nan_after.append(a)
            else:
                getattr(f, {"underexposed": "under", "overexposed": "over", "unreadable_image": "truncated",
                            "no_image_file": "missing"}[kind]).append(a)
                f.truth[a] = kind

    if counts.no_ins_coverage > 0:
        run = runs[int(rng.integers(len(runs)))]
        k = counts.no_ins_coverage
        faults[run.name].uncovered = k
        faults[run.name].truth[-k:] = "no_ins_coverage"
        used[run.name][-k - margin - 8:] = True
    place("location_outlier", counts.location_outlier, lambda r: counts.location_outlier_images)
    place("bad_ins", counts.bad_ins, lambda r: int(np.ceil(counts.bad_ins_burst_s / r.frame_dt)) + 1)
    for kind in ("nan_rows", "underexposed", "overexposed", "unreadable_image", "no_image_file"):
        place(kind, getattr(counts, kind), lambda r: 1)
    return faults
