"""The synthetic town: a driven route through streets lined with buildings, trees, lamp posts
and parking bays.

The route is a chain of straight streets joined by rounded turns, heading alternately
north-north-east and east, so it progresses steadily north-east and a geographic box can cut a
tail of it off from the rest. Its driven part starts `EXTENSION_M` metres into the street
network (the network runs on past both ends so the view never runs out of town).

Coordinates: UTM zone 30U (central Oxford lies near easting 620000, northing 5735000); the
network starts at (ORIGIN_EASTING, ORIGIN_NORTHING). Headings in radians, clockwise from north.
The default 1200 m route (seed 0) spans easting 620030-620811, northing 5735096-5735582 (the exact
extent depends on the seed: see `route_extent` and `default_regions`).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from softloc.synthetic import lights

ORIGIN_EASTING = 620000.0
ORIGIN_NORTHING = 5735000.0
UTM_ZONE_NUMBER = 30
UTM_ZONE_LETTER = "U"
EXTENSION_M = 100.0          # street network beyond each end of the driven route
PATH_STEP_M = 0.5            # sampling of the dense centreline
TURN_RADIUS_M = 10.0
ROAD_HALF_WIDTH_M = 4.0      # two lanes; UK traffic keeps left
SIDEWALK_M = 3.0
CORNER_CLEAR_M = 26.0        # no building this close to a street's ends (keeps junctions open)
GROUND_RES_M = 0.2           # ground raster resolution
TILE_PX = 256                # ground raster tile side in pixels

# Ground labels of the raster.
VERGE, ASPHALT, PAVEMENT, CENTRE_LINE, EDGE_LINE, KERB = range(6)


@dataclass
class Route:
    """Dense centreline of the whole street network (driven part: s in [EXTENSION_M, EXTENSION_M + length])."""

    s: np.ndarray          # (P,) arc length, metres
    x: np.ndarray          # (P,) easting
    y: np.ndarray          # (P,) northing
    heading: np.ndarray    # (P,) radians clockwise from north, unwrapped
    streets: np.ndarray    # (K, 3) straight streets: s_start, s_end, heading
    length: float          # driven length, metres

    def at(self, s_world: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Centreline easting, northing and heading at arc lengths `s_world` (linear interpolation)."""
        return (np.interp(s_world, self.s, self.x), np.interp(s_world, self.s, self.y),
                np.interp(s_world, self.s, self.heading))


def build_route(length_m: float, rng: np.random.Generator) -> Route:
    """Streets of 110-200 m with headings alternating near 15 and 100 degrees, joined by arcs."""
    total = length_m + 2 * EXTENSION_M
    knots_s, knots_h, streets = [0.0], [], []
    heading = np.deg2rad(15.0 + rng.uniform(-8, 8))
    knots_h.append(heading)
    s, k = 0.0, 0
    while s < total:
        street = rng.uniform(110.0, 200.0)
        streets.append((s, s + street, heading))
        s += street
        knots_s.append(s)
        knots_h.append(heading)
        k += 1
        target = np.deg2rad((100.0 if k % 2 else 15.0) + rng.uniform(-8, 8))
        s += TURN_RADIUS_M * abs(target - heading)
        heading = target
        knots_s.append(s)
        knots_h.append(heading)
    samples = np.arange(0.0, total + PATH_STEP_M, PATH_STEP_M)
    head = np.interp(samples, knots_s, knots_h)
    mid = 0.5 * (head[1:] + head[:-1])
    x = ORIGIN_EASTING + np.concatenate([[0.0], np.cumsum(PATH_STEP_M * np.sin(mid))])
    y = ORIGIN_NORTHING + np.concatenate([[0.0], np.cumsum(PATH_STEP_M * np.cos(mid))])
    return Route(samples, x, y, head, np.array(streets), float(length_m))


def route_extent(route: Route) -> dict[str, float]:
    """UTM bounding box of the driven part of the route."""
    keep = (route.s >= EXTENSION_M) & (route.s <= EXTENSION_M + route.length)
    return {"easting_min": float(route.x[keep].min()), "easting_max": float(route.x[keep].max()),
            "northing_min": float(route.y[keep].min()), "northing_max": float(route.y[keep].max())}


def region_box(route: Route, start_frac: float, end_frac: float, pad_m: float = 12.0) -> dict[str, float]:
    """UTM box around the driven route between two fractions of its length, padded by `pad_m`."""
    s0 = EXTENSION_M + start_frac * route.length
    s1 = EXTENSION_M + end_frac * route.length
    keep = (route.s >= s0) & (route.s <= s1)
    return {"easting_min": float(route.x[keep].min() - pad_m), "easting_max": float(route.x[keep].max() + pad_m),
            "northing_min": float(route.y[keep].min() - pad_m), "northing_max": float(route.y[keep].max() + pad_m)}


