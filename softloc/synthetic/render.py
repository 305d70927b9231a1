"""A fast 2.5D column raycaster for the synthetic town, with six lighting/weather conditions, seen
through a model of RobotCar's camera.

Facades are vertical wall segments (one ray per image column finds the nearest: facades), the
ground is looked up per pixel below the horizon in the town's ground raster (ground), the sky is
a per-row gradient, trees, lamp posts and parked cars (different in every run) are sprites
depth-tested against the walls (sprites); a look (looks) holds a run's condition and its
variations. The scene is drawn in linear light, light sources far above the clipping level
(lights), with the inverse depth of every pixel; the camera then blurs it over the exposure while
the car moves (motion_blur), spreads the glare of what clips, adds its noise and quantises it
(sensor). Everything is vectorised with numpy and OpenCV, and the Bayer mosaic is rendered
directly (one colour channel per pixel).
"""

from __future__ import annotations

import numpy as np

from softloc.synthetic import lights, motion_blur, sensor, town
from softloc.synthetic.camera import HFOV_DEG, Camera, View
from softloc.synthetic.facades import Facades
from softloc.synthetic.ground import Ground
from softloc.synthetic.looks import Look, make_look
from softloc.synthetic.motion_blur import Motion
from softloc.synthetic.sprites import Sprites

FLAKE_DEPTH_M = 1.5     # snow flakes and rain drops big enough to cover a pixel are about this close
FLAKE_GREY = {True: 120.0, False: 85.0}    # what a flake (snow) or a streak (rain) adds
WEATHER_KEPT = 64       # blurred weather layers a look keeps (one per draw and rounded motion)


