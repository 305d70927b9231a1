"""The town's light sources in physical units: street lamps (sodium or LED, a fixed property of each
lamp), lit windows, lit shop fronts and illuminated signs, and the light lamps throw on facades.

Which lamp is sodium, which shop front is lit and which windows are lit every night come from the
town's seeds, so every night traversal sees the same fixed lights; only a share of the windows
(`VARYING_WINDOW_SHARE`) is drawn anew per traversal. Numbers and where they come from:
- street lighting gives 5-30 lux on the road (lighting makers' tables, e.g. Schréder's); the
  brightest spot, under a lamp, gets the top of that range, LAMP_POOL_LUX;
- lamps 6 m high (the sprites' poles); a downward luminaire with intensity I0 cos(angle from
  nadir), I0 = LAMP_POOL_LUX * height², no light above the horizontal (cut-off luminaire);
- the car's halogen low beams (3200 K): 40 lux on the road just ahead, 15 lux on what is beside
  the car (assumptions of the order low-beam patterns give);
- luminances (assumptions, orders of magnitude): a luminaire's bowl 2e4 cd/m², a lit window
  30 cd/m² (a 200-500 lux interior seen through glass and curtains), a lit shop front 150 cd/m²,
  an illuminated sign 500 cd/m² (published limits for illuminated signs in towns are several
  hundred cd/m²);
- colours: black-body colours at the sources' correlated colour temperatures (high-pressure
  sodium 2000 K, LED 4000 K, interiors 2700 K, shops 3500 K, halogen headlamps 3200 K) in linear sRGB, white-balanced to
  daylight (6504 K) and scaled to unit luminance (CIE 1931 via Wyman-Sloan-Shirley's fit);
- most of Oxford's street lamps were still sodium in 2014-15 (LED replacement came later):
  SODIUM_SHARE 0.7, an assumption; half the lit windows and 70 % of shop fronts are lit every
  night (assumptions).
"""

from __future__ import annotations

import numpy as np

LAMP_POOL_LUX = 30.0
LAMP_HEIGHT_M = 6.0
LAMP_INTENSITY_CD = LAMP_POOL_LUX * LAMP_HEIGHT_M ** 2
FACADE_SAMPLE_HEIGHT_M = 3.0     # facades get the lamp light of this height on every row
LAMP_REACH_M = 100.0             # lamps farther than this from the camera light nothing drawn
LAMP_LUMINANCE = 2e4
WINDOW_LUMINANCE = 30.0
SHOP_LUMINANCE = 150.0
SIGN_LUMINANCE = 500.0
LAMP_HEAD_M = (0.5, 0.2)         # luminaire bowl width and height
HEADLIGHT_ROAD_LUX = 40.0        # low beams on the road just ahead (the beam's shape: camera.beam)
HEADLIGHT_SIDE_LUX = 15.0        # on walls and objects beside the car, falling off over 10 m

SODIUM = np.array((2.411, 0.680, 0.019), np.float32)
LED = np.array((1.353, 0.944, 0.516), np.float32)
HALOGEN = np.array((1.610, 0.892, 0.316), np.float32)
INTERIOR = np.array((1.851, 0.829, 0.186), np.float32)
SHOP = np.array((1.497, 0.914, 0.393), np.float32)

SODIUM_SHARE = 0.7
FIXED_WINDOW_SHARE = 0.5
LIT_SHOP_SHARE = 0.7


def unit_hash(seed: np.ndarray, salt: int) -> np.ndarray:
    """A fixed pseudo-random number in [0, 1) per integer seed (and salt)."""
    h = np.atleast_1d(np.asarray(seed)).astype(np.int64).astype(np.uint32)     # arithmetic mod 2^32
    h = h * np.uint32(2654435761) + np.uint32(salt * 40503 & 0xFFFFFFFF)
    h = (h ^ (h >> np.uint32(15))) * np.uint32(2246822519)
    return ((h ^ (h >> np.uint32(13))) & np.uint32(0xFFFF)).astype(np.float32) / np.float32(65536.0)


def is_sodium(seeds: np.ndarray) -> np.ndarray:
    """Whether each lamp (by its seed) is sodium (SODIUM_SHARE of them) rather than LED."""
    return unit_hash(seeds, 1) < SODIUM_SHARE


def lamp_colours(seeds: np.ndarray) -> np.ndarray:
    """(N, 3) light colour of each lamp from its seed: sodium or LED."""
    return np.where(is_sodium(seeds)[:, None], SODIUM, LED).astype(np.float32)


def lit_shops(seeds: np.ndarray) -> np.ndarray:
    """Whether each building's shop front (if it has one) is lit at night, from its seed."""
    return unit_hash(seeds, 2) < LIT_SHOP_SHARE


def lit_windows(window_seed: np.ndarray, salt: int, share: float) -> np.ndarray:
    """Which windows (one integer seed per window) are lit: a `share` of them in all, half of those
    the same in every traversal (from the seed alone), the rest drawn with the traversal's salt."""
    fixed = unit_hash(window_seed, 3)
    varying = unit_hash(window_seed, 4 + salt)
    always = share * FIXED_WINDOW_SHARE
    rest = (share - always) / (1.0 - always)
    return (fixed < always) | ((fixed >= always) & (varying < rest))


def facade_lamp_lux(px: np.ndarray, py: np.ndarray, nx: np.ndarray, ny: np.ndarray,
                    lamps_xy: np.ndarray, colours: np.ndarray) -> np.ndarray:
    """(W, 3) illuminance (lux, coloured) that the lamps throw on facade points (px, py) with
    outward normals (nx, ny), at FACADE_SAMPLE_HEIGHT_M: I0 cos(nadir angle) cos(incidence) / d²."""
    if len(lamps_xy) == 0:
        return np.zeros((len(px), 3), np.float32)
    dx = lamps_xy[None, :, 0] - px[:, None]
    dy = lamps_xy[None, :, 1] - py[:, None]
    facing = np.maximum(dx * nx[:, None] + dy * ny[:, None], 0.0)
    drop = LAMP_HEIGHT_M - FACADE_SAMPLE_HEIGHT_M
    d2 = dx * dx + dy * dy + drop * drop
    lux = LAMP_INTENSITY_CD * drop * facing / (d2 * d2)
    return (lux @ colours).astype(np.float32)


def point_lamp_lux(px: np.ndarray, py: np.ndarray, height_m: float, lamps_xy: np.ndarray,
                   colours: np.ndarray) -> np.ndarray:
    """(N, 3) illuminance (lux, coloured) the lamps throw on points (px, py) `height_m` above the
    ground on surfaces facing each lamp: I0 cos(nadir angle) cos(incidence) / d²."""
    if len(lamps_xy) == 0:
        return np.zeros((len(px), 3), np.float32)
    dx = lamps_xy[None, :, 0] - px[:, None]
    dy = lamps_xy[None, :, 1] - py[:, None]
    drop = LAMP_HEIGHT_M - height_m
    d2 = dx * dx + dy * dy + drop * drop
    lux = LAMP_INTENSITY_CD * drop * np.sqrt(d2 - drop * drop) / (d2 * d2)
    return (lux @ colours).astype(np.float32)