@dataclass
class Scenery:
    """Everything the renderer draws besides sky: walls, sprites and the ground raster."""

    walls: dict[str, np.ndarray]     # per wall: geometry, facade parameters, route position
    sprites: dict[str, np.ndarray]   # per tree / lamp post: position, size, kind, route position
    parking: dict[str, np.ndarray]   # parking bays: x, y, heading; each run parks its own cars there
    tiles: np.ndarray                # (T, TILE_PX, TILE_PX, 4) uint8: label, sodium lamp light, sun
                                     # shadow, LED lamp light
    tile_index: np.ndarray           # (GY, GX) int32 tile number per grid cell (last tile: blank)
    tile_origin: tuple[float, float]  # easting, northing of grid cell (0, 0)
    sun_azimuth: float               # radians; the sunny condition's sun (its shadows are in the raster)
    sun_elevation: float


# Street styles: colour palettes and facade grids; each street repeats one or two of them.
STYLES = [
    # base colour (RGB), window colour, floor height, window spacing, window w/h fraction, shop prob
    {"base": [(150, 70, 50), (135, 62, 45), (160, 85, 60)], "win": (40, 45, 55), "fh": 3.0, "sx": 3.0, "wf": 0.45, "hf": 0.55, "shop": 0.1},
    {"base": [(225, 220, 205), (235, 230, 215), (215, 205, 185)], "win": (50, 60, 75), "fh": 3.3, "sx": 3.5, "wf": 0.4, "hf": 0.6, "shop": 0.2},
    {"base": [(190, 175, 140), (200, 185, 150), (175, 160, 125)], "win": (35, 40, 50), "fh": 3.6, "sx": 4.0, "wf": 0.5, "hf": 0.6, "shop": 0.6},
    {"base": [(110, 125, 140), (95, 110, 125), (130, 140, 150)], "win": (60, 90, 120), "fh": 3.5, "sx": 2.2, "wf": 0.75, "hf": 0.7, "shop": 0.3},
    {"base": [(200, 140, 110), (180, 120, 100), (210, 160, 120)], "win": (45, 45, 50), "fh": 2.9, "sx": 2.8, "wf": 0.5, "hf": 0.5, "shop": 0.05},
]
SIGN_COLOURS = np.array([(200, 30, 30), (30, 90, 190), (30, 150, 60), (230, 190, 30), (120, 40, 140),
                         (240, 120, 20), (20, 20, 20), (240, 240, 240)], dtype=np.float32)


def build_scenery(route: Route, rng: np.random.Generator) -> Scenery:
    """Place buildings, trees and lamp posts along every street and rasterise the ground."""
    walls: list[list[float]] = []
    footprints: list[np.ndarray] = []
    sprites: list[list[float]] = []
    for s_a, s_b, heading in route.streets:
        styles = rng.choice(len(STYLES), size=2, replace=False)
        tree_lined = rng.random() < 0.6
        for side in (-1.0, 1.0):
            _line_street_side(route, s_a, s_b, heading, side, styles, rng, walls, footprints)
            _plant_street_side(route, s_a, s_b, side, tree_lined, rng, sprites)
    wall_cols = ["x0", "y0", "x1", "y1", "height", "u0", "nx", "ny", "s", "r", "g", "b", "wr", "wg", "wb",
                 "fh", "sx", "wf", "hf", "shop", "sr", "sg", "sb", "seed"]
    w = np.array(walls, dtype=np.float64)
    sp = np.array(sprites, dtype=np.float64).reshape(-1, 6)
    sun_az, sun_el = np.deg2rad(200.0), np.deg2rad(35.0)
    lamps = sp[sp[:, 3] == 1.0]
    sodium = lights.is_sodium(lamps[:, 5])
    tiles, index, origin = _ground_tiles(route, footprints, lamps[:, :2], sodium, sun_az, sun_el)
    parking = _parking_bays(route)
    return Scenery(walls={c: w[:, i] for i, c in enumerate(wall_cols)},
                   sprites={c: sp[:, i] for i, c in enumerate(["x", "y", "s", "kind", "size", "seed"])},
                   parking=parking, tiles=tiles, tile_index=index, tile_origin=origin, sun_azimuth=sun_az, sun_elevation=sun_el)


def seeded_route(seed: int, length_m: float) -> Route:
    """The route of the town of `seed`, from its own random stream (same seed, same streets)."""
    return build_route(length_m, np.random.default_rng([seed, 0]))


def build_town(seed: int, length_m: float) -> tuple[Route, Scenery]:
    """The town of `seed`: its route and the scenery along it (each from its own random stream)."""
    route = seeded_route(seed, length_m)
    return route, build_scenery(route, np.random.default_rng([seed, 4]))


