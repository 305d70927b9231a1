"""The six lighting/weather conditions and a traversal's look: one condition plus the per-run
variations (exposure, parked cars, window lights), the lit ground atlas, the camera's exposure
for the condition's light and the noise banks."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from softloc.synthetic import town
from softloc.synthetic.camera import Camera
from softloc.synthetic.ground import ground_atlas
from softloc.synthetic.sensor import Exposure, auto_exposure, white_luminance

# Appearance of each condition. Colours RGB 0-255; light factors multiply surface colours; `lux`
# is the illuminance that a light factor of 1 stands for, which sets the camera's exposure
# (softloc.synthetic.sensor) and the scale of the light sources drawn in cd/m² (lights). From
# published tables of daylight: a typical overcast midday 1,000-2,000 lux (overcast, snow and rain
# share that sky; rain's lower factors darken it), a cloudless summer noon 100,000 lux, sunset on a
# clear day 400 lux; a city street at night 30 lux (street lighting 5-30 lux). Street lamps and
# the car's headlights, where on, add their light in lux (lights). Photocells switch street lamps
# on below some 35-70 lux of daylight, so they are on at night only (rain and dusk have hundreds).
CONDITIONS: dict[str, dict] = {
    "overcast": dict(sky_top=(175, 180, 188), sky_horizon=(215, 218, 222), fog=(200, 203, 208), fog_m=140.0,
                     ambient=0.85, sun=0.12, tint=(1.0, 1.0, 1.02), contrast=0.95, lux=1500.0, lit=0.0,
                     lamps=False, headlights=False, snow=False, rain=False, ground_sun_shadow=0.0),
    "sunny": dict(sky_top=(60, 120, 215), sky_horizon=(170, 205, 240), fog=(185, 210, 235), fog_m=220.0,
                  ambient=0.5, sun=0.75, tint=(1.06, 1.02, 0.95), contrast=1.15, lux=100_000.0, lit=0.0,
                  lamps=False, headlights=False, snow=False, rain=False, ground_sun_shadow=0.55),
    "night": dict(sky_top=(4, 5, 10), sky_horizon=(28, 22, 22), fog=(14, 12, 14), fog_m=45.0,
                  ambient=0.07, sun=0.0, tint=(1.0, 0.95, 0.85), contrast=1.0, lux=30.0, lit=0.45,
                  lamps=True, headlights=True, snow=False, rain=False, ground_sun_shadow=0.0),
    "snow": dict(sky_top=(200, 203, 208), sky_horizon=(225, 227, 230), fog=(222, 224, 228), fog_m=70.0,
                 ambient=0.9, sun=0.05, tint=(0.98, 1.0, 1.04), contrast=0.65, lux=1500.0, lit=0.05,
                 lamps=False, headlights=False, snow=True, rain=False, ground_sun_shadow=0.0),
    "rain": dict(sky_top=(95, 100, 108), sky_horizon=(135, 140, 145), fog=(120, 125, 130), fog_m=60.0,
                 ambient=0.55, sun=0.05, tint=(0.95, 0.98, 1.04), contrast=0.85, lux=1500.0, lit=0.15,
                 lamps=False, headlights=True, snow=False, rain=True, ground_sun_shadow=0.0),
    "dusk": dict(sky_top=(70, 60, 110), sky_horizon=(235, 140, 70), fog=(150, 100, 80), fog_m=90.0,
                 ambient=0.38, sun=0.25, tint=(1.15, 0.85, 0.65), contrast=1.0, lux=400.0, lit=0.3,
                 lamps=False, headlights=True, snow=False, rain=False, ground_sun_shadow=0.0),
}
CONDITION_NAMES = tuple(CONDITIONS)

CAR_COLOURS = np.array([(180, 20, 25), (20, 40, 120), (200, 200, 205), (25, 25, 28), (120, 125, 130),
                        (230, 230, 225), (30, 90, 50), (210, 160, 30), (90, 40, 30), (60, 110, 170)], np.float32)


@dataclass
class Look:
    """One traversal's appearance: its condition plus per-run variations, ground atlas and noise banks."""

    condition: str
    params: dict
    gain: np.ndarray                # (3,) per-channel tint * exposure * contrast
    offset: float                   # contrast offset
    sky: np.ndarray                 # (H, 3) float32 sky colour per row
    atlas: np.ndarray               # (T * TILE_PX**2 * 3,) uint16 lit ground colour per texel, RGB
    atlas_scale: float              # atlas value * atlas_scale = colour
    noise: np.ndarray               # (K, H, W) float32 standard normal draws: the sensor's noise bank
    overlay: np.ndarray | None      # (K, H, W) float32 rain streaks / snow flakes (1 where one is), or None
    window_salt: int
    cars: dict                      # this run's parked cars: x, y, heading, colour (N, 3)
    exposure: Exposure              # the camera's shutter and gain for this condition's light
    emission: float                 # white units per cd/m² of a light source (255 = white under `lux`)
    per_channel: dict = field(default_factory=dict)   # channel-map name -> sky, gain, fog maps
    weather: dict = field(default_factory=dict)       # (draw, motion) -> the overlay blurred by that motion


def make_look(camera: Camera, scenery: town.Scenery, condition: str, rng: np.random.Generator) -> Look:
    """A traversal's look: condition parameters, slight exposure change, lit ground, noise banks."""
    p = CONDITIONS[condition]
    h, w = camera.height, camera.width
    t = np.clip((np.arange(h) / max(camera.cy, 1.0)), 0, 1)[:, None]
    sky = (np.array(p["sky_top"], np.float32) * (1 - t) + np.array(p["sky_horizon"], np.float32) * t)
    noise = rng.normal(0, 1.0, size=(4, h, w)).astype(np.float32)
    overlay = None
    if p["rain"] or p["snow"]:
        overlay = np.zeros((4, h, w), bool)
        for layer in overlay:
            n = int(h * w * (0.004 if p["rain"] else 0.006))
            ys, xs = rng.integers(0, h, n), rng.integers(0, w, n)
            for d in range(max(2, h // 25) if p["rain"] else 1):
                layer[np.clip(ys + d, 0, h - 1), np.clip(xs + d // 3, 0, w - 1)] = True
    jitter = float(rng.uniform(0.9, 1.1))
    gain = np.array(p["tint"], np.float32) * jitter * p["contrast"]
    atlas, scale = ground_atlas(scenery.tiles, p)
    white = white_luminance(p["lux"])
    salt = int(rng.integers(1 << 20))
    bays = scenery.parking
    parked = np.flatnonzero(rng.random(len(bays["x"])) < 0.45)
    cars = {"x": bays["x"][parked], "y": bays["y"][parked], "heading": bays["heading"][parked],
            "colour": CAR_COLOURS[rng.integers(len(CAR_COLOURS), size=len(parked))]}
    return Look(condition, p, gain, 128.0 * (1 - p["contrast"]), sky.astype(np.float32), atlas, scale,
                noise, None if overlay is None else overlay.astype(np.float32), salt, cars,
                auto_exposure(white), 255.0 / white)
