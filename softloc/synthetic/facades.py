"""The town's walls in a frame: one ray per image column finds the nearest facing wall, whose
procedural facade (window grid, shop fronts and signs, doors, cornice; lit windows, shop fronts
and signs, and street-lamp light where the condition has them) is drawn between its top and
bottom rows."""

from __future__ import annotations

import numpy as np

from softloc.synthetic import lights, town
from softloc.synthetic.camera import CAMERA_HEIGHT_M, Camera, View
from softloc.synthetic.looks import Look

CULL_M = 170.0
MAX_FLOORS = 16             # floors whose windows may be lit (the tallest landmark has about 10)

# Material numbers of wall pixels.
M_BASE, M_WINDOW, M_LIT, M_SIGN, M_CORNICE, M_DOOR, M_SHOP_LIT, M_SIGN_LIT = range(8)


class Facades:
    """Raycasts and draws the walls of one town for one camera."""

    def __init__(self, camera: Camera, scenery: town.Scenery):
        self.camera, self.scenery = camera, scenery
        w = scenery.walls
        self.wall_len = np.hypot(w["x1"] - w["x0"], w["y1"] - w["y0"])
        self.shop_lit = lights.lit_shops(w["seed"]) & (w["shop"] > 0)
        sp = scenery.sprites
        lamp = sp["kind"] == 1.0
        self.lamps_xy = np.stack([sp["x"][lamp], sp["y"][lamp]], axis=1)
        self.lamp_colours = lights.lamp_colours(sp["seed"][lamp])
    def cast(self, view: View) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Nearest wall per column: perpendicular depth z (inf if none), wall index, facade u (m)."""
        x, y, fx, fy, rx, ry = view
        width = self.camera.width
        w = self.scenery.walls
        dx0, dy0 = w["x0"] - x, w["y0"] - y
        dx1, dy1 = w["x1"] - x, w["y1"] - y
        near = ((np.abs(dx0) < CULL_M) & (np.abs(dy0) < CULL_M)
                & ((dx0 * fx + dy0 * fy > 0) | (dx1 * fx + dy1 * fy > 0))
                & (w["nx"] * dx0 + w["ny"] * dy0 < 0))   # wall faces the camera
        idx = np.flatnonzero(near)
        z = np.full(width, np.inf)
        wall = np.zeros(width, np.int64)
        u = np.zeros(width)
        if idx.size == 0:
            return z, wall, u
        # Ray direction per column (not normalised): fwd + k * right; t is then forward depth.
        dxr = fx + self.camera.k * rx
        dyr = fy + self.camera.k * ry
        ex, ey = (dx1 - dx0)[idx], (dy1 - dy0)[idx]
        px, py = dx0[idx], dy0[idx]
        denom = dxr[:, None] * ey[None, :] - dyr[:, None] * ex[None, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            inv = 1.0 / denom
            t = (px * ey - py * ex)[None, :] * inv
            s = (px[None, :] * dyr[:, None] - py[None, :] * dxr[:, None]) * inv
        t = np.where((s >= 0) & (s <= 1) & (t > 0.3), t, np.inf)
        best = np.argmin(t, axis=1)
        cols = np.arange(width)
        z = t[cols, best]
        wall = idx[best]
        u = s[cols, best] * self.wall_len[wall] + w["u0"][wall]
        return z, wall, u

    def draw(self, img: np.ndarray, inv_depth: np.ndarray, z: np.ndarray, wall: np.ndarray, u: np.ndarray,
             view: View, look: Look, maps: dict) -> None:
        """Procedural facades: window grid, shop fronts and signs, doors, cornice; lit windows, shop
        fronts and signs where the condition has lights; their inverse depth into `inv_depth`."""
        cam = self.camera
        hit = np.isfinite(z)
        if not hit.any():
            return
        w = self.scenery.walls
        zc = np.where(hit, z, 1.0)
        height = np.where(hit, w["height"][wall], -1.0)
        top = (cam.cy - cam.f * (height - CAMERA_HEIGHT_M) / zc).astype(np.float32)
        bottom = (cam.cy + cam.f * CAMERA_HEIGHT_M / zc).astype(np.float32)
        r0 = int(max(0, np.floor(top[hit].min())))
        r1 = int(min(cam.height, np.ceil(bottom[hit].max()) + 1))
        rows = cam.rows[r0:r1]
        mask = (rows >= top) & (rows <= bottom)
        v = CAMERA_HEIGHT_M + (cam.cy - rows) * (zc / cam.f).astype(np.float32)        # metres above ground
        material = self._materials(u, v, wall, height, look)
        table = self._colours(zc, wall, view, look)
        colour = table.take((material * cam.width + cam.cols) * 3 + maps["ch"][r0:r1])
        np.copyto(img[r0:r1], colour, where=mask)
        np.copyto(inv_depth[r0:r1], (1.0 / zc).astype(np.float32)[None, :], where=mask)

    def _materials(self, u: np.ndarray, v: np.ndarray, wall: np.ndarray, height: np.ndarray, look: Look) -> np.ndarray:
        """Material number of every wall pixel (rows of `v`, metres above ground, by column)."""
        p, w = look.params, self.scenery.walls
        fh = w["fh"][wall].astype(np.float32)
        sx = w["sx"][wall]
        fu = (np.mod(u, sx) / sx).astype(np.float32)
        floor = np.floor(v / fh)
        fv = v / fh - floor
        half_h = (w["hf"][wall] / 2).astype(np.float32)
        window = (np.abs(fu - 0.5) < w["wf"][wall] / 2) & (np.abs(fv - 0.55) < half_h) & (floor >= 1)
        shop = w["shop"][wall] > 0
        shop_window = (shop & (np.abs(fu - 0.5) < 0.44)) & (v < 2.6) & (v > 0.4)
        glass = window | shop_window
        material = np.where(glass, M_WINDOW, M_BASE).astype(np.int32)
        sign = shop & (v > 2.85) & (v < 3.55)
        if p["lit"]:
            # Lit or not per window: a (floor, column) table, then looked up per pixel.
            floors = np.arange(MAX_FLOORS, dtype=np.int64)[:, None] * 668265263
            window_seed = floors + (np.floor(u / sx).astype(np.int64) + w["seed"][wall].astype(np.int64))[None, :]
            lit = lights.lit_windows(window_seed, look.window_salt, p["lit"]).reshape(-1)
            cols = np.arange(len(u))
            lit_px = lit.take(np.clip(floor, 0, MAX_FLOORS - 1).astype(np.int64) * len(u) + cols)
            material = np.where(window & lit_px, M_LIT, material)
            shop_lit = self.shop_lit[wall]
            material = np.where(shop_window & shop_lit, M_SHOP_LIT, material)
            sign_material = np.where(shop_lit, M_SIGN_LIT, M_SIGN)
        else:
            sign_material = np.full(wall.shape, M_SIGN)
        material = np.where(sign, sign_material, material)
        door = ~shop & (np.abs(np.mod(u, 3 * sx) - 1.5 * sx) < 0.55)
        material = np.where(door & (v < 2.2), M_DOOR, material)
        return np.where(v > (height - (0.9 if p["snow"] else 0.45)).astype(np.float32), M_CORNICE, material)

    def _colours(self, zc: np.ndarray, wall: np.ndarray, view: View, look: Look) -> np.ndarray:
        """Per-column colour of each material, shaded by the wall's facing, the headlights and the
        street lamps and fogged by distance; light sources in cd/m² (lights): a flat (M * W * 3)
        float32 table."""
        p, w = look.params, self.scenery.walls
        nx, ny = w["nx"][wall], w["ny"][wall]
        sun = (np.sin(self.scenery.sun_azimuth), np.cos(self.scenery.sun_azimuth))
        shade = p["ambient"] * (0.85 + 0.15 * np.abs(nx)) + p["sun"] * np.maximum(0.0, nx * sun[0] + ny * sun[1])
        shade = np.repeat(shade[:, None], 3, axis=1)
        if p["headlights"]:
            shade = shade + np.outer(np.exp(-zc / 10.0), lights.HALOGEN * (lights.HEADLIGHT_SIDE_LUX / p["lux"]))
        if p["lamps"]:
            shade = shade + self._lamp_light(zc, view, nx, ny) / p["lux"]
        fog = np.exp(-zc / p["fog_m"])[:, None]
        fogc = np.array(p["fog"], np.float32)
        base = np.stack([w["r"][wall], w["g"][wall], w["b"][wall]], 1)
        pane = np.stack([w["wr"][wall], w["wg"][wall], w["wb"][wall]], 1)
        signc = np.stack([w["sr"][wall], w["sg"][wall], w["sb"][wall]], 1)
        cornice = np.full_like(base, 235.0) if p["snow"] else base * 0.6
        emit = look.emission
        table = np.stack([base * shade,
                          pane * shade + (0 if p["lit"] else 25 * p["sun"]),
                          np.broadcast_to(lights.INTERIOR * (lights.WINDOW_LUMINANCE * emit), base.shape),
                          signc * shade,
                          cornice * shade,
                          base * 0.35 * shade,
                          np.broadcast_to(lights.SHOP * (lights.SHOP_LUMINANCE * emit), base.shape),
                          signc * (lights.SIGN_LUMINANCE * emit / 255.0)])                 # (M, W, 3)
        return (table * fog[None] + fogc * (1 - fog[None])).astype(np.float32).reshape(-1)

    def _lamp_light(self, zc: np.ndarray, view: View, nx: np.ndarray, ny: np.ndarray) -> np.ndarray:
        """(W, 3) coloured lamp illuminance (lux) on each column's wall point."""
        x, y, fx, fy, rx, ry = view
        near = np.hypot(self.lamps_xy[:, 0] - x, self.lamps_xy[:, 1] - y) < lights.LAMP_REACH_M
        px = x + zc * (fx + self.camera.k * rx)
        py = y + zc * (fy + self.camera.k * ry)
        return lights.facade_lamp_lux(px, py, nx, ny, self.lamps_xy[near], self.lamp_colours[near])