def _line_street_side(route: Route, s_a: float, s_b: float, heading: float, side: float,
                      styles: np.ndarray, rng: np.random.Generator,
                      walls: list[list[float]], footprints: list[np.ndarray]) -> None:
    """Buildings along one side of one straight street: front facade and two side walls each."""
    fwd = np.array([np.sin(heading), np.cos(heading)])
    right = np.array([np.cos(heading), -np.sin(heading)])
    x_a, y_a, _ = route.at(np.array([s_a]))
    start = np.array([x_a[0], y_a[0]])
    u = CORNER_CLEAR_M
    end = (s_b - s_a) - CORNER_CLEAR_M
    style = STYLES[styles[0]]
    row_left = 0
    while u < end - 5.0:
        if row_left <= 0:  # a new terrace: same style, same height, repeated facades
            style = STYLES[styles[rng.integers(2)]]
            row_left = int(rng.integers(1, 6))
            height = rng.choice([6.5, 9.0, 9.5, 12.5, 16.0]) * rng.uniform(0.95, 1.05)
            base = np.array(style["base"][rng.integers(len(style["base"]))], dtype=float)
            setback = rng.uniform(0.0, 2.5)
        if rng.random() < 0.06:  # a small park or car park: no building, more trees later
            u += rng.uniform(15, 30)
            row_left = 0
            continue
        width = min(rng.uniform(7.0, 15.0), end - u)
        depth = rng.uniform(8.0, 14.0)
        shop = float(rng.random() < style["shop"])
        sign = SIGN_COLOURS[rng.integers(len(SIGN_COLOURS))]
        colour = np.clip(base * rng.uniform(0.92, 1.08), 0, 255)
        if rng.random() < 0.04:  # a landmark: unusual colour and a taller block
            colour = rng.uniform(40, 240, size=3)
            height *= 1.6
        off = side * (ROAD_HALF_WIDTH_M + SIDEWALK_M + setback)
        front_a = start + fwd * u + right * off
        front_b = start + fwd * (u + width) + right * off
        back = right * side * depth
        # Walls run so that their outward normal faces the street (seen side).
        normal_front = -right * side
        wall_specs = [(front_a, front_b, 0.0, normal_front),
                      (front_a + back, front_a, -depth, -fwd),
                      (front_b, front_b + back, width, fwd)]
        seed = rng.integers(1 << 30)
        for p0, p1, u0, n in wall_specs:
            walls.append([p0[0], p0[1], p1[0], p1[1], height, u0, n[0], n[1], s_a + u + width / 2,
                          *colour, *style["win"], style["fh"], style["sx"], style["wf"], style["hf"],
                          shop, *sign, seed])
        footprints.append(np.array([front_a, front_b, front_b + back, front_a + back, [height, 0]]))
        u += width + (0.0 if rng.random() < 0.6 else rng.uniform(2.0, 6.0))
        row_left -= 1


def _plant_street_side(route: Route, s_a: float, s_b: float, side: float, tree_lined: bool,
                       rng: np.random.Generator, sprites: list[list[float]]) -> None:
    """Trees (kind 0) on tree-lined streets and lamp posts (kind 1) every ~28 m, left side offset."""
    length = s_b - s_a
    spots = []
    if tree_lined:
        spots += [(u, 0.0, ROAD_HALF_WIDTH_M + 1.6) for u in np.arange(rng.uniform(5, 15), length, rng.uniform(12, 20))]
    phase = 0.0 if side < 0 else 14.0
    spots += [(u, 1.0, ROAD_HALF_WIDTH_M + 0.5) for u in np.arange(phase + rng.uniform(2, 6), length, 28.0)]
    for u, kind, off in spots:
        x, y, h = route.at(np.array([s_a + u]))
        px = x[0] + side * off * np.cos(h[0])
        py = y[0] - side * off * np.sin(h[0])
        size = rng.uniform(0.8, 1.3) if kind == 0.0 else 1.0
        sprites.append([px, py, s_a + u, kind, size, rng.integers(1 << 30)])


def _parking_bays(route: Route) -> dict[str, np.ndarray]:
    """Parking bays every 6.5 m in the pavement strip along both sides of every street."""
    xs, ys, hs = [], [], []
    for s_a, s_b, heading in route.streets:
        u = np.arange(CORNER_CLEAR_M, (s_b - s_a) - CORNER_CLEAR_M, 6.5)
        x, y, h = route.at(s_a + u)
        for side in (-1.0, 1.0):
            off = side * (ROAD_HALF_WIDTH_M + 1.0)
            xs.append(x + off * np.cos(h))
            ys.append(y - off * np.sin(h))
            hs.append(h)
    cat = lambda parts: np.concatenate(parts) if parts else np.zeros(0)  # noqa: E731
    return {"x": cat(xs), "y": cat(ys), "heading": cat(hs)}


