"""The camera model of the synthetic world: auto-exposure, noise, motion blur, glare, quantisation and
the town's fixed light sources."""

from __future__ import annotations

import numpy as np
import pytest

from softloc.synthetic import lights, motion_blur, robotcar_world as synthetic, sensor, town
from softloc.synthetic.camera import CAMERA_HEIGHT_M, View
from softloc.synthetic.facades import M_LIT, M_SHOP_LIT, M_SIGN_LIT
from softloc.synthetic.looks import CONDITIONS
from softloc.synthetic.motion_blur import Motion
from softloc.synthetic.render import Renderer

from conftest import robotcar_world

WORLD = robotcar_world(seed=3, route_length_m=200.0, image_width=64, image_height=48,
                       traversals=[{"condition": "night", "runs": 1, "reverse": 0}])


@pytest.fixture(scope="module")
def scene():
    route, scenery = synthetic.build_world(WORLD)
    return route, Renderer(scenery, 64, 48)


def pose(route: town.Route, metres: float) -> tuple[float, float, float]:
    x, y, yaw = route.at(np.array([town.EXTENSION_M + metres]))
    return float(x[0]), float(y[0]), float(yaw[0])


def test_darker_scenes_get_longer_exposure_then_gain_within_limits():
    white = np.geomspace(1e5, 0.01, 60)
    got = [sensor.auto_exposure(w) for w in white]
    times = np.array([e.time_s for e in got])
    gains = np.array([e.gain for e in got])
    bright = np.array([e.brightness for e in got])
    assert np.all(np.diff(times) >= 0) and np.all(np.diff(gains) >= 0)
    assert times.max() <= 1 / sensor.FRAME_RATE_HZ and gains.max() <= 10 ** (sensor.GAIN_MAX_DB / 20) + 1e-9
    assert np.all(gains[times < sensor.EXPOSURE_MAX_S] == 1.0)                # shutter first, then gain
    assert gains[-1] == pytest.approx(sensor.GAIN_MAX) and times[-1] == sensor.EXPOSURE_MAX_S
    in_range = times * gains * sensor.ELECTRONS_PER_CD_M2_S * white <= sensor.FULL_WELL_E * (1 + 1e-9)
    assert np.allclose(bright[in_range & (gains < sensor.GAIN_MAX)], 1.0)
    assert bright[-1] < 0.1 and np.all(np.diff(bright) <= 1e-12)              # beyond the limits: darker


def test_day_is_short_exposure_at_base_gain_and_night_at_the_frame_period():
    day = [sensor.auto_exposure(sensor.white_luminance(CONDITIONS[c]["lux"])) for c in ("overcast", "sunny", "snow")]
    night = sensor.auto_exposure(sensor.white_luminance(CONDITIONS["night"]["lux"]))
    assert all(e.gain == 1.0 and e.brightness == 1.0 and e.time_s < 0.005 for e in day)
    assert night.time_s == sensor.EXPOSURE_MAX_S and night.gain > 1.0


def test_noise_grows_with_gain_and_is_small_at_base_gain():
    signal = np.full((200, 200), 100.0, np.float32)
    normal = np.random.default_rng(0).standard_normal(signal.shape).astype(np.float32)
    stds = [sensor.digitise(signal, gain, normal).astype(float).std() for gain in (1.0, 4.0, 16.0)]
    assert stds[0] < stds[1] < stds[2]
    assert stds[0] < 2.5                                    # base gain: day noise of a couple of levels
    assert sensor.noise_sigma(np.float32(0.0), 8.0) > sensor.noise_sigma(np.float32(0.0), 1.0) > 0  # read noise


def test_quantisation_loses_dark_detail_and_saturates_overexposure():
    ramp = np.linspace(0.0, 3.0, 64, dtype=np.float32)[None, :].repeat(8, 0)
    out = sensor.digitise(ramp, 1.0, np.zeros_like(ramp))
    assert len(np.unique(out)) <= 4                         # 64 shades below 3/255 become at most 4 levels
    bright = np.full((8, 8), 5000.0, np.float32)
    normal = np.random.default_rng(1).standard_normal((8, 8)).astype(np.float32)
    assert np.all(sensor.digitise(bright, 16.0, normal) == 255)


def test_image_motion_grows_with_travel_and_vanishes_at_rest_and_at_the_focus_of_expansion():
    u, v = np.meshgrid(np.arange(-20, 21, dtype=np.float32), np.arange(-10, 11, dtype=np.float32))
    inv = np.full(u.shape, 0.2, np.float32)

    def length(speed: float, exposure: float) -> np.ndarray:
        return np.hypot(*motion_blur.image_motion(u, v, 50.0, inv, Motion(speed), exposure))

    assert np.all(length(0.0, 0.06) == 0)
    slow, fast, longer = length(5.0, 0.01), length(10.0, 0.01), length(5.0, 0.04)
    assert np.allclose(fast, 2 * slow) and np.allclose(longer, 4 * slow)
    assert slow[10, 20] == 0 and slow.max() > 0              # (u, v) = (0, 0): the focus of expansion
    far = np.hypot(*motion_blur.image_motion(u, v, 50.0, inv / 4, Motion(5.0), 0.01))
    assert np.allclose(far, slow / 4)                        # four times as far: a quarter of the motion


