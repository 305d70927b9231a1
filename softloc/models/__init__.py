"""The localization network: a convolutional backbone followed by an aggregator (NetVLAD by default;
GeM, MixVPR, SALAD, BoQ: softloc.models.aggregators).

    build_network(model: config.Model, seed, aggregators=None) -> LocalizationNet
        forward(x) -> (B, dim) L2-normalised
    net.preprocess(uint8 (B, H, W, 3)) -> float (B, 3, H, W) normalised as its backbone expects
    preprocess(uint8 (B, H, W, 3)) -> the same with ImageNet's normalisation (small, vgg16)
    save_model(path, net, model, seed, info) / load_model(path, device) -> (net, info)
"""

from softloc.models.backbones import build_backbone, load_vgg16_weights, vgg16_features
from softloc.models.checkpoint import load_model, model_record, save_model
from softloc.models.aggregators import NetVLAD
from softloc.models.network import LocalizationNet, build_network, preprocess

__all__ = [
    "LocalizationNet",
    "NetVLAD",
    "build_backbone",
    "build_network",
    "load_model",
    "load_vgg16_weights",
    "model_record",
    "preprocess",
    "save_model",
    "vgg16_features",
]
