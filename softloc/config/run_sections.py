"""The params sections of the model side: network, training, PCA, extraction, evaluation, report
and Figure 3."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from softloc.config.aggregator_sections import AggregatorName
from softloc.config.base import Name, NonNegativeFloat, NonNegativeInt, PositiveFloat, PositiveInt, Section


class Model(Section):
    backbone: Literal["small", "vgg16", "efficientnet_lite0"]
    init: Literal["random", "imagenet"] = "random"
    weights: str = ""
    aggregator: AggregatorName = "netvlad"   # the global pooling (softloc.models.aggregators); its params: `aggregators`
    clusters: PositiveInt                    # NetVLAD's K
    image_max_side: Annotated[int, Field(ge=16)]
    small_channels: Annotated[list[PositiveInt], Field(min_length=1)] = [16, 32, 64, 128]
    lite_last_block: Annotated[int, Field(ge=0, le=15)] = 10  # efficientnet_lite0 cut after this block (10: stride 16, 112 channels)
    train_from_block: NonNegativeInt | None = None  # trunk trained from this Lite0 block / VGG-16 conv stage; None: whole


class Mining(Section):
    cache_size: PositiveInt
    refresh_steps: PositiveInt
    hard_fraction: Annotated[float, Field(ge=0, le=1)]


class Train(Section):
    device: Literal["auto", "cpu", "cuda"]
    amp: Literal["bf16", "fp16", "off"] = "bf16"
    compile: bool = False
    nproc_per_node: PositiveInt = 1
    close_from: Literal["any_traversal", "other_traversals"]
    lr: PositiveFloat
    lr_decay: Annotated[float, Field(gt=0, le=1)]
    epochs: PositiveInt
    max_steps_per_epoch: PositiveInt | None   # None: no cap, every anchor of the epoch
    batch_tuples: PositiveInt
    n_close: PositiveInt
    n_far: PositiveInt
    max_yaw_deg: Annotated[float, Field(ge=0, le=180)]
    init_images: PositiveInt
    mining: Mining
    val_threshold_m: PositiveFloat
    val_max_queries: PositiveInt
    val_every_steps: NonNegativeInt
    patience: PositiveInt
    checkpoint_every_steps: NonNegativeInt
    eval_batch_size: PositiveInt


class Pca(Section):
    dim: PositiveInt
    fit_images: Annotated[int, Field(ge=2)]
    seed: NonNegativeInt
    eps: NonNegativeFloat


class Extract(Section):
    batch_size: PositiveInt
    device: Annotated[str, Field(pattern=r"^(auto|cpu|cuda(:\d+)?)$")]


class Evaluate(Section):
    thresholds_m: Annotated[list[PositiveFloat], Field(min_length=1)]
    headline_m: PositiveFloat
    curve_max_m: PositiveFloat
    top_k: PositiveInt
    recall_at: Annotated[list[PositiveInt], Field(min_length=1)]
    recall_radius_m: PositiveFloat


class Bootstrap(Section):
    """report.bootstrap: the block bootstrap of Table 1's intervals (softloc.stats)."""

    resamples: Annotated[int, Field(ge=100)]
    confidence: Annotated[float, Field(gt=0, lt=1)]
    seed: NonNegativeInt
    block_m: PositiveFloat | None   # None: Politis-White's choice from the data


class Report(Section):
    table1: Annotated[list[Name], Field(min_length=1)]   # test sets of Table 1 (keys of `testsets`)
    variants: list[Name]
    influence_method: Name
    reference: Name                 # a key of `methods`: Table 1's difference column (this minus each row)
    baseline: Name                  # a key of `methods` (the untrained network): the gain column
    ranking: Annotated[list[Name], Field(min_length=2)]  # the paper's order, best first, the last untrained (softloc.report.verdict)
    bootstrap: Bootstrap


class Gradcam(Section):
    """Figure 3 (pipeline/gradcam.py): which queries, which trained seed, which method is ours."""

    testset: Name
    condition: Annotated[str, Field(min_length=1)]
    queries: PositiveInt
    seed: NonNegativeInt
    method: Name
    threshold_m: PositiveFloat
