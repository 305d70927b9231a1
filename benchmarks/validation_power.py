"""How well the validation split tells two methods apart (issue 17): size, chance level and the width
of a paired interval on it.

    python benchmarks/validation_power.py [--methods soft offtheshelf] [--seed 0]

Reads the index stage's validation split (data/processed) and two trained model files
(models/<m>/seed<s>/model.pt), measures each query's top-1 within train.val_threshold_m on the
whitened descriptors that training validates on (softloc.training.validation: PCA on
pca.fit_images training images), and prints: the split's references and queries per condition, the
chance level (the share of references within the threshold of a query, averaged over queries: what
a random retrieval scores; the same for the test split), each method's accuracy, and the paired
difference with its 95 % block-bootstrap interval as Table 1 computes it (softloc.stats: block length
by Politis-White from the pair's correctness, 2,000 BCa resamples).
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from softloc.models import load_model
from softloc.params import load_params
from softloc.stats import Outcomes, bootstrap_accuracy, choose_block_length, grid_blocks
from softloc.training import load_train_data
from softloc.training.device import place
from softloc.training.embedding import Source, Sources
from softloc.training.validation import query_errors


def chance(reference: np.ndarray, queries: np.ndarray, radius: float) -> float:
    """Percent: a random reference's probability of lying within `radius` of a query, mean over queries."""
    counts = np.array([len(n) for n in cKDTree(reference).query_ball_point(queries, radius)])
    return 100.0 * float(np.mean(counts / len(reference)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", nargs=2, default=["soft", "offtheshelf"])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    params = load_params()
    radius = params.train.val_threshold_m
    data = load_train_data("data/processed")
    queries = pd.read_parquet("data/processed/val_queries.parquet")
    test_ref = pd.read_parquet("data/processed/test/reference.parquet")[["easting", "northing"]].to_numpy()
    test_q = pd.read_parquet("data/processed/test/queries.parquet")[["easting", "northing"]].to_numpy()
    print(f"validation: {len(data.val_reference.xy)} references, {len(queries)} queries "
          f"{queries['condition'].value_counts().sort_index().to_dict()}; chance within {radius:g} m "
          f"{chance(data.val_reference.xy, data.val_queries.xy, radius):.1f} % (test {chance(test_ref, test_q, radius):.1f} %)")
    sources = Sources(Source(data.train.images), Source(data.val_reference.images), Source(data.val_queries.images))
    placement = place(params.train)
    correct = {}
    for method in args.methods:
        net, _ = load_model(f"models/{method}/seed{args.seed}/model.pt", placement.device)
        errors = query_errors(net, data, sources, params.train, params.pca, placement, np.arange(len(queries)))
        correct[method] = (errors <= radius)[None, :]
        print(f"{method}: {100 * correct[method].mean():.1f} %")
    east, north = data.val_queries.xy[:, 0], data.val_queries.xy[:, 1]
    conditions = queries["condition"].to_numpy(str)
    block = choose_block_length(east, north, conditions, np.concatenate(list(correct.values())))
    outcomes = [Outcomes("validation", grid_blocks(east, north, block.block_m), conditions, correct)]
    cfg = params.report.bootstrap
    diff = bootstrap_accuracy(outcomes, args.methods[0], confidence=cfg.confidence, n_resamples=cfg.resamples,
                              seed=cfg.seed).difference.iloc[0]
    print(f"{args.methods[0]} - {args.methods[1]} (mean over conditions): {diff['estimate']:+.1f} "
          f"[{diff['low']:+.1f}, {diff['high']:+.1f}], width {diff['high'] - diff['low']:.1f} points "
          f"(block {block.block_m:.1f} m)")


if __name__ == "__main__":
    main()
