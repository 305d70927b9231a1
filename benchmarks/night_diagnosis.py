"""Why does night fail? Measures the RobotCar test split's night queries before anything changes
(issue 17, item 4).

    PYTHONPATH=$PWD .venv/bin/python benchmarks/night_diagnosis.py [--run /tmp/final] [--out /tmp/night_diag]
        [--methods triplet_huber offtheshelf] [--lite0] [--sheet-rows 8]

Reads a finished pipeline run (`--run`, never written) and, for each retrieval source (the
stored seed-0 retrievals of `--methods`, the pixel baseline, and with `--lite0` EfficientNet-Lite0
off the shelf, see benchmarks/night_retrievals.py):
- top-1 within 10 m per condition;
- for the failing night queries: the wrong top-1's distance, its heading difference (same
  street and direction, or the opposite side), whether the true nearest reference is in the
  top-k and at what rank, how concentrated the wrong matches are on a few references (hubs);
- night success by the query's brightness quartile and by stretch of route.
Then the image statistics of the stored 96 px images per condition (mean gray, contrast, share
of near-black pixels) and a contact sheet PNG of failing night queries beside their true nearest
reference and their wrong match, for a human to judge whether the places could be told apart.
Writes `--out`/night_diagnosis.json and `--out`/night_contact_sheet.png.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw

from night_retrievals import TestSplit, lite0_offtheshelf, load_split, pixel_baseline, stored

THRESHOLD_M = 10.0
NEAR_BLACK = 10  # gray level (0-255) at or below which a pixel counts as near-black
SAME_DIRECTION_DEG = 30.0  # the training's max_yaw_deg: a heading difference that still sees the same facades
ROUTE_BINS = 8


def gray(images: np.ndarray) -> np.ndarray:
    """uint8 (N, H, W, 3) -> float32 (N, H, W) mean of the channels."""
    return np.asarray(images, dtype=np.float32).mean(-1)


def image_stats(images: np.ndarray) -> pd.DataFrame:
    """Per image: mean gray, std of gray (contrast), share of near-black pixels."""
    g = gray(images)
    return pd.DataFrame({"mean": g.mean((1, 2)), "std": g.std((1, 2)), "near_black": (g <= NEAR_BLACK).mean((1, 2))})


def yaw_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Absolute heading difference in degrees, 0-180."""
    d = np.abs(np.asarray(a) - np.asarray(b)) % 360.0
    return np.minimum(d, 360.0 - d)


def true_nearest(split: TestSplit) -> np.ndarray:
    """Row of each query's geographically nearest reference."""
    q, r = split.query_xy, split.reference_xy
    return np.sqrt(((q[:, None, :] - r[None, :, :]) ** 2).sum(-1)).argmin(1)


def per_condition(frame: pd.DataFrame) -> dict[str, float]:
    """Top-1 within THRESHOLD_M per condition, in percent."""
    ok = frame["error_m"] <= THRESHOLD_M
    return {c: round(100 * float(ok[frame["condition"] == c].mean()), 1) for c in sorted(frame["condition"].unique())}


def failure_profile(frame: pd.DataFrame, split: TestSplit, nearest: np.ndarray, condition: str) -> dict[str, float]:
    """What the failing queries of `condition` have in common (see the module docstring)."""
    rows = np.flatnonzero((frame["condition"].to_numpy() == condition) & (frame["error_m"].to_numpy() > THRESHOLD_M))
    if rows.size == 0:
        return {"failures": 0}
    fail = frame.iloc[rows]
    top1 = fail["top1"].to_numpy()
    err = fail["error_m"].to_numpy()
    dyaw = yaw_difference(split.queries["yaw"].to_numpy()[rows], split.reference["yaw"].to_numpy()[top1])
    topk = np.stack(fail["topk"].to_numpy())
    rank = np.array([np.flatnonzero(t == n)[0] + 1 if (t == n).any() else 0 for t, n in zip(topk, nearest[rows])])
    ref_xy, q_xy = split.reference_xy, split.query_xy[rows]
    any_correct = (np.linalg.norm(ref_xy[topk] - q_xy[:, None, :], axis=2) <= THRESHOLD_M).any(1)
    counts = pd.Series(top1).value_counts()
    return {
        "failures": int(rows.size),
        "wrong_top1_median_m": round(float(np.median(err)), 1),
        "wrong_top1_within_25m_pct": round(100 * float((err <= 25).mean()), 1),
        "wrong_top1_beyond_100m_pct": round(100 * float((err > 100).mean()), 1),
        "wrong_top1_same_direction_pct": round(100 * float((dyaw <= SAME_DIRECTION_DEG).mean()), 1),
        "wrong_top1_opposite_direction_pct": round(100 * float((dyaw >= 180 - SAME_DIRECTION_DEG).mean()), 1),
        "true_nearest_in_topk_pct": round(100 * float((rank > 0).mean()), 1),
        "true_nearest_median_rank_when_in_topk": float(np.median(rank[rank > 0])) if (rank > 0).any() else None,
        "correct_in_topk_pct": round(100 * float(any_correct.mean()), 1),
        "distinct_wrong_references": int(counts.size),
        "top10_hub_share_pct": round(100 * float(counts.iloc[:10].sum() / rows.size), 1),
    }


def night_by(frame: pd.DataFrame, key: np.ndarray, bins: int) -> list[float]:
    """Night top-1 success (percent) in `bins` equal-count bins of `key` over the night queries."""
    night = frame["condition"].to_numpy() == "night"
    ok = (frame["error_m"].to_numpy() <= THRESHOLD_M)[night]
    order = np.argsort(key[night], kind="stable")
    return [round(100 * float(ok[part].mean()), 1) for part in np.array_split(order, bins)]


