"""Training knobs for fine-tuning a pretrained trunk: no step cap (train.max_steps_per_epoch null)
and a frozen lower trunk (model.train_from_block)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from softloc.training import Trainer
from test_train import MODEL, TRIPLET, tiny_world, train_with


@pytest.fixture(scope="module")
def world():
    return tiny_world()


def test_null_step_cap_runs_every_anchor_of_each_epoch(world, tmp_path) -> None:
    """null: each epoch is every anchor once, in whole steps; a number still caps it."""
    uncapped = Trainer("triplet", TRIPLET, MODEL, train_with(max_steps_per_epoch=None), 0, world, tmp_path / "r", tmp_path / "s")
    anchors = len(world.anchors)
    plan = uncapped.feed.plan(2, None)
    assert plan.steps == [anchors // 2, anchors // 2] and len(plan.schedule) == 2 * (anchors // 2) * 2
    assert uncapped.feed.plan(2, 5).steps == [5, 5]
    assert sorted(plan.orders[0]) == sorted(plan.schedule[: anchors // 2 * 2])  # every anchor once in epoch 1
    with pytest.raises(ValidationError, match="max_steps_per_epoch"):
        train_with(max_steps_per_epoch=0)
