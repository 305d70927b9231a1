"""params.yaml is kept in the form DVC writes back: `dvc exp run -S key=value` rewrites the file
with DVC's own writer (dvc.utils.hydra.apply_overrides: ruamel round trip, every list replaced).
Applied here to a copy, one changed value must be a one-line diff, a no-op rewrite must leave the
file byte-identical, and no comment may be lost."""

from __future__ import annotations

import difflib
import shutil
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml
from dvc.utils.hydra import apply_overrides

ROOT = Path(__file__).resolve().parents[1]
PARAMS = ROOT / "params.yaml"


def leaves(node: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted key, value) of every scalar under a mapping (lists are values, not descended)."""
    for key, value in node.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from leaves(value, dotted + ".")
        else:
            yield dotted, value


def changed(value: Any) -> str:
    """A hydra override value different from `value`, of the same kind."""
    if isinstance(value, bool):
        return str(not value).lower()
    if isinstance(value, (int, float)):
        return repr(value + 1)
    if value is None:
        return "1"
    if isinstance(value, list):
        return "[" + ",".join(map(str, value[:1] * 2)) + "]" if value else "[1]"
    return "other_value"


def rewritten(tmp_path: Path, override: str) -> list[str]:
    """The diff lines (+/-) of params.yaml after DVC applies `override` to a copy."""
    copy = tmp_path / "params.yaml"
    shutil.copyfile(PARAMS, copy)
    apply_overrides(str(copy), [override])
    before, after = PARAMS.read_text().splitlines(), copy.read_text().splitlines()
    return [line for line in difflib.unified_diff(before, after, lineterm="", n=0)
            if line[:1] in "+-" and not line.startswith(("+++", "---"))]


def comments(text: str) -> list[str]:
    return [line[line.index("#"):].strip() for line in text.splitlines() if "#" in line]


def test_a_noop_rewrite_leaves_params_yaml_byte_identical(tmp_path):
    seeds = yaml.safe_load(PARAMS.read_text())["seeds"]
    assert rewritten(tmp_path, f"seeds=[{','.join(map(str, seeds))}]") == []


SCALARS = [(k, v) for k, v in leaves(yaml.safe_load(PARAMS.read_text())) if not isinstance(v, list)]
# every scalar key (about 250, 0.2 s each): one in ten in the fast suite, the rest marked slow
CASES = [pytest.param(k, v, id=k, marks=() if i % 10 == 0 else pytest.mark.slow) for i, (k, v) in enumerate(SCALARS)]


@pytest.mark.parametrize("key,value", CASES)
def test_one_value_set_is_a_one_line_diff(tmp_path, key, value):
    diff = rewritten(tmp_path, f"{key}={changed(value)}")
    assert len(diff) == 2 and diff[0].startswith("-") and diff[1].startswith("+"), "\n".join(diff)
    assert key.rsplit(".", 1)[-1] in diff[1]


def test_every_comment_survives_a_rewrite(tmp_path):
    rewritten(tmp_path, "train.lr=0.001")
    assert comments((tmp_path / "params.yaml").read_text()) == comments(PARAMS.read_text())
