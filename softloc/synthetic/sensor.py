"""RobotCar's stereo camera (Point Grey Bumblebee XB3, Sony ICX445 CCD) as the renderer's last stage:
auto-exposure, glare above the clipping level, shot and read noise, and the ADC's quantisation.

The renderer draws scene light in "white units": 255 is a white diffuser under the condition's
unit light (looks.CONDITIONS `lux`), and light sources are drawn far above it (in cd/m², converted
by `white_luminance`). This module turns that plane into the 8-bit raw mosaic the camera writes.

Facts, from the RobotCar documentation (robotcar-dataset.robots.ox.ac.uk/documentation): centre
camera BBX3-13S2C-38, 1280x960, 16 Hz, 1/3" Sony ICX445 CCD, global shutter, 3.8 mm lens, 66° HFoV,
automatic exposure. The ICX445's pixel pitch is 3.75 µm (1.25 MP on a 1/3" die; public camera
tables list Point Grey's ICX445 models at 3.75 µm). Point Grey's technical references say the
longest shutter is the frame period (e.g. 66 ms at 15 FPS), i.e. 62.5 ms at 16 Hz.

Assumptions (no published figure found for this camera; each stated with its reason):
- lens f/2.0 and 90 % transmission: a common aperture for 3.8 mm board lenses;
- quantum efficiency 0.52, temporal dark (read) noise 10.6 e-, saturation 7,600 e-: EMVA 1288
  data of the closest published Sony interline CCD, the ICX625 (3.45 µm: QE 47-57 %, 8.3-13 e-,
  5,900-7,000 e- in Basler's and Point Grey's sheets), means of the two, saturation scaled by
  the ICX445's 18 % larger pixel area;
- one Bayer channel collects 3.6e15 photons per lux-second per m² (broadband white light carries
  about 1.2e16 visible photons per lumen; a colour filter passes about a third of them at ~90 %);
- analogue gain 0-24 dB (the common range of Point Grey's CCD cameras of that generation);
- a 12-bit ADC whose full scale is the full well at 0 dB, and an 8-bit raw output of its top
  8 bits, linear (no gamma), as the RobotCar SDK demosaics the PNGs without a tone curve;
- lens glare: 3 % of the light above the clipping level is scattered (ISO 9358 veiling-glare
  indices of ordinary lenses are a few percent) over a 1/r²-like halo, three Gaussians of equal
  energy 0.5°, 1.5° and 4.5° wide; the CCD's antiblooming drain keeps charge from spilling.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import cv2
import numpy as np

FRAME_RATE_HZ = 16.0
PIXEL_PITCH_M = 3.75e-6
F_NUMBER = 2.0
LENS_TRANSMISSION = 0.9
QUANTUM_EFFICIENCY = 0.52
FULL_WELL_E = 7600.0
READ_NOISE_E = 10.6
PHOTONS_PER_LUX_S_M2 = 3.6e15
GAIN_MAX_DB = 24.0
EXPOSURE_MIN_S = 8e-6
EXPOSURE_MAX_S = 1.0 / FRAME_RATE_HZ
ADC_LEVELS = 4096                 # 12 bits
OUTPUT_SHIFT = 4                  # 8-bit raw = the ADC's top 8 bits
FULL_SCALE = 255.0                # white units at the ADC's full scale
GLARE_FRACTION = 0.03
GLARE_WIDTHS_DEG = (0.5, 1.5, 4.5)

# Electrons per second in one pixel per cd/m² of scene luminance: sensor-plane illuminance
# pi * T * L / (4 N^2) (a distant scene) times pixel area, photons per lux-second and QE.
ELECTRONS_PER_CD_M2_S = (math.pi * LENS_TRANSMISSION / (4 * F_NUMBER ** 2) * PIXEL_PITCH_M ** 2
                         * PHOTONS_PER_LUX_S_M2 * QUANTUM_EFFICIENCY)
GAIN_MAX = 10 ** (GAIN_MAX_DB / 20)


class Exposure(NamedTuple):
    """A frame's exposure: shutter time (s), linear analogue gain (1 = 0 dB) and the image
    brightness it gives relative to a correct exposure (1 correct, < 1 too dark)."""

    time_s: float
    gain: float
    brightness: float


def white_luminance(lux: float) -> float:
    """Luminance (cd/m²) of a white Lambertian surface under `lux` of illuminance."""
    return lux / math.pi


def auto_exposure(white_cd_m2: float) -> Exposure:
    """Shutter first, then gain: the exposure that puts a white diffuser of `white_cd_m2` at full
    scale, the shutter bounded by the frame period and the gain by its maximum; what the camera
    cannot reach darkens the image (`brightness` < 1)."""
    needed = FULL_WELL_E / (ELECTRONS_PER_CD_M2_S * white_cd_m2)        # shutter x gain, seconds
    time_s = min(max(needed, EXPOSURE_MIN_S), EXPOSURE_MAX_S)
    gain = min(max(needed / time_s, 1.0), GAIN_MAX)
    return Exposure(time_s, gain, time_s * gain / needed)


def noise_sigma(signal: np.ndarray, gain: float) -> np.ndarray:
    """Temporal noise (white units) of a signal (white units) at analogue `gain`: photon
    shot noise of its electrons plus the read noise, both amplified by the gain."""
    per_electron = np.float32(FULL_SCALE * gain / FULL_WELL_E)
    return np.sqrt(signal * per_electron + np.float32((per_electron * READ_NOISE_E) ** 2))


def glare(plane: np.ndarray, degrees_per_px: float) -> np.ndarray:
    """Lens glare of an (H, W, C) float32 plane in white units: GLARE_FRACTION of the light above
    full scale is spread over the halo (computed on the excess shrunk by 2 with area averaging,
    which keeps its sum), the rest stays; the sum over the plane is unchanged up to light leaving
    its border. Planes without light above full scale come back as they are."""
    excess = plane - np.float32(FULL_SCALE)
    np.maximum(excess, 0.0, out=excess)
    if not excess.any():
        return plane
    h, w = plane.shape[:2]
    small = _resize(excess, (-(-w // 2), -(-h // 2)), cv2.INTER_AREA)
    halo = np.zeros_like(small)
    for width in GLARE_WIDTHS_DEG:
        halo += gaussian(small, width / (2.0 * degrees_per_px))
    halo = _resize(halo, (w, h), cv2.INTER_LINEAR)
    halo *= np.float32(GLARE_FRACTION / len(GLARE_WIDTHS_DEG))
    excess *= np.float32(GLARE_FRACTION)
    return plane + halo - excess


def gaussian(plane: np.ndarray, sigma_px: float) -> np.ndarray:
    """Gaussian blur (zero outside the border) of an (H, W, C) plane; wide ones on a plane shrunk by
    area averaging, which keeps the sum, and stretched back."""
    h, w = plane.shape[:2]
    step = max(1, min(int(sigma_px / 1.5), h // 8, w // 8))
    if step == 1:
        return _blur(plane, sigma_px)
    small = _blur(_resize(plane, (-(-w // step), -(-h // step)), cv2.INTER_AREA), sigma_px / step)
    return _resize(small, (w, h), cv2.INTER_LINEAR)


def _resize(plane: np.ndarray, size: tuple[int, int], interpolation: int) -> np.ndarray:
    out = cv2.resize(plane, size, interpolation=interpolation)
    return out.reshape(out.shape[:2] + plane.shape[2:])


def _blur(plane: np.ndarray, sigma_px: float) -> np.ndarray:
    size = 2 * int(math.ceil(3 * sigma_px)) + 1
    out = cv2.GaussianBlur(plane, (size, size), sigma_px, borderType=cv2.BORDER_CONSTANT)
    return out.reshape(plane.shape)


def digitise(plane: np.ndarray, gain: float, normal: np.ndarray) -> np.ndarray:
    """The raw 8-bit mosaic of a plane of exposed light (white units): shot and read noise
    (`normal`: standard normal draws, one per pixel), the 12-bit ADC, clipping at its full scale
    (EMVA 1288's saturation: where the output saturates, so an overexposed pixel always reads the
    maximum), and its top 8 bits."""
    signal = np.maximum(plane, 0.0)
    noise = noise_sigma(signal, gain)
    noise *= normal
    signal += noise
    np.clip(signal, 0.0, FULL_SCALE, out=signal)
    signal *= np.float32((ADC_LEVELS - 1) / FULL_SCALE)
    signal += np.float32(0.5)
    adc = signal.astype(np.int32)               # non-negative: truncation is the floor
    adc >>= OUTPUT_SHIFT
    return adc.astype(np.uint8)
