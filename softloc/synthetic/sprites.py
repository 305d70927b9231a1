"""Trees, lamp posts and a run's parked cars in a frame: boxes and ellipses drawn far to near,
each column hidden behind a nearer wall."""

from __future__ import annotations

import math

import numpy as np

from softloc.synthetic import lights, town
from softloc.synthetic.camera import CAMERA_HEIGHT_M, Camera, View
from softloc.synthetic.looks import Look

SPRITE_FAR_M = 70.0
TREE_CROWN = np.array((60, 95, 45), dtype=np.float32)
TRUNK = np.array((85, 65, 45), dtype=np.float32)
POLE = np.array((70, 72, 75), dtype=np.float32)
CAR_GLASS = np.array((30, 35, 45), np.float32)


class Sprites:
    """Draws the town's trees and lamp posts and a look's parked cars for one camera."""

    def __init__(self, camera: Camera, scenery: town.Scenery):
        self.camera, self.scenery = camera, scenery
        self.lamp_colour = lights.lamp_colours(scenery.sprites["seed"])

    def draw(self, img: np.ndarray, inv_depth: np.ndarray, z: np.ndarray, view: View, look: Look, maps: dict) -> None:
        """Trees, lamp posts (their lamps lit where the condition has them) and this run's parked cars,
        far to near, hidden behind nearer walls; their inverse depth into `inv_depth`."""
        cam, p = self.camera, look.params
        x, y, fx, fy, rx, ry = view
        sp, cars = self.scenery.sprites, look.cars
        xs = np.concatenate([sp["x"], cars["x"]]) - x
        ys = np.concatenate([sp["y"], cars["y"]]) - y
        kinds = np.concatenate([sp["kind"], np.full(len(cars["x"]), 2.0)])
        fwd = xs * fx + ys * fy
        lat = xs * rx + ys * ry
        ok = (fwd > 1.0) & (fwd < SPRITE_FAR_M) & (np.abs(lat) < fwd * 0.7 + 3.0)
        order = np.flatnonzero(ok)[np.argsort(-fwd[ok])]
        if order.size == 0:
            return
        n_static = len(sp["x"])
        fogc = np.array(p["fog"], np.float32)
        zs_all = fwd[order]
        fog_all = np.exp(-zs_all / p["fog_m"])
        col_all = cam.cx + cam.f * lat[order] / zs_all
        crown_c = TREE_CROWN if not p["snow"] else np.array((215, 222, 220), np.float32)
        trunk_c = TRUNK * p["ambient"]
        pole_c = POLE * (p["ambient"] + p["sun"] * 0.3)
        glow = lights.LAMP_LUMINANCE * look.emission
        lit = self._light(xs[order] + x, ys[order] + y, zs_all, look)
        head_w, head_h = lights.LAMP_HEAD_M
        ch = maps["ch"]
        canvas = (img, inv_depth)
        for n, (i, zs, fog, col) in enumerate(zip(order.tolist(), zs_all.tolist(), fog_all.tolist(), col_all.tolist())):
            scale = cam.f / zs
            ground_row = cam.cy + scale * CAMERA_HEIGHT_M
            mist = fogc * (1 - fog)
            light = lit[n] if lit is not None else p["ambient"] + p["sun"] * 0.5
            if kinds[i] == 0:
                size = sp["size"][i] * scale
                self._box(canvas, ch, z, zs, col, 0.18 * size, ground_row - 3.0 * size, ground_row,
                          trunk_c * fog + mist)
                self._ellipse(canvas, ch, z, zs, col, ground_row - 4.6 * size, 2.2 * size, 2.0 * size,
                              crown_c * (light * fog) + mist)
            elif kinds[i] == 1:
                self._box(canvas, ch, z, zs, col, max(0.5, 0.09 * scale), ground_row - 6.0 * scale, ground_row,
                          pole_c * fog + mist)
                if p["lamps"]:
                    self._ellipse(canvas, ch, z, zs, col, ground_row - 6.0 * scale, 0.5 * head_w * scale,
                                  0.5 * head_h * scale, glow * self.lamp_colour[i], keep_energy=True)
            else:
                c = i - n_static
                along = abs(math.sin(cars["heading"][c]) * xs[i] + math.cos(cars["heading"][c]) * ys[i])
                across = math.sqrt(max(xs[i] ** 2 + ys[i] ** 2 - along ** 2, 0.0))
                dist = max(math.hypot(xs[i], ys[i]), 1e-6)
                half = 0.5 * scale * (1.8 * along + 4.3 * across) / dist   # car seen from behind .. side
                body = cars["colour"][c]
                self._box(canvas, ch, z, zs, col, half, ground_row - 0.3 * scale, ground_row, body * 0.15 * fog + mist)
                self._box(canvas, ch, z, zs, col, half, ground_row - 1.0 * scale, ground_row - 0.3 * scale,
                          body * (light * fog) + mist)
                roof = (body * 0.9 if not p["snow"] else np.full(3, 235.0, np.float32)) * (light * fog) + mist
                self._box(canvas, ch, z, zs, col, 0.8 * half, ground_row - 1.5 * scale, ground_row - 1.0 * scale,
                          CAR_GLASS * (light * fog) + mist)
                self._box(canvas, ch, z, zs, col, 0.8 * half, ground_row - 1.55 * scale, ground_row - 1.45 * scale,
                          roof)

    def _light(self, px: np.ndarray, py: np.ndarray, zs: np.ndarray, look: Look) -> np.ndarray | None:
        """(N, 3) light on sprites at (px, py), depth zs, where headlights or lamps add coloured light
        (None where the light is the condition's plain ambient and sun)."""
        p = look.params
        if not (p["headlights"] or p["lamps"]):
            return None
        light = np.full((len(px), 3), p["ambient"] + p["sun"] * 0.5, np.float32)
        if p["headlights"]:
            light += np.outer(np.exp(-zs / 10.0), lights.HALOGEN * (lights.HEADLIGHT_SIDE_LUX / p["lux"]))
        if p["lamps"]:
            sp = self.scenery.sprites
            near = (sp["kind"] == 1.0) & (np.hypot(sp["x"] - px.mean(), sp["y"] - py.mean()) < lights.LAMP_REACH_M)
            lamps = np.stack([sp["x"][near], sp["y"][near]], axis=1)
            light += lights.point_lamp_lux(px, py, 1.0, lamps, self.lamp_colour[near]) / p["lux"]
        return light

    def _box(self, canvas, ch, z, zs, col, half_w, top, bottom, colour) -> None:
        img, inv_depth = canvas
        c0, c1 = max(0, math.floor(col - half_w)), min(self.camera.width, math.ceil(col + half_w) + 1)
        r0, r1 = max(0, math.floor(top)), min(self.camera.height, math.ceil(bottom))
        if c0 >= c1 or r0 >= r1:
            return
        visible = zs < z[c0:c1]
        img[r0:r1, c0:c1][:, visible] = colour.take(ch[r0:r1, c0:c1][:, visible])
        inv_depth[r0:r1, c0:c1][:, visible] = 1.0 / zs

    def _ellipse(self, canvas, ch, z, zs, col, row, rx, ry, colour, keep_energy: bool = False) -> None:
        """An ellipse of `colour` into the canvas (image, inverse depth); with keep_energy, one smaller
        than its pixels is dimmed by the share of them it covers (a light source's energy does not
        grow with the pixels drawn)."""
        img, inv_depth = canvas
        c0, c1 = max(0, math.floor(col - rx)), min(self.camera.width, math.ceil(col + rx) + 1)
        r0, r1 = max(0, math.floor(row - ry)), min(self.camera.height, math.ceil(row + ry) + 1)
        if c0 >= c1 or r0 >= r1:
            return
        cc = (self.camera.col_f[c0:c1] - col) * (1.0 / max(rx, 0.5))
        rr = (self.camera.row_f[r0:r1] - row) * (1.0 / max(ry, 0.5))
        inside = (rr * rr + cc * cc <= 1.0) & (zs < z[c0:c1])
        if keep_energy:
            drawn = (rr * rr + cc * cc <= 1.0).sum()
            colour = colour * min(1.0, math.pi * rx * ry / max(int(drawn), 1))
        img[r0:r1, c0:c1][inside] = colour.take(ch[r0:r1, c0:c1][inside])
        inv_depth[r0:r1, c0:c1][inside] = 1.0 / zs