def analyse(frame: pd.DataFrame, split: TestSplit, nearest: np.ndarray, query_stats: pd.DataFrame) -> dict:
    """Every measurement of one retrieval source."""
    return {
        "top1_10m_pct": per_condition(frame),
        "night_failures": failure_profile(frame, split, nearest, "night"),
        "overcast_failures": failure_profile(frame, split, nearest, "overcast"),
        "night_by_brightness_quartile_pct": night_by(frame, query_stats["mean"].to_numpy(), 4),
        "night_by_route_stretch_pct": night_by(frame, nearest.astype(float), ROUTE_BINS),
    }


def condition_stats(split: TestSplit, query_stats: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Mean of each image statistic per query condition, and for the references."""
    out = {c: {k: round(float(v), 3) for k, v in part.mean().items()}
           for c, part in query_stats.groupby(split.queries["condition"].to_numpy())}
    out["reference"] = {k: round(float(v), 3) for k, v in image_stats(split.reference_images).mean().items()}
    return out


def stretch(image: np.ndarray) -> np.ndarray:
    """Per-image contrast stretch (1st-99th percentile to 0-255): what a person sees on a screen
    with the brightness turned up; the stored image beside it is what the network sees."""
    lo, hi = np.percentile(image, [1, 99])
    return np.clip((image.astype(np.float32) - lo) * 255.0 / max(hi - lo, 1.0), 0, 255).astype(np.uint8)


def contact_sheet(split: TestSplit, frame: pd.DataFrame, nearest: np.ndarray, rows: int, path: Path) -> list[dict]:
    """PNG of `rows` failing night queries, evenly spaced along the route: stored query, its
    contrast stretch, the true nearest reference, the wrong top-1. Returns what each row shows."""
    fail = np.flatnonzero((frame["condition"].to_numpy() == "night") & (frame["error_m"].to_numpy() > THRESHOLD_M))
    fail = fail[np.argsort(nearest[fail], kind="stable")]
    picks = fail[np.linspace(0, len(fail) - 1, min(rows, len(fail))).astype(int)]
    scale, label_h = 3, 14
    h, w = split.query_images.shape[1] * scale, split.query_images.shape[2] * scale
    sheet = Image.new("RGB", (4 * w, len(picks) * (h + label_h)), "white")
    draw = ImageDraw.Draw(sheet)
    shown = []
    yaw_q, yaw_r = split.queries["yaw"].to_numpy(), split.reference["yaw"].to_numpy()
    for i, q in enumerate(picks):
        top1, true = int(frame["top1"].iloc[q]), int(nearest[q])
        tiles = [split.query_images[q], stretch(split.query_images[q]), split.reference_images[true], split.reference_images[top1]]
        labels = [f"night query {q}", "same, contrast-stretched", f"true ref {true} ({frame['nearest_reference_m'].iloc[q]:.0f} m)",
                  f"wrong top-1 {top1} ({frame['error_m'].iloc[q]:.0f} m, dyaw {yaw_difference(yaw_q[q], yaw_r[top1]):.0f})"]
        y = i * (h + label_h)
        for j, (tile, label) in enumerate(zip(tiles, labels)):
            sheet.paste(Image.fromarray(np.ascontiguousarray(tile)).resize((w, h), Image.NEAREST), (j * w, y + label_h))
            draw.text((j * w + 2, y + 1), label, fill="black")
        shown.append({"query": int(q), "true_reference": true, "wrong_top1": top1, "error_m": round(float(frame["error_m"].iloc[q]), 1)})
    sheet.save(path)
    return shown


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=Path("/tmp/final"), help="a finished pipeline run (read only)")
    parser.add_argument("--out", type=Path, default=Path("/tmp/night_diag"))
    parser.add_argument("--methods", nargs="+", default=["triplet_huber", "offtheshelf"])
    parser.add_argument("--lite0", action="store_true", help="also EfficientNet-Lite0 off the shelf (~90 s on 2 cores)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sheet-rows", type=int, default=8)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    split = load_split(args.run)
    nearest = true_nearest(split)
    query_stats = image_stats(split.query_images)
    sources = {m: stored(args.run, m) for m in args.methods}
    sources["pixel_gradients_32x24"] = pixel_baseline(split)
    if args.lite0:
        sources["lite0_offtheshelf"] = lite0_offtheshelf(args.run, split, args.threads)
    result = {"run": str(args.run), "threshold_m": THRESHOLD_M, "near_black_level": NEAR_BLACK,
              "image_stats": condition_stats(split, query_stats),
              "sources": {name: analyse(frame, split, nearest, query_stats) for name, frame in sources.items()}}
    night = split.queries["condition"].to_numpy() == "night"
    for name in ("lite0_offtheshelf", args.methods[0]):
        if name in sources:
            ok = sources[name]["error_m"].to_numpy()[night] <= THRESHOLD_M
            result["night_stats_success_vs_failure"] = {"source": name, "success": query_stats[night][ok].mean().round(3).to_dict(),
                                                        "failure": query_stats[night][~ok].mean().round(3).to_dict()}
            result["contact_sheet"] = {"source": name, "rows": contact_sheet(split, sources[name], nearest, args.sheet_rows,
                                                                             args.out / "night_contact_sheet.png")}
            break
    (args.out / "night_diagnosis.json").write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
