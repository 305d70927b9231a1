"""Thin pipeline entry points: `python -m pipeline.<stage>`, and what they all share."""

from __future__ import annotations

import argparse
import logging
from typing import Any

from softloc.params import load_params

LOG_FORMAT = "%(asctime)s %(name)s %(levelname)s %(message)s"


def setup_logging() -> None:
    """One log format for every stage (timestamps show where the time of a `dvc repro` goes)."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)


def method_stage(doc: str) -> tuple[str, dict[str, Any]]:
    """Entry of a per-method stage (`python -m pipeline.<stage> <method>`): the method and params.yaml.

    An unknown method is an error naming the methods params.yaml has.
    """
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("method", help="a key of params.yaml `methods`")
    method = parser.parse_args().method
    setup_logging()
    params = load_params()
    methods = params.get("methods") or {}
    if method not in methods:
        raise SystemExit(f"unknown method {method!r}; params.yaml methods: {sorted(methods)}")
    return method, params
