"""The renderer's pinhole camera at one image size: column rays, ground-row depths, channel maps.

Everything here depends on the image size alone, so it is computed once per renderer; a `View`
is the camera placed in the town (position and heading) for one frame.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

HFOV_DEG = 66.0          # RobotCar stereo centre (Bumblebee XB3, 1280x960) horizontal field of view
CAMERA_HEIGHT_M = 1.6
FAR_M = 160.0


class View(NamedTuple):
    """Where one frame is seen from: position (m) and the forward and right unit vectors."""

    x: float
    y: float
    fx: float
    fy: float
    rx: float
    ry: float

    @classmethod
    def at(cls, x: float, y: float, yaw: float) -> "View":
        """The view from (x, y) with heading `yaw` (radians clockwise from north)."""
        return cls(x, y, np.sin(yaw), np.cos(yaw), np.cos(yaw), -np.sin(yaw))


class Camera:
    """Per-size constants of the raycaster: focal length, column tangents, ground rows' depths,
    pixel positions, the headlight beam, the ground-lookup dither and which colour channel each
    pixel holds."""

    def __init__(self, width: int, height: int):
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
        # Inverse depth of the flat ground below the horizon (0 above: the sky is at infinity).
        self.ground_inv_depth = np.zeros((height, width), np.float32)
        self.ground_inv_depth[self.ground_row0:] = 1.0 / self.ground_fog_z
        # Pixel positions from the principal point, full size and at the centres of the 2x2 Bayer blocks.
        self.u, self.v = np.meshgrid(np.arange(width, dtype=np.float32) - np.float32(self.cx),
                                     np.arange(height, dtype=np.float32) - np.float32(self.cy))
        self.phase_u, self.phase_v = self.u[0::2, 0::2] + 0.5, self.v[0::2, 0::2] + 0.5
        self.beam = (np.exp(-(self.k32 / 0.3) ** 2)[None, :] * np.exp(-self.ground_z / 14.0)
                     * (self.ground_z > 2.5)).astype(np.float32)
        # A fixed sub-texel dither of the ground lookups turns magnified texel staircases into rough edges.
        dither = np.random.default_rng(0).uniform(-0.5, 0.5, size=(2,) + self.beam.shape).astype(np.float32)
        self.dither_x, self.dither_y = dither
        # Which colour channel each output pixel holds: RobotCar's GBRG mosaic, or one plane of RGB.
        bayer = np.tile(np.array([[1, 2], [0, 1]], np.int32), (height // 2 + 1, width // 2 + 1))[:height, :width]
        self.channel_maps = {"bayer": np.ascontiguousarray(bayer)}
        for c in range(3):
            self.channel_maps[c] = np.full((height, width), c, np.int32)
