"""`softloc localize`: where were these photos taken? Retrieval against a built map.

A map is what the pipeline builds for one (method, seed, test set):

    models/<m>/seed<s>/model.pt                       the network (any method, imported ones too)
    data/features/<m>/seed<s>/<t>/pca.npz             its PCA whitening
    data/features/<m>/seed<s>/<t>/reference.npy       the whitened reference features
    data/testsets/<t>/reference.parquet               the references' paths and positions
    data/testsets/<t>/images/reference.npy            the reference image store (its size; checks)

Each query image (a colour JPEG/PNG; a folder is searched recursively) is read, scaled with its
aspect kept to cover the store's image size and centre-cropped (the test set's store rule), run
through the network and the PCA, and matched against the reference features (exact L2 search).
The result has one row per query and rank (rank 1 = the answer, then the top-k alternatives):
the reference's path and position (UTM and latitude/longitude) and the feature distance.

Unknown names are listed: a method or test set that neither params.yaml (under --root) nor a
built map knows is an error naming the known ones. `--json` prints one JSON object per query
(JSON Lines) instead of the summary, `--pairs FILE` writes hloc's pairs-from-retrieval file, and
every query carries an ambiguity flag (softloc.localize_results).

Map and model must belong together: the PCA's input size must be the network's descriptor size,
its output the features' size, the features one row per reference, the model's method the map's;
and a few reference images of the store, re-extracted, must give the stored features (a map
built by another network of the same shape fails here).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import torch

from softloc.argtypes import non_negative_int, positive_int
from softloc.datasets.images import fit, read_colour
from softloc.features import Whitening, extract_features, resolve_device
from softloc.imagestore import open_store
from softloc.io import atomic_path, read_parquet
from softloc.localize_results import (DEFAULT_MAX_RATIO, DEFAULT_MAX_SPREAD_M, ambiguity, ambiguity_line,
                                      query_names, query_records, write_pairs)
from softloc.models import load_model
from softloc.params import read_params_yaml
from softloc.pca import load_pca
from softloc.retrieval import search_topk
from softloc.schemas import TESTSET_IMAGES

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")
QUERY_CHUNK = 512           # query images decoded at a time
CHECK_ROWS = 8               # reference images re-extracted to check that map and model match
MIN_CHECK_COSINE = 0.99      # fp16 extraction on a GPU stays far above this
RESULT_COLUMNS = ["query", "rank", "reference", "reference_row", "easting", "northing", "utm_zone",
                  "latitude", "longitude", "feature_distance"]


@dataclass
class Map:
    """A built map: network + PCA, reference features and table, the store's image size."""

    net: torch.nn.Module
    method: str
    whitening: Whitening
    features: np.ndarray
    reference: pd.DataFrame
    size: tuple[int, int]            # (height, width) of the store images
    device: torch.device


@dataclass(frozen=True)
class MapPaths:
    """The files of one map (see the module docstring)."""

    model: Path
    pca: Path
    features: Path
    reference: Path
    store: Path

    @classmethod
    def of(cls, method: str, seed: int, testset: str, root: str | os.PathLike = ".") -> "MapPaths":
        """The pipeline's paths of (method, seed, test set) under the project root."""
        root = Path(root)
        features = root / "data" / "features" / method / f"seed{seed}" / testset
        return cls(model=root / "models" / method / f"seed{seed}" / "model.pt", pca=features / "pca.npz",
                   features=features / "reference.npy", reference=root / "data" / "testsets" / testset / "reference.parquet",
                   store=root / "data" / "testsets" / testset / "images" / "reference.npy")