class Renderer:
    """Renders RGB frames (or their Bayer mosaics) of one town at a fixed image size."""

    def __init__(self, scenery: town.Scenery, width: int, height: int):
        self.scenery = scenery
        self.camera = Camera(width, height)
        self.ground = Ground(self.camera, scenery)
        self.facades = Facades(self.camera, scenery)
        self.sprites = Sprites(self.camera, scenery)

    def make_look(self, condition: str, rng: np.random.Generator) -> Look:
        """A traversal's look: condition parameters, slight exposure change, lit ground, noise banks."""
        return make_look(self.camera, self.scenery, condition, rng)

    def render(self, x: float, y: float, yaw: float, look: Look, frame_rng: np.random.Generator,
               motion: Motion | None = None) -> np.ndarray:
        """RGB uint8 (H, W, 3) view from (x, y) with heading `yaw` (radians clockwise from north), the
        camera moving as `motion` says during the exposure (None: standing still)."""
        draws = self._draws(look, frame_rng)
        return np.stack([self._frame(View.at(x, y, yaw), look, c, draws, motion) for c in range(3)], axis=-1)

    def render_bayer(self, x: float, y: float, yaw: float, look: Look, frame_rng: np.random.Generator,
                     motion: Motion | None = None) -> np.ndarray:
        """The same view as `render`, as RobotCar's GBRG Bayer mosaic (H, W) uint8, at a third of the work."""
        return self._frame(View.at(x, y, yaw), look, "bayer", self._draws(look, frame_rng), motion)

    @staticmethod
    def _draws(look: Look, frame_rng: np.random.Generator) -> tuple[int, int]:
        """This frame's picks from the noise and weather banks."""
        return int(frame_rng.integers(len(look.noise))), int(frame_rng.integers(4))

    def _frame(self, view: View, look: Look, channels: str | int, draws: tuple[int, int],
               motion: Motion | None) -> np.ndarray:
        """One image plane (H, W) uint8: each pixel the channel its channel map names."""
        maps = self._channel_maps(look, channels)
        z, wall, u = self.facades.cast(view)
        img = np.empty((self.camera.height, self.camera.width), np.float32)
        inv_depth = self.camera.ground_inv_depth.copy()
        img[: self.camera.ground_row0] = maps["sky"]
        self.ground.draw(img, view, look, maps)
        self.facades.draw(img, inv_depth, z, wall, u, view, look, maps)
        self.sprites.draw(img, inv_depth, z, view, look, maps)
        img *= maps["gain"]
        img += look.offset
        if look.overlay is not None:
            self._weather(img, look, draws[1], motion)
        return self._expose(img, inv_depth, look, motion, draws[0])

    def _weather(self, img: np.ndarray, look: Look, draw: int, motion: Motion | None) -> None:
        """Snow flakes or rain streaks in front of the scene, blurred as near objects blur: all at
        one depth, so their blur depends on the motion alone, which is rounded (speed to 0.5 m/s,
        yaw rate to 0.05 rad/s); the look keeps the last WEATHER_KEPT blurred layers."""
        if motion is None:
            layer = look.overlay[draw]
        else:
            motion = Motion(round(motion.speed * 2) / 2, round(motion.yaw_rate * 20) / 20, motion.camera_yaw)
            key = (draw, motion)
            if key not in look.weather:
                cam = self.camera
                du, dv = motion_blur.image_motion(cam.u, cam.v, cam.f, np.float32(1.0 / FLAKE_DEPTH_M), motion,
                                                  look.exposure.time_s)
                if len(look.weather) >= WEATHER_KEPT:
                    del look.weather[next(iter(look.weather))]
                look.weather[key] = motion_blur.blur(look.overlay[draw], du, dv, motion_blur.samples_needed(du, dv))
            layer = look.weather[key]
        img *= 1.0 - 0.5 * layer
        img += FLAKE_GREY[look.params["snow"]] * layer

    def _expose(self, img: np.ndarray, inv_depth: np.ndarray, look: Look, motion: Motion | None,
                draw: int) -> np.ndarray:
        """The camera: motion blur over the exposure, the exposure's brightness, glare of what clips,
        noise and the ADC, on the plane's four Bayer phases."""
        cam, exposure = self.camera, look.exposure
        if exposure.brightness != 1.0:
            img *= np.float32(exposure.brightness)
        blurred = motion is not None and motion_blur.longest_motion(
            cam.cx + 1, cam.cy + 1, cam.f, float(inv_depth.max()), motion, exposure.time_s
        ) >= motion_blur.SAMPLE_SPACING_PX
        if blurred or img.max() > sensor.FULL_SCALE:
            phases = motion_blur.to_phases(img)
            if blurred:
                du, dv = motion_blur.image_motion(cam.phase_u, cam.phase_v, cam.f, inv_depth[0::2, 0::2], motion,
                                                  exposure.time_s)
                phases = motion_blur.blur(phases, 0.5 * du, 0.5 * dv, motion_blur.samples_needed(du, dv))
            img = motion_blur.from_phases(sensor.glare(phases, 2.0 * HFOV_DEG / cam.width), img.shape)
        return sensor.digitise(img, exposure.gain, look.noise[draw])

    def _channel_maps(self, look: Look, channels: str | int) -> dict[str, np.ndarray]:
        """Per-pixel channel index and the look's colours picked per pixel (cached per look)."""
        if channels not in look.per_channel:
            cam = self.camera
            ch = cam.channel_maps[channels]
            g0 = cam.ground_row0
            ground_ch = ch[g0:]
            p = look.params
            fog = np.exp(-cam.ground_fog_z / p["fog_m"])
            fog_amount = 1 - fog
            headlight = lights.HALOGEN[ground_ch] * (lights.HEADLIGHT_ROAD_LUX / p["lux"]) * cam.beam * fog
            look.per_channel[channels] = {
                "ch": ch, "ground_ch": ground_ch,
                "sky": np.take_along_axis(look.sky[:g0], ch[:g0], axis=1),
                "gain": look.gain[ch].astype(np.float32),
                "ground_fog": (np.array(look.params["fog"], np.float32)[ground_ch] * fog_amount).astype(np.float32),
                "sheen": (look.sky[-1][ground_ch] * 0.3 * (1 - np.exp(-cam.ground_fog_z / 30.0))).astype(np.float32),
                "ground_gain": np.broadcast_to(look.atlas_scale * fog, ground_ch.shape).astype(np.float32),
                "headlight": headlight.astype(np.float32),
            }
        return look.per_channel[channels]
