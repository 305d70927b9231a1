"""A fast 2.5D column raycaster for the synthetic town, with six lighting/weather conditions.

Facades are vertical wall segments (one ray per image column finds the nearest), the ground is
looked up per pixel below the horizon in the town's ground raster, the sky is a per-row gradient,
trees, lamp posts and parked cars (different in every run) are sprites depth-tested against the
walls. Everything is vectorised with numpy, and the Bayer mosaic is rendered directly (one
colour channel per pixel): a 320x240 frame takes 3-4 ms of one core.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import math

import numpy as np

from softloc.synthetic import town

HFOV_DEG = 66.0          # RobotCar stereo centre (Bumblebee XB3, 1280x960) horizontal field of view
CAMERA_HEIGHT_M = 1.6
FAR_M = 160.0
CULL_M = 170.0
SPRITE_FAR_M = 70.0

# Material numbers of wall pixels.
M_BASE, M_WINDOW, M_LIT, M_SIGN, M_CORNICE, M_DOOR = range(6)

# Appearance of each condition. Colours RGB 0-255; light factors multiply surface colours.
CONDITIONS: dict[str, dict] = {
    "overcast": dict(sky_top=(175, 180, 188), sky_horizon=(215, 218, 222), fog=(200, 203, 208), fog_m=140.0,
                     ambient=0.85, sun=0.12, tint=(1.0, 1.0, 1.02), contrast=0.95, noise=2.0, lit=0.0,
                     lamps=0.0, headlights=0.0, snow=False, rain=False, ground_sun_shadow=0.0),
    "sunny": dict(sky_top=(60, 120, 215), sky_horizon=(170, 205, 240), fog=(185, 210, 235), fog_m=220.0,
                  ambient=0.5, sun=0.75, tint=(1.06, 1.02, 0.95), contrast=1.15, noise=1.5, lit=0.0,
                  lamps=0.0, headlights=0.0, snow=False, rain=False, ground_sun_shadow=0.55),
    "night": dict(sky_top=(4, 5, 10), sky_horizon=(28, 22, 22), fog=(14, 12, 14), fog_m=45.0,
                  ambient=0.07, sun=0.0, tint=(1.0, 0.95, 0.85), contrast=1.0, noise=6.0, lit=0.45,
                  lamps=0.9, headlights=0.8, snow=False, rain=False, ground_sun_shadow=0.0),
    "snow": dict(sky_top=(200, 203, 208), sky_horizon=(225, 227, 230), fog=(222, 224, 228), fog_m=70.0,
                 ambient=0.9, sun=0.05, tint=(0.98, 1.0, 1.04), contrast=0.65, noise=2.5, lit=0.05,
                 lamps=0.0, headlights=0.0, snow=True, rain=False, ground_sun_shadow=0.0),
    "rain": dict(sky_top=(95, 100, 108), sky_horizon=(135, 140, 145), fog=(120, 125, 130), fog_m=60.0,
                 ambient=0.55, sun=0.05, tint=(0.95, 0.98, 1.04), contrast=0.85, noise=3.0, lit=0.15,
                 lamps=0.2, headlights=0.2, snow=False, rain=True, ground_sun_shadow=0.0),
    "dusk": dict(sky_top=(70, 60, 110), sky_horizon=(235, 140, 70), fog=(150, 100, 80), fog_m=90.0,
                 ambient=0.38, sun=0.25, tint=(1.15, 0.85, 0.65), contrast=1.0, noise=3.5, lit=0.3,
                 lamps=0.5, headlights=0.3, snow=False, rain=False, ground_sun_shadow=0.0),
}
CONDITION_NAMES = tuple(CONDITIONS)

# Ground colours per label (verge, asphalt, pavement, centre line, edge line, kerb).
GROUND = np.array([(95, 120, 70), (88, 88, 92), (150, 148, 140), (225, 225, 215), (225, 225, 215), (175, 172, 165)],
                  dtype=np.float32)
GROUND_SNOW = np.array([(238, 240, 245), (190, 190, 196), (232, 234, 240), (200, 200, 205), (215, 216, 222),
                        (235, 236, 240)], dtype=np.float32)
GROUND_WET = np.array([(60, 80, 50), (38, 38, 42), (85, 85, 85), (140, 140, 135), (140, 140, 135), (100, 100, 100)],
                      dtype=np.float32)
TREE_CROWN = np.array((60, 95, 45), dtype=np.float32)
TRUNK = np.array((85, 65, 45), dtype=np.float32)
POLE = np.array((70, 72, 75), dtype=np.float32)
CAR_COLOURS = np.array([(180, 20, 25), (20, 40, 120), (200, 200, 205), (25, 25, 28), (120, 125, 130),
                        (230, 230, 225), (30, 90, 50), (210, 160, 30), (90, 40, 30), (60, 110, 170)], np.float32)
CAR_GLASS = np.array((30, 35, 45), np.float32)


@dataclass
class Look:
    """One traversal's appearance: its condition plus per-run variations, ground atlas and noise banks."""

    condition: str
    params: dict
    gain: np.ndarray                # (3,) per-channel tint * exposure * contrast
    offset: float                   # contrast offset
    sky: np.ndarray                 # (H, 3) float32 sky colour per row
    atlas: np.ndarray               # (T * TILE_PX**2 * 3,) uint8 lit ground colour per texel, RGB
    atlas_scale: float              # atlas value * atlas_scale = colour
    noise: np.ndarray               # (K, H, W) float32 sensor-noise bank
    overlay: np.ndarray | None      # (K, H, W) bool rain streaks / snow flakes, or None
    window_salt: int
    cars: dict                      # this run's parked cars: x, y, heading, colour (N, 3)
    per_channel: dict = field(default_factory=dict)   # channel-map name -> sky, gain, fog maps