def load_map(paths: MapPaths, method: str | None = None, device: str = "auto", batch_size: int = 32) -> Map:
    """Read a map and check that its parts belong together (a clear error naming the files otherwise)."""
    dev = resolve_device(device)
    net, info = load_model(paths.model, dev)
    model_method = str(info.get("method", ""))
    if method is not None and model_method and model_method != method:
        raise ValueError(f"map/model mismatch: {paths.model} is method {model_method!r}, the map is {method!r}")
    pca = load_pca(paths.pca)
    if pca.mean.shape[0] != net.dim:
        raise ValueError(f"map/model mismatch: {paths.pca} whitens {pca.mean.shape[0]}-d descriptors but "
                         f"{paths.model} ({model_method or 'its method'}) gives {net.dim}-d ones")
    features = np.load(paths.features, mmap_mode="r") if paths.features.is_file() else None
    if features is None:
        raise FileNotFoundError(f"{paths.features}: no reference features (run the evaluate stage of this map: dvc repro evaluate@<method>-<seed>)")
    reference = read_parquet(paths.reference, TESTSET_IMAGES)
    if features.ndim != 2 or features.shape[1] != pca.dim or len(features) != len(reference):
        raise ValueError(f"map mismatch: {paths.features} holds {features.shape} features; expected "
                         f"({len(reference)}, {pca.dim}): one {pca.dim}-d row ({paths.pca}) per row of {paths.reference}")
    store = open_store(paths.store)
    if len(store) != len(reference):
        raise ValueError(f"map mismatch: {paths.store} holds {len(store)} images, {paths.reference} {len(reference)} rows")
    whitening = Whitening(pca)
    rows = np.unique(np.linspace(0, len(store) - 1, min(CHECK_ROWS, len(store))).round().astype(np.int64))
    again = extract_features(net, store, net.preprocess, batch_size=batch_size, device=dev, whitening=whitening,
                             rows=rows, desc="map check")
    cosine = np.sum(again * np.asarray(features[rows]), axis=1)
    if cosine.min() < MIN_CHECK_COSINE:
        worst = int(rows[np.argmin(cosine)])
        raise ValueError(f"map/model mismatch: reference row {worst} re-extracted with {paths.model} and {paths.pca} "
                         f"differs from {paths.features} (cosine {cosine.min():.3f}): the map was built by another network")
    return Map(net, model_method, whitening, np.ascontiguousarray(features, dtype=np.float32), reference,
               tuple(store.shape[1:3]), dev)


def built_maps(root: str | os.PathLike, seed: int) -> list[tuple[str, str]]:
    """(method, test set) of every map built for `seed` under the project root (its reference features exist)."""
    return sorted((p.parents[2].name, p.parent.name)
                  for p in Path(root).glob(f"data/features/*/seed{seed}/*/reference.npy"))


def check_known(method: str, testset: str, seed: int, root: str | os.PathLike) -> None:
    """A method or test set that neither params.yaml under `root` nor a built map names is an error
    listing the known ones ("known methods: a, b, c")."""
    params_file = Path(root) / "params.yaml"
    raw = read_params_yaml(params_file) if params_file.is_file() else {}
    built = built_maps(root, seed)
    where = f"{params_file} and the maps built for seed {seed}" if raw else f"the maps built for seed {seed} under {root}"
    for kind, name, known in (("method", method, set(raw.get("methods") or {}) | {m for m, _ in built}),
                              ("test set", testset, set(raw.get("testsets") or {}) | {t for _, t in built})):
        if name not in known:
            raise ValueError(f"unknown {kind} {name!r}: known {kind}s: {', '.join(sorted(known)) or 'none'} ({where})")
    if (method, testset) not in built:
        maps = ", ".join(f"{m}/{t}" for m, t in built) or "none"
        raise FileNotFoundError(f"no map for method {method!r}, test set {testset!r}, seed {seed} under {root} "
                                f"(maps built: {maps}); build it with `dvc repro evaluate@{method}-{seed}`")


def find_images(path: str | os.PathLike) -> list[Path]:
    """One image file, or every image under a folder (recursively, sorted); none is an error."""
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: no such image file or folder")
    found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
    if not found:
        raise FileNotFoundError(f"{path}: no {'/'.join(IMAGE_EXTENSIONS)} images in this folder")
    return found


def localize(the_map: Map, images: Sequence[Path], top_k: int = 5, batch_size: int = 32) -> pd.DataFrame:
    """One row per (query, rank <= top_k): the reference, its position, the feature distance."""
    height, width = the_map.size
    parts = []
    for start in range(0, len(images), QUERY_CHUNK):   # bounded memory for any number of queries
        batch = np.stack([fit(read_colour(p, cover=(height, width)), height, width)
                          for p in images[start:start + QUERY_CHUNK]])
        parts.append(extract_features(the_map.net, batch, the_map.net.preprocess, batch_size=batch_size, device=the_map.device,
                                      whitening=the_map.whitening, desc="queries"))
    rows, squared = search_topk(the_map.features, np.concatenate(parts), top_k)
    distances = np.sqrt(np.maximum(squared, 0.0))
    k = rows.shape[1]
    ref = the_map.reference.iloc[rows.ravel()]
    return pd.DataFrame({
        "query": np.repeat([str(p) for p in images], k), "rank": np.tile(np.arange(1, k + 1), len(images)),
        "reference": ref["path"].to_numpy(), "reference_row": rows.ravel(),
        "easting": ref["easting"].to_numpy(), "northing": ref["northing"].to_numpy(),
        "utm_zone": ref["utm_zone"].to_numpy(), "latitude": ref["latitude"].to_numpy(),
        "longitude": ref["longitude"].to_numpy(), "feature_distance": distances.ravel(),
    })[RESULT_COLUMNS]