def test_blur_spreads_a_point_along_its_path_by_the_path_length():
    def spread(speed: float) -> float:
        img = np.zeros((41, 81), np.float32)
        img[20, 70] = 1.0                                   # 30 px right of the focus of expansion at (40, 20)
        u, v = np.meshgrid(np.arange(81, dtype=np.float32) - 40, np.arange(41, dtype=np.float32) - 20)
        du, dv = motion_blur.image_motion(u, v, 50.0, np.full(u.shape, 0.5, np.float32), Motion(speed), 0.06)
        out = motion_blur.blur(img, du, dv, motion_blur.samples_needed(du, dv))
        cols = np.arange(81)
        assert np.abs(out[:17]).sum() + np.abs(out[24:]).sum() < 1e-6     # it stays near its row
        mean = (out.sum(0) * cols).sum() / out.sum()
        return float(np.sqrt((out.sum(0) * (cols - mean) ** 2).sum() / out.sum()))

    assert spread(0.0) == 0.0
    s5, s10 = spread(5.0), spread(10.0)
    assert 0.5 < s5 < s10 and s10 == pytest.approx(2 * s5, rel=0.3)   # a uniform path of length L: std L / sqrt(12)


def test_glare_spreads_only_light_above_clip_and_keeps_its_energy():
    plane = np.random.default_rng(2).uniform(0, 250, (200, 200, 4)).astype(np.float32)
    assert sensor.glare(plane, 0.4) is plane                # nothing clips: nothing spreads
    lit = plane.copy()
    lit[98:102, 98:102] = 5e4                               # a lamp, far above clip, in the middle
    out = sensor.glare(lit, 0.4)
    assert out.sum() == pytest.approx(lit.sum(), rel=1e-3)  # light moves, none is made or lost
    assert np.all(out[98:102, 98:102] < lit[98:102, 98:102])   # the lamp gives a share of its light ...
    gained = out - lit
    assert gained[90, 90].min() > 0 and gained[75, 100].min() > 0   # ... to its surroundings, less farther out
    assert gained[90, 90].min() > gained[75, 100].max()
    assert np.array_equal(out[:30], lit[:30]) and np.array_equal(out[:, -30:], lit[:, -30:])   # beyond the halo


def test_two_night_traversals_share_lamps_shop_fronts_and_fixed_windows(scene):
    route, renderer = scene
    looks = [renderer.make_look("night", np.random.default_rng(k)) for k in (1, 2)]
    assert looks[0].window_salt != looks[1].window_salt
    lit_windows, shops, signs = [], [], []
    for metres in (30.0, 60.0, 90.0, 120.0):
        z, wall, u = renderer.facades.cast(View.at(*pose(route, metres)))
        hit = np.isfinite(z)
        cam = renderer.camera
        v = CAMERA_HEIGHT_M + (cam.cy - cam.rows) * (np.where(hit, z, 1.0) / cam.f)
        height = np.where(hit, renderer.scenery.walls["height"][wall], -1.0)
        mats = [renderer.facades._materials(u, v, wall, height, look)[:, hit] for look in looks]
        lit_windows.append([m == M_LIT for m in mats])
        shops.append([m == M_SHOP_LIT for m in mats])
        signs.append([m == M_SIGN_LIT for m in mats])
    a, b = (np.concatenate([w[k].ravel() for w in lit_windows]) for k in (0, 1))
    assert sum(s[0].sum() for s in shops) > 0 and sum(s[0].sum() for s in signs) > 0
    assert all(np.array_equal(s[0], s[1]) for s in shops + signs)      # fixed per building
    assert a.sum() > 0 and b.sum() > 0 and not np.array_equal(a, b)    # part of the windows varies ...
    assert (a & b).sum() >= 0.5 * lights.FIXED_WINDOW_SHARE * min(a.sum(), b.sum())   # ... part stays lit
    colours = [Renderer(renderer.scenery, 64, 48).sprites.lamp_colour for _ in range(2)]
    assert np.array_equal(*colours) and len({tuple(c) for c in colours[0][renderer.scenery.sprites["kind"] == 1]}) == 2


def test_lit_windows_are_the_share_asked_with_half_of_them_fixed():
    seeds = np.arange(200_000) * 668265263 + 17
    a, b = lights.lit_windows(seeds, 5, 0.45), lights.lit_windows(seeds, 99, 0.45)
    assert a.mean() == pytest.approx(0.45, abs=0.01) and b.mean() == pytest.approx(0.45, abs=0.01)
    fixed = 0.45 * lights.FIXED_WINDOW_SHARE
    rest = (0.45 - fixed) / (1 - fixed)
    assert (a & b).mean() == pytest.approx(fixed + (1 - fixed) * rest ** 2, abs=0.01)


def test_colour_view_blurs_exactly_as_its_mosaic(scene):
    route, renderer = scene
    look = renderer.make_look("night", np.random.default_rng(3))
    x, y, yaw = pose(route, 80.0)
    motion = Motion(9.0, 0.2)
    rgb = renderer.render(x, y, yaw, look, np.random.default_rng(4), motion)
    mosaic = renderer.render_bayer(x, y, yaw, look, np.random.default_rng(4), motion)
    assert np.array_equal(mosaic, synthetic.bayer_gbrg(rgb))
    still = renderer.render_bayer(x, y, yaw, look, np.random.default_rng(4))
    assert np.abs(still.astype(int) - mosaic).mean() > 1.0                   # night: 62.5 ms at 9 m/s blurs


def test_day_frames_do_not_blur_at_driving_speed(scene):
    route, renderer = scene
    look = renderer.make_look("overcast", np.random.default_rng(5))
    x, y, yaw = pose(route, 50.0)
    moving = renderer.render_bayer(x, y, yaw, look, np.random.default_rng(6), Motion(10.0, 0.1))
    still = renderer.render_bayer(x, y, yaw, look, np.random.default_rng(6))
    assert np.array_equal(moving, still)
