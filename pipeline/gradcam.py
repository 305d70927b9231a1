"""gradcam stage: Figure 3, Grad-CAM of every method's top-1 match on a few selected night queries.

    python -m pipeline.gradcam

Reads params `gradcam` (testset, condition, queries, seed, method, threshold_m) and `methods`;
data/testsets/<t>/{reference,queries}.parquet and images/{reference,queries}.npy (the pipeline's
stored images, the network's input), every method's data/eval/<m>/seed<s>/<t>/retrievals.parquet
(top-1 and its error), models/<m>/seed<s>/model.pt and data/features/<m>/seed<s>/<t>/pca.npz.
Queries of the condition are chosen by softloc.report.figure3.select_queries (ours right, most
others wrong); writes reports/figure3/query_<row>.png, one per query, and
reports/figure3/selection.json (the rows' method order, the chosen query rows and every
method's top-1 and error), which softloc.report.figure3.figure3_section turns into a report section.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline import Run, fresh_outputs, setup_logging, stage_params, testset_dir
from softloc.evaluate import RETRIEVALS
from softloc.features import Whitening
from softloc.gradcam import match_gradcam
from softloc.imagestore import open_store
from softloc.io import read_parquet, write_json
from softloc.models import load_model
from softloc.pca import load_pca
from softloc.report.figure3 import FIGURE3_DIR, Figure3Row, draw_figure3, select_queries
from softloc.schemas import TESTSET_IMAGES

log = logging.getLogger("pipeline.gradcam")
OUT = Path("reports") / FIGURE3_DIR


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    setup_logging()
    params = stage_params()
    cfg = params.gradcam
    testset, seed, ours = cfg.testset, cfg.seed, cfg.method
    methods = [m for m in params.methods if m != ours] + [ours]          # ours in the last row
    root = testset_dir(testset)
    queries = read_parquet(root / "queries.parquet", TESTSET_IMAGES)
    runs = {m: Run(m, seed, testset) for m in methods}
    retrievals = {m: read_parquet(run.eval_data_dir / "retrievals.parquet", RETRIEVALS).set_index("query")
                  for m, run in runs.items()}
    candidates = np.flatnonzero(queries["condition"].to_numpy() == cfg.condition)
    if candidates.size == 0:
        raise SystemExit(f"params gradcam.condition {cfg.condition!r}: no such query in {root / 'queries.parquet'}")
    errors = pd.DataFrame({m: r["error_m"].reindex(candidates).to_numpy() for m, r in retrievals.items()},
                          index=candidates)
    chosen = select_queries(errors, ours, cfg.threshold_m, cfg.queries)
    log.info("Figure 3 queries (rows of %s): %s", root / "queries.parquet", chosen)
    query_images = open_store(root / "images" / "queries.npy")
    reference_images = open_store(root / "images" / "reference.npy")
    rows: dict[int, list[Figure3Row]] = {q: [] for q in chosen}
    for method in methods:
        net, _ = load_model(runs[method].model_dir / "model.pt", "cpu")
        whitening = Whitening(load_pca(runs[method].features_dir / "pca.npz"))
        for q in chosen:
            top1 = int(retrievals[method].loc[q, "top1"])
            cams = match_gradcam(net, np.asarray(query_images[q]), np.asarray(reference_images[top1]), whitening)
            label = f"{method} (ours)" if method == ours else method
            rows[q].append(Figure3Row(label, np.asarray(reference_images[top1]), cams,
                                      float(retrievals[method].loc[q, "error_m"])))
    with fresh_outputs(OUT):   # a query no longer chosen leaves no figure behind
        for q in chosen:
            title = f"{testset} {cfg.condition} query {queries['path'].iloc[q]} (seed {seed})"
            draw_figure3(np.asarray(query_images[q]), rows[q], title, OUT / f"query_{q}.png")
        write_json({"testset": testset, "seed": seed, "condition": cfg.condition, "rows": methods, "queries": [
            {"row": q, "path": queries["path"].iloc[q],
             "methods": {m: {"top1": int(retrievals[m].loc[q, "top1"]),
                             "error_m": float(retrievals[m].loc[q, "error_m"])} for m in methods}}
            for q in chosen]}, OUT / "selection.json")


if __name__ == "__main__":
    main()
