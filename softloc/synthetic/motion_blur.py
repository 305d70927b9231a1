"""Motion blur over the exposure: each pixel averages the scene along its own image motion while
the car drives (forward travel: radial from the focus of expansion, length ~ travel * r / depth)
and turns (a sideways sweep).

The image motion of a static point seen at (u, v) (pixels from the principal point) at inverse
depth q, while the camera translates by (Tx, Tz) (metres, camera right and forward) and yaws by
theta (radians, clockwise), is, to first order,
    du = (u Tz - f Tx) q - (f + u² / f) theta,    dv = v Tz q - (u v / f) theta.
The blur is the mean of the scene at p - s d(p) for s in [-1/2, 1/2) (the rendered pose is the
middle of the exposure; a gather along each output pixel's own path, so a point's light is kept
only to within the relative depth change over the exposure, a few percent at driving speeds),
taken with 2^k samples built by k + 1 remaps: a first shift to the first sample, then k halvings
that each average a plane with itself shifted by half of what is left. Planes are blurred as their
four Bayer phases (2x2 sub-sampled planes stacked as channels), so a mosaic is never mixed across
colours and a colour view blurs exactly as its mosaic does.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import cv2
import numpy as np

SAMPLE_SPACING_PX = 2.5     # at most this far (full-resolution pixels) between samples of a path
MAX_HALVINGS = 3            # at most 8 samples per path


class Motion(NamedTuple):
    """The car's motion during a frame: speed (m/s) along its heading, yaw rate (rad/s, clockwise)
    and the camera's heading relative to the car's (rad, clockwise: 0 forward, pi/2 right)."""

    speed: float
    yaw_rate: float = 0.0
    camera_yaw: float = 0.0


def image_motion(u: np.ndarray, v: np.ndarray, f: float, inv_depth: np.ndarray, motion: Motion,
                 exposure_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Displacement (du, dv) in pixels over the exposure of the points seen at (u, v) (pixels from
    the principal point) at inverse depth `inv_depth` (1/m along the optical axis; 0 = infinity)."""
    travel = motion.speed * exposure_s
    tx, tz = -travel * math.sin(motion.camera_yaw), travel * math.cos(motion.camera_yaw)
    theta = motion.yaw_rate * exposure_s
    f = float(f)
    du = (u * np.float32(tz) - np.float32(f * tx)) * inv_depth
    dv = v * np.float32(tz) * inv_depth
    if theta:
        du -= (u * u * np.float32(theta / f) + np.float32(f * theta))
        dv -= u * v * np.float32(theta / f)
    return np.broadcast_to(du, u.shape).astype(np.float32), np.broadcast_to(dv, u.shape).astype(np.float32)


def longest_motion(u_max: float, v_max: float, f: float, inv_depth_max: float, motion: Motion,
                   exposure_s: float) -> float:
    """An upper bound (pixels) of the image motion over the exposure anywhere in an image whose
    pixels lie within (u_max, v_max) of the principal point and no nearer than 1 / inv_depth_max."""
    travel = motion.speed * exposure_s
    radius = math.hypot(u_max, v_max)
    translation = travel * (radius * abs(math.cos(motion.camera_yaw)) + f * abs(math.sin(motion.camera_yaw)))
    return translation * inv_depth_max + (f + radius * radius / f) * abs(motion.yaw_rate * exposure_s)


def to_phases(plane: np.ndarray) -> np.ndarray:
    """(H, W) plane to its four 2x2 phases, (ceil(H/2), ceil(W/2), 4): (0,0), (0,1), (1,0), (1,1);
    an odd side is padded by repeating its last row or column."""
    h, w = plane.shape
    if h % 2 or w % 2:
        plane = np.pad(plane, ((0, h % 2), (0, w % 2)), mode="edge")
    return np.ascontiguousarray(np.stack([plane[0::2, 0::2], plane[0::2, 1::2],
                                          plane[1::2, 0::2], plane[1::2, 1::2]], axis=-1))


def from_phases(phases: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Inverse of `to_phases`: the (H, W) = `shape` plane."""
    h, w = phases.shape[:2]
    plane = np.empty((2 * h, 2 * w), phases.dtype)
    plane[0::2, 0::2], plane[0::2, 1::2] = phases[..., 0], phases[..., 1]
    plane[1::2, 0::2], plane[1::2, 1::2] = phases[..., 2], phases[..., 3]
    return plane[: shape[0], : shape[1]]


def samples_needed(du: np.ndarray, dv: np.ndarray) -> int:
    """Halvings k (2^k samples) that keep samples of the longest path within SAMPLE_SPACING_PX
    (0: one sample, no blur: every path is shorter than that)."""
    longest = math.sqrt(float((du * du + dv * dv).max())) if du.size else 0.0
    return min(MAX_HALVINGS, max(0, math.ceil(math.log2(max(longest / SAMPLE_SPACING_PX, 1.0)))))


def blur(image: np.ndarray, du: np.ndarray, dv: np.ndarray, halvings: int) -> np.ndarray:
    """Mean of `image` (h, w[, c] float32) along the paths p - s d(p), s in [-1/2, 1/2), in 2^halvings
    samples; (du, dv) are the paths in the image's own pixels (h, w)."""
    if halvings <= 0:
        return image
    xs, ys = _grid(*du.shape)
    n = 1 << halvings
    first = 0.5 - 0.5 / n                     # p - s0 d with s0 = -1/2 + 1/(2n)
    out = _shift(image, xs + first * du, ys + first * dv)
    for k in range(halvings):
        step = (1 << k) / n
        out = 0.5 * (out + _shift(out, xs - step * du, ys - step * dv))
    return out


@functools.lru_cache(maxsize=8)
def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates (x, y) of an (h, w) image, float32."""
    return np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))


def _shift(image: np.ndarray, map_x: np.ndarray, map_y: np.ndarray) -> np.ndarray:
    out = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out.reshape(image.shape)