def _ground_tiles(route: Route, footprints: list[np.ndarray], lamps: np.ndarray, sodium: np.ndarray,
                  sun_az: float, sun_el: float) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
    """Rasterise road, pavement, markings, street-lamp light (sodium and LED lamps apart) and sun
    shadows into tiles near the route."""
    tile_m = TILE_PX * GROUND_RES_M
    margin = 6 * tile_m   # every ground point the renderer looks up lies inside the grid
    x0 = route.x.min() - margin
    y0 = route.y.min() - margin
    gx = int(np.ceil((route.x.max() + margin - x0) / tile_m))
    gy = int(np.ceil((route.y.max() + margin - y0) / tile_m))
    index = np.full((gy, gx), -1, dtype=np.int32)
    reach = 60.0
    for dx in np.arange(-reach, reach + 1, tile_m / 2):
        for dy in np.arange(-reach, reach + 1, tile_m / 2):
            cx = ((route.x[::20] + dx - x0) // tile_m).astype(int)
            cy = ((route.y[::20] + dy - y0) // tile_m).astype(int)
            index[cy, cx] = 0
    cells = np.argwhere(index == 0)
    index[:] = len(cells)             # the last tile stays blank verge: every other cell
    index[cells[:, 0], cells[:, 1]] = np.arange(len(cells))
    tiles = np.zeros((len(cells) + 1, TILE_PX, TILE_PX, 4), dtype=np.uint8)
    scale = 4  # cv2 sub-pixel shift of 2 bits
    dash = (np.floor(route.s / 3.0) % 2 == 0)
    shadow_vec = -np.array([np.sin(sun_az), np.cos(sun_az)]) / np.tan(sun_el)
    yy, xx = np.mgrid[0:TILE_PX, 0:TILE_PX]
    for t, (cy, cx) in enumerate(cells):
        ox, oy = x0 + cx * tile_m, y0 + cy * tile_m
        pts = np.stack([(route.x - ox) / GROUND_RES_M, (route.y - oy) / GROUND_RES_M], axis=1)
        near = np.all((pts > -200) & (pts < TILE_PX + 200), axis=1)
        if not near.any():
            continue
        label = np.zeros((TILE_PX, TILE_PX), dtype=np.uint8)
        poly = [np.round(pts[near] * scale).astype(np.int32)]
        for value, half in ((PAVEMENT, ROAD_HALF_WIDTH_M + SIDEWALK_M), (KERB, ROAD_HALF_WIDTH_M + 0.25),
                            (EDGE_LINE, ROAD_HALF_WIDTH_M - 0.25), (ASPHALT, ROAD_HALF_WIDTH_M - 0.45)):
            cv2.polylines(label, poly, False, int(value), thickness=max(1, int(round(2 * half / GROUND_RES_M))),
                          lineType=cv2.LINE_8, shift=2)
        runs = _runs(near & dash)
        dashes = [np.round(pts[a:b] * scale).astype(np.int32) for a, b in runs if b - a > 1]
        if dashes:
            cv2.polylines(label, dashes, False, int(CENTRE_LINE), thickness=1, lineType=cv2.LINE_8, shift=2)
        light = np.zeros((2, TILE_PX, TILE_PX), dtype=np.float32)
        for (lx, ly), kind in zip(lamps, sodium):
            px, py = (lx - ox) / GROUND_RES_M, (ly - oy) / GROUND_RES_M
            if -60 < px < TILE_PX + 60 and -60 < py < TILE_PX + 60:
                light[0 if kind else 1] += np.exp(-((xx - px) ** 2 + (yy - py) ** 2)
                                                  * (GROUND_RES_M ** 2 / (2 * 4.5 ** 2)))
        shadow = np.zeros((TILE_PX, TILE_PX), dtype=np.uint8)
        for fp in footprints:
            corners, height = fp[:4], fp[4, 0]
            cast = np.concatenate([corners, corners + shadow_vec * height])
            pix = (cast - [ox, oy]) / GROUND_RES_M
            if pix.max(0).min() < -1 or pix.min(0).max() > TILE_PX + 1:
                continue
            hull = cv2.convexHull(np.round(pix * scale).astype(np.int32))
            cv2.fillConvexPoly(shadow, hull, 255, lineType=cv2.LINE_8, shift=2)
        lamp = np.clip(light * 255, 0, 255).astype(np.uint8)
        tiles[t] = np.stack([label, lamp[0], shadow, lamp[1]], axis=-1)
    return tiles, index, (x0, y0)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Start/stop index pairs of the True runs of a boolean array."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)))
