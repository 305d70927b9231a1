"""Reading params.yaml, the single home of every pipeline knob, checked against its schema."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from softloc.config import Params, ParamsError, validate_params


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a key given twice in one mapping is an error (PyYAML
    would keep the last value silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} given twice in one mapping", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def read_params_yaml(path: str | os.PathLike = "params.yaml") -> dict[str, Any]:
    """params.yaml as PyYAML reads it (a key given twice is an error), not yet checked."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: params file not found (run from the project root)")
    with open(path) as f:
        try:
            return yaml.load(f, Loader=_UniqueKeyLoader)
        except yaml.YAMLError as err:
            raise ParamsError("", None, f"not valid YAML: {' '.join(str(err).split())}", str(path)) from None


def load_params(path: str | os.PathLike = "params.yaml") -> Params:
    """Load params.yaml checked against softloc.config's schema, as its validated model.

    Every stage calls this before doing any work, so an unknown key, a wrong type, a value out of
    range or a broken relation between keys stops it at once with one line naming the key
    (ParamsError). A missing file is an error naming it.
    """
    return validate_params(read_params_yaml(path), source=str(path))

