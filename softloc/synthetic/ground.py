"""The ground below the horizon: each pixel looked up in the town's ground raster through a
condition's lit atlas (palette, grain, sun shadow, coloured lamp light), with headlights and
distance fog."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from softloc.synthetic import lights, town
from softloc.synthetic.camera import Camera, View

if TYPE_CHECKING:
    from softloc.synthetic.looks import Look

# Ground colours per label (verge, asphalt, pavement, centre line, edge line, kerb).
GROUND = np.array([(95, 120, 70), (88, 88, 92), (150, 148, 140), (225, 225, 215), (225, 225, 215), (175, 172, 165)],
                  dtype=np.float32)
GROUND_SNOW = np.array([(238, 240, 245), (190, 190, 196), (232, 234, 240), (200, 200, 205), (215, 216, 222),
                        (235, 236, 240)], dtype=np.float32)
GROUND_WET = np.array([(60, 80, 50), (38, 38, 42), (85, 85, 85), (140, 140, 135), (140, 140, 135), (100, 100, 100)],
                      dtype=np.float32)


def palette(p: dict) -> np.ndarray:
    """(6, 3) ground colours per label under a condition: dry, wet or snow-covered."""
    return GROUND_SNOW if p["snow"] else GROUND_WET if p["rain"] else GROUND


def ground_atlas(tiles: np.ndarray, p: dict) -> tuple[np.ndarray, float]:
    """Ground colour of every texel under a condition: palette, grain, sun shadow and the light of the
    street lamps (sodium and LED, each its own colour; lights.LAMP_POOL_LUX under a lamp).

    Returns the flat uint16 atlas and the scale that turns its values back into colours."""
    label, shadow = tiles[..., 0], tiles[..., 2]
    yy, xx = np.mgrid[0:town.TILE_PX, 0:town.TILE_PX]
    grain = ((((xx * 73856093) ^ (yy * 19349663)) * 2654435761 >> 12) & 31).astype(np.float32)
    light = np.float32(p["ambient"] + p["sun"] * 0.6) + np.float32(0.12 / 31.0) * (grain[None] - 15.5)
    if p["ground_sun_shadow"]:
        light = light - np.float32(p["ground_sun_shadow"]) * (shadow > 0)
    light = light[..., None]
    if p["lamps"]:
        pool = np.float32(lights.LAMP_POOL_LUX / p["lux"] / 255.0)
        light = (light + pool * tiles[..., 1:2] * lights.SODIUM) + pool * tiles[..., 3:4] * lights.LED
    colour = palette(p)[label] * light
    scale = max(float(colour.max()), 1.0) / 65535.0
    atlas = np.clip(np.round(colour / scale), 0, 65535).astype(np.uint16)
    return atlas.reshape(-1), scale


class Ground:
    """Draws the ground rows of a frame from a look's atlas."""

    def __init__(self, camera: Camera, scenery: town.Scenery):
        self.camera, self.scenery = camera, scenery
        self.tile_index_flat = np.ascontiguousarray(scenery.tile_index.ravel())
        self.tiles_flat = scenery.tiles.reshape(-1)

    def draw(self, img: np.ndarray, view: View, look: Look, maps: dict) -> None:
        """Ground below the horizon from the lit atlas, with the headlights' light and distance fog."""
        cam, p, sc = self.camera, look.params, self.scenery
        x, y, fx, fy, rx, ry = view
        ox, oy = sc.tile_origin
        inv = 1.0 / town.GROUND_RES_M
        # Texel coordinates of each ground pixel (camera-relative part in float32).
        px = ((x - ox) * inv + cam.dither_x + cam.ground_z * ((fx + cam.k32 * rx) * inv)).astype(np.int32)
        py = ((y - oy) * inv + cam.dither_y + cam.ground_z * ((fy + cam.k32 * ry) * inv)).astype(np.int32)
        tile = self.tile_index_flat.take((py >> 8) * sc.tile_index.shape[1] + (px >> 8))
        texel = (tile << 16) | ((py & 255) << 8) | (px & 255)
        colour = look.atlas.take(texel * 3 + maps["ground_ch"]).astype(np.float32)
        colour *= maps["ground_gain"]
        if p["headlights"]:
            label = self.tiles_flat.take(texel * self.scenery.tiles.shape[-1]).astype(np.int64)
            colour += palette(p).reshape(-1).take(label * 3 + maps["ground_ch"]) * maps["headlight"]
        colour += maps["ground_fog"]
        if p["rain"]:  # the wet road mirrors the sky towards the horizon
            colour += maps["sheen"]
        img[cam.ground_row0:] = colour