class Renderer:
    """Renders RGB frames (or their Bayer mosaics) of one town at a fixed image size."""

    def __init__(self, scenery: town.Scenery, width: int, height: int):
        self.scenery = scenery
        self.width, self.height = width, height
        self.f = (width / 2.0) / np.tan(np.deg2rad(HFOV_DEG) / 2.0)
        self.cx, self.cy = (width - 1) / 2.0, (height - 1) / 2.0
        self.k = ((np.arange(width) - self.cx) / self.f).astype(np.float64)   # tan of column angle
        self.k32 = self.k.astype(np.float32)
        self.rows = np.arange(height, dtype=np.float32)[:, None]
        self.cols = np.arange(width, dtype=np.int32)[None, :]
        self.col_f = np.arange(width, dtype=np.float64)
        self.row_f = np.arange(height, dtype=np.float64)[:, None]
        below = np.arange(height) - self.cy
        self.ground_row0 = int(np.flatnonzero(below > 0.5)[0])
        true_z = self.f * CAMERA_HEIGHT_M / below[self.ground_row0:]
        self.ground_fog_z = true_z.astype(np.float32)[:, None]
        self.ground_z = np.minimum(true_z, FAR_M).astype(np.float32)[:, None]   # lookups stay in the grid
        self.beam = (np.exp(-(self.k32 / 0.3) ** 2)[None, :] * np.exp(-self.ground_z / 14.0)
                     * (self.ground_z > 2.5)).astype(np.float32)
        # A fixed sub-texel dither of the ground lookups turns magnified texel staircases into rough edges.
        dither = np.random.default_rng(0).uniform(-0.5, 0.5, size=(2,) + self.beam.shape).astype(np.float32)
        self.dither_x, self.dither_y = dither
        w = scenery.walls
        self.wall_len = np.hypot(w["x1"] - w["x0"], w["y1"] - w["y0"])
        self.tile_index_flat = np.ascontiguousarray(scenery.tile_index.ravel())
        # Which colour channel each output pixel holds: RobotCar's GBRG mosaic, or one plane of RGB.
        bayer = np.tile(np.array([[1, 2], [0, 1]], np.int32), (height // 2 + 1, width // 2 + 1))[:height, :width]
        self.channel_maps = {"bayer": np.ascontiguousarray(bayer)}
        for c in range(3):
            self.channel_maps[c] = np.full((height, width), c, np.int32)

    def make_look(self, condition: str, rng: np.random.Generator) -> Look:
        """A traversal's look: condition parameters, slight exposure change, lit ground, noise banks."""
        p = CONDITIONS[condition]
        h, w = self.height, self.width
        t = np.clip((np.arange(h) / max(self.cy, 1.0)), 0, 1)[:, None]
        sky = (np.array(p["sky_top"], np.float32) * (1 - t) + np.array(p["sky_horizon"], np.float32) * t)
        noise = rng.normal(0, p["noise"], size=(4, h, w)).astype(np.float32)
        overlay = None
        if p["rain"] or p["snow"]:
            overlay = np.zeros((4, h, w), bool)
            for layer in overlay:
                n = int(h * w * (0.004 if p["rain"] else 0.006))
                ys, xs = rng.integers(0, h, n), rng.integers(0, w, n)
                for d in range(max(2, h // 25) if p["rain"] else 1):
                    layer[np.clip(ys + d, 0, h - 1), np.clip(xs + d // 3, 0, w - 1)] = True
        exposure = float(rng.uniform(0.9, 1.1))
        gain = np.array(p["tint"], np.float32) * exposure * p["contrast"]
        atlas, scale = self._ground_atlas(p)
        salt = int(rng.integers(1 << 20))
        bays = self.scenery.parking
        parked = np.flatnonzero(rng.random(len(bays["x"])) < 0.45)
        cars = {"x": bays["x"][parked], "y": bays["y"][parked], "heading": bays["heading"][parked],
                "colour": CAR_COLOURS[rng.integers(len(CAR_COLOURS), size=len(parked))]}
        return Look(condition, p, gain, 128.0 * (1 - p["contrast"]), sky.astype(np.float32), atlas, scale,
                    noise, overlay, salt, cars)

    def _ground_atlas(self, p: dict) -> tuple[np.ndarray, float]:
        """Ground colour of every texel under a condition: palette, grain, sun shadow, lamp light."""
        tiles = self.scenery.tiles
        label, lamp, shadow = tiles[..., 0], tiles[..., 1], tiles[..., 2]
        palette = GROUND_SNOW if p["snow"] else GROUND_WET if p["rain"] else GROUND
        yy, xx = np.mgrid[0:town.TILE_PX, 0:town.TILE_PX]
        grain = ((((xx * 73856093) ^ (yy * 19349663)) * 2654435761 >> 12) & 31).astype(np.float32)
        light = np.float32(p["ambient"] + p["sun"] * 0.6) + np.float32(0.12 / 31.0) * (grain[None] - 15.5)
        if p["ground_sun_shadow"]:
            light = light - np.float32(p["ground_sun_shadow"]) * (shadow > 0)
        if p["lamps"]:
            light = light + np.float32(p["lamps"] * 1.6 / 255.0) * lamp
        colour = palette[label] * light[..., None]
        scale = max(float(colour.max()), 1.0) / 255.0
        atlas = np.clip(np.round(colour / scale), 0, 255).astype(np.uint8)
        return atlas.reshape(-1), scale

    def render(self, x: float, y: float, yaw: float, look: Look, frame_rng: np.random.Generator) -> np.ndarray:
        """RGB uint8 (H, W, 3) view from (x, y) with heading `yaw` (radians clockwise from north)."""
        draws = self._draws(look, frame_rng)
        return np.stack([self._frame(x, y, yaw, look, c, draws) for c in range(3)], axis=-1)

    def render_bayer(self, x: float, y: float, yaw: float, look: Look, frame_rng: np.random.Generator) -> np.ndarray:
        """The same view as `render`, as RobotCar's GBRG Bayer mosaic (H, W) uint8, at a third of the work."""
        return self._frame(x, y, yaw, look, "bayer", self._draws(look, frame_rng))

    @staticmethod
    def _draws(look: Look, frame_rng: np.random.Generator) -> tuple[int, int]:
        """This frame's picks from the noise and weather banks."""
        return int(frame_rng.integers(len(look.noise))), int(frame_rng.integers(4))

    def _frame(self, x: float, y: float, yaw: float, look: Look, channels, draws: tuple[int, int]) -> np.ndarray:
        """One image plane (H, W) uint8: each pixel the channel its channel map names."""
        maps = self._channel_maps(look, channels)
        fx, fy = np.sin(yaw), np.cos(yaw)
        rx, ry = np.cos(yaw), -np.sin(yaw)
        z, wall, u = self._cast(x, y, fx, fy, rx, ry)
        img = np.empty((self.height, self.width), np.float32)
        img[: self.ground_row0] = maps["sky"]
        self._ground(img, x, y, fx, fy, rx, ry, look, maps)
        self._walls(img, z, wall, u, look, maps)
        self._sprites(img, z, x, y, fx, fy, rx, ry, look, maps)
        img *= maps["gain"]
        img += look.offset
        if look.overlay is not None:
            layer = look.overlay[draws[1]]
            img[layer] = img[layer] * 0.5 + (120.0 if look.params["snow"] else 85.0)
        img += look.noise[draws[0]]
        np.clip(img, 0, 255, out=img)
        return img.astype(np.uint8)

    def _channel_maps(self, look: Look, channels) -> dict[str, np.ndarray]:
        """Per-pixel channel index and the look's colours picked per pixel (cached per look)."""
        if channels not in look.per_channel:
            ch = self.channel_maps[channels]
            g0 = self.ground_row0
            ground_ch = ch[g0:]
            fog_amount = 1 - np.exp(-self.ground_fog_z / look.params["fog_m"])
            look.per_channel[channels] = {
                "ch": ch, "ground_ch": ground_ch,
                "sky": np.take_along_axis(look.sky[:g0], ch[:g0], axis=1),
                "gain": look.gain[ch].astype(np.float32),
                "ground_fog": (np.array(look.params["fog"], np.float32)[ground_ch] * fog_amount).astype(np.float32),
                "sheen": (look.sky[-1][ground_ch] * 0.3 * (1 - np.exp(-self.ground_fog_z / 30.0))).astype(np.float32),
            }
        return look.per_channel[channels]

    def _cast(self, x, y, fx, fy, rx, ry):
        """Nearest wall per column: perpendicular depth z (inf if none), wall index, facade u (m)."""
        w = self.scenery.walls
        dx0, dy0 = w["x0"] - x, w["y0"] - y
        dx1, dy1 = w["x1"] - x, w["y1"] - y
        near = ((np.abs(dx0) < CULL_M) & (np.abs(dy0) < CULL_M)
                & ((dx0 * fx + dy0 * fy > 0) | (dx1 * fx + dy1 * fy > 0))
                & (w["nx"] * dx0 + w["ny"] * dy0 < 0))   # wall faces the camera
        idx = np.flatnonzero(near)
        z = np.full(self.width, np.inf)
        wall = np.zeros(self.width, np.int64)
        u = np.zeros(self.width)
        if idx.size == 0:
            return z, wall, u
        # Ray direction per column (not normalised): fwd + k * right; t is then forward depth.
        dxr = fx + self.k * rx
        dyr = fy + self.k * ry
        ex, ey = (dx1 - dx0)[idx], (dy1 - dy0)[idx]
        px, py = dx0[idx], dy0[idx]
        denom = dxr[:, None] * ey[None, :] - dyr[:, None] * ex[None, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            inv = 1.0 / denom
            t = (px * ey - py * ex)[None, :] * inv
            s = (px[None, :] * dyr[:, None] - py[None, :] * dxr[:, None]) * inv
        t = np.where((s >= 0) & (s <= 1) & (t > 0.3), t, np.inf)
        best = np.argmin(t, axis=1)
        cols = np.arange(self.width)
        z = t[cols, best]
        wall = idx[best]
        u = s[cols, best] * self.wall_len[wall] + w["u0"][wall]
        return z, wall, u

    def _ground(self, img, x, y, fx, fy, rx, ry, look: Look, maps: dict) -> None:
        """Ground below the horizon from the lit atlas, with headlights and distance fog."""
        p = look.params
        sc = self.scenery
        ox, oy = sc.tile_origin
        inv = 1.0 / town.GROUND_RES_M
        # Texel coordinates of each ground pixel (camera-relative part in float32).
        px = ((x - ox) * inv + self.dither_x + self.ground_z * ((fx + self.k32 * rx) * inv)).astype(np.int32)
        py = ((y - oy) * inv + self.dither_y + self.ground_z * ((fy + self.k32 * ry) * inv)).astype(np.int32)
        tile = self.tile_index_flat.take((py >> 8) * sc.tile_index.shape[1] + (px >> 8))
        texel = (tile << 16) | ((py & 255) << 8) | (px & 255)
        colour = look.atlas.take(texel * 3 + maps["ground_ch"]).astype(np.float32)
        gain = look.atlas_scale * np.exp(-self.ground_fog_z / p["fog_m"])
        if p["headlights"]:
            gain = gain * (1.0 + p["headlights"] * 3.0 * self.beam)
        colour *= gain
        colour += maps["ground_fog"]
        if p["rain"]:  # the wet road mirrors the sky towards the horizon
            colour += maps["sheen"]
        img[self.ground_row0:] = colour

    def _walls(self, img, z, wall, u, look: Look, maps: dict) -> None:
        """Procedural facades: window grid, shop fronts and signs, doors, cornice; lit windows at night."""
        p = look.params
        hit = np.isfinite(z)
        if not hit.any():
            return
        w = self.scenery.walls
        zc = np.where(hit, z, 1.0)
        height = np.where(hit, w["height"][wall], -1.0)
        top = (self.cy - self.f * (height - CAMERA_HEIGHT_M) / zc).astype(np.float32)
        bottom = (self.cy + self.f * CAMERA_HEIGHT_M / zc).astype(np.float32)
        r0 = int(max(0, np.floor(top[hit].min())))
        r1 = int(min(self.height, np.ceil(bottom[hit].max()) + 1))
        rows = self.rows[r0:r1]
        mask = (rows >= top) & (rows <= bottom)
        v = CAMERA_HEIGHT_M + (self.cy - rows) * (zc / self.f).astype(np.float32)        # metres above ground
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
        if p["lit"]:
            wi = np.floor(u / sx).astype(np.int64)
            hashed = ((wi + w["seed"][wall].astype(np.int64) + look.window_salt)
                      + floor.astype(np.int64) * 668265263) * 2654435761 >> 16 & 0xFFFF
            material = np.where(glass & (hashed < p["lit"] * 65536), M_LIT, material)
        material = np.where(shop & (v > 2.85) & (v < 3.55), M_SIGN, material)
        door = ~shop & (np.abs(np.mod(u, 3 * sx) - 1.5 * sx) < 0.55)
        material = np.where(door & (v < 2.2), M_DOOR, material)
        material = np.where(v > (height - (0.9 if p["snow"] else 0.45)).astype(np.float32), M_CORNICE, material)
        # Per-column colour of each material, shaded by the wall's facing and fogged by distance.
        nx, ny = w["nx"][wall], w["ny"][wall]
        sun = (np.sin(self.scenery.sun_azimuth), np.cos(self.scenery.sun_azimuth))
        shade = p["ambient"] * (0.85 + 0.15 * np.abs(nx)) + p["sun"] * np.maximum(0.0, nx * sun[0] + ny * sun[1])
        if p["headlights"]:
            shade = shade + p["headlights"] * 0.9 * np.exp(-zc / 10.0)
        fog = np.exp(-zc / p["fog_m"])[:, None]
        fogc = np.array(p["fog"], np.float32)
        base = np.stack([w["r"][wall], w["g"][wall], w["b"][wall]], 1)
        pane = np.stack([w["wr"][wall], w["wg"][wall], w["wb"][wall]], 1)
        signc = np.stack([w["sr"][wall], w["sg"][wall], w["sb"][wall]], 1)
        cornice = np.full_like(base, 235.0) if p["snow"] else base * 0.6
        table = np.stack([base * shade[:, None],
                          pane * shade[:, None] + (0 if p["lit"] else 25 * p["sun"]),
                          np.broadcast_to(np.array([255.0, 210.0, 120.0]) * 0.85, base.shape),   # emissive
                          signc * np.maximum(shade, 0.6 if p["lit"] else 0.0)[:, None],
                          cornice * shade[:, None],
                          base * 0.35 * shade[:, None]])                                        # (M, W, 3)
        table = (table * fog[None] + fogc * (1 - fog[None])).astype(np.float32).reshape(-1)
        colour = table.take((material * self.width + self.cols) * 3 + maps["ch"][r0:r1])
        np.copyto(img[r0:r1], colour, where=mask)

    def _sprites(self, img, z, x, y, fx, fy, rx, ry, look: Look, maps: dict) -> None:
        """Trees, lamp posts and this run's parked cars, far to near, hidden behind nearer walls."""
        p = look.params
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
        col_all = self.cx + self.f * lat[order] / zs_all
        crown_c = TREE_CROWN if not p["snow"] else np.array((215, 222, 220), np.float32)
        trunk_c = TRUNK * p["ambient"]
        pole_c = POLE * (p["ambient"] + p["sun"] * 0.3)
        glow = np.array((255, 225, 160), np.float32) * min(1.0, 0.4 + p["lamps"])
        ch = maps["ch"]
        for i, zs, fog, col in zip(order.tolist(), zs_all.tolist(), fog_all.tolist(), col_all.tolist()):
            scale = self.f / zs
            ground_row = self.cy + scale * CAMERA_HEIGHT_M
            mist = fogc * (1 - fog)
            light = p["ambient"] + p["sun"] * 0.5 + p["headlights"] * 0.8 * math.exp(-zs / 10.0)
            if kinds[i] == 0:
                size = sp["size"][i] * scale
                self._box(img, ch, z, zs, col, 0.18 * size, ground_row - 3.0 * size, ground_row, trunk_c * fog + mist)
                self._ellipse(img, ch, z, zs, col, ground_row - 4.6 * size, 2.2 * size, 2.0 * size,
                              crown_c * (light * fog) + mist)
            elif kinds[i] == 1:
                self._box(img, ch, z, zs, col, max(0.5, 0.09 * scale), ground_row - 6.0 * scale, ground_row,
                          pole_c * fog + mist)
                if p["lamps"]:
                    self._ellipse(img, ch, z, zs, col, ground_row - 6.0 * scale, max(1.0, 0.5 * scale),
                                  max(1.0, 0.3 * scale), glow)
            else:
                c = i - n_static
                along = abs(math.sin(cars["heading"][c]) * xs[i] + math.cos(cars["heading"][c]) * ys[i])
                across = math.sqrt(max(xs[i] ** 2 + ys[i] ** 2 - along ** 2, 0.0))
                dist = max(math.hypot(xs[i], ys[i]), 1e-6)
                half = 0.5 * scale * (1.8 * along + 4.3 * across) / dist   # car seen from behind .. side
                body = cars["colour"][c]
                self._box(img, ch, z, zs, col, half, ground_row - 0.3 * scale, ground_row, body * 0.15 * fog + mist)
                self._box(img, ch, z, zs, col, half, ground_row - 1.0 * scale, ground_row - 0.3 * scale,
                          body * (light * fog) + mist)
                roof = (body * 0.9 if not p["snow"] else np.full(3, 235.0, np.float32)) * (light * fog) + mist
                self._box(img, ch, z, zs, col, 0.8 * half, ground_row - 1.5 * scale, ground_row - 1.0 * scale,
                          CAR_GLASS * (light * fog) + mist)
                self._box(img, ch, z, zs, col, 0.8 * half, ground_row - 1.55 * scale, ground_row - 1.45 * scale, roof)

    def _box(self, img, ch, z, zs, col, half_w, top, bottom, colour) -> None:
        c0, c1 = max(0, math.floor(col - half_w)), min(self.width, math.ceil(col + half_w) + 1)
        r0, r1 = max(0, math.floor(top)), min(self.height, math.ceil(bottom))
        if c0 >= c1 or r0 >= r1:
            return
        visible = zs < z[c0:c1]
        img[r0:r1, c0:c1][:, visible] = colour.take(ch[r0:r1, c0:c1][:, visible])

    def _ellipse(self, img, ch, z, zs, col, row, rx, ry, colour) -> None:
        c0, c1 = max(0, math.floor(col - rx)), min(self.width, math.ceil(col + rx) + 1)
        r0, r1 = max(0, math.floor(row - ry)), min(self.height, math.ceil(row + ry) + 1)
        if c0 >= c1 or r0 >= r1:
            return
        cc = (self.col_f[c0:c1] - col) * (1.0 / max(rx, 0.5))
        rr = (self.row_f[r0:r1] - row) * (1.0 / max(ry, 0.5))
        inside = (rr * rr + cc * cc <= 1.0) & (zs < z[c0:c1])
        img[r0:r1, c0:c1][inside] = colour.take(ch[r0:r1, c0:c1][inside])