def summary_lines(result: pd.DataFrame, flags: pd.DataFrame, max_ratio: float = DEFAULT_MAX_RATIO,
                  max_spread_m: float = DEFAULT_MAX_SPREAD_M) -> list[str]:
    """Human-readable lines: per query the answer with its position and distance, then the
    alternatives, then a warning line when the query is ambiguous (`flags`: from `ambiguity`)."""
    lines = []
    warnings = {row.query: ambiguity_line(row, max_ratio, max_spread_m) for row in flags.itertuples(index=False)}
    for query, rows in result.groupby("query", sort=False):
        top = rows.iloc[0]
        lines.append(f"{query}\n  -> {top['reference']}  UTM {top['easting']:.1f} E {top['northing']:.1f} N {top['utm_zone']}"
                     f"  ({top['latitude']:.6f}, {top['longitude']:.6f})  feature distance {top['feature_distance']:.3f}")
        for alt in rows.iloc[1:].itertuples():
            lines.append(f"     {alt.rank}. {alt.reference}  {alt.easting:.1f} E {alt.northing:.1f} N  d {alt.feature_distance:.3f}")
        if warnings.get(query):
            lines.append(warnings[query])
    return lines


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The `localize` subcommand's arguments."""
    parser.add_argument("images", help="an image file or a folder of images (searched recursively)")
    parser.add_argument("--method", required=True, help="the map's method (a key of params.yaml methods)")
    parser.add_argument("--testset", required=True, help="the map's test set (a key of params.yaml testsets)")
    parser.add_argument("--seed", type=non_negative_int, default=0, help="the method's training seed (default 0)")
    parser.add_argument("--root", default=".", help="the project root holding models/ and data/ (default .)")
    parser.add_argument("--top-k", type=positive_int, default=5, help="answer + alternatives per query (default 5)")
    parser.add_argument("--out", default="localized.csv", help="CSV to write (default localized.csv)")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda (default auto)")
    parser.add_argument("--batch-size", type=positive_int, default=32)
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object per query (JSON Lines: path, top-k, ambiguity) instead of the summary")
    parser.add_argument("--pairs", metavar="FILE",
                        help="also write hloc's pairs-from-retrieval file: 'query reference' per line, top-k per query")
    parser.add_argument("--ambiguous-ratio", type=float, default=DEFAULT_MAX_RATIO,
                        help="a query is ambiguous when its top-1/top-2 feature distance ratio exceeds this "
                             f"and its top-k spread exceeds --ambiguous-spread-m (default {DEFAULT_MAX_RATIO:g}, "
                             "Lowe's ratio test)")
    parser.add_argument("--ambiguous-spread-m", type=float, default=DEFAULT_MAX_SPREAD_M,
                        help="the top-k spread (largest distance of a top-k reference from the top-1's position) "
                             f"above which a close ratio counts as ambiguous (default {DEFAULT_MAX_SPREAD_M:g} m)")
    for name in ("model", "pca", "features", "reference", "store"):
        parser.add_argument(f"--{name}", help=f"override the map's {name} file")


def run(args: argparse.Namespace) -> pd.DataFrame:
    """`softloc localize`: check the names, load the map, localize, print (summary or JSON Lines),
    write the CSV (and the pairs file) atomically."""
    paths = MapPaths.of(args.method, args.seed, args.testset, args.root)
    overrides = {name: Path(getattr(args, name)) for name in ("model", "pca", "features", "reference", "store")
                 if getattr(args, name)}
    if not overrides:
        check_known(args.method, args.testset, args.seed, args.root)
    paths = MapPaths(**{**paths.__dict__, **overrides})
    the_map = load_map(paths, args.method, args.device, args.batch_size)
    images = find_images(args.images)
    log.info("localizing %d images against %d references (%s, seed %d, %s)", len(images), len(the_map.reference),
             args.method, args.seed, args.testset)
    result = localize(the_map, images, args.top_k, args.batch_size)
    flags = ambiguity(result, args.ambiguous_ratio, args.ambiguous_spread_m)
    if args.json:
        print("\n".join(json.dumps(record, ensure_ascii=False) for record in query_records(result, flags)))
    else:
        print("\n".join(summary_lines(result, flags, args.ambiguous_ratio, args.ambiguous_spread_m)))
    with atomic_path(args.out) as tmp:
        result.to_csv(tmp, index=False, float_format="%.10g")   # UTM to the millimetre
    notes = [f"wrote {args.out} ({len(images)} queries x top {result['rank'].max()}; "
             f"{int(flags['ambiguous'].sum())} ambiguous)"]
    if args.pairs:
        notes.append(f"wrote {args.pairs} ({write_pairs(result, query_names(images, args.images), args.pairs)} "
                     f"pairs, hloc pairs-from-retrieval format)")
    print("\n".join(notes), file=sys.stderr if args.json else sys.stdout)
    return result
