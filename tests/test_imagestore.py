"""The image store: shapes, row order, resize, the parallel writer and bad input."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from softloc.imagestore import build_store, open_store, resize_longest, resized_shape

TESTS = Path(__file__).resolve().parent


def read_rgb(path: Path) -> np.ndarray:
    """Test loader: an RGB PNG (module level so the process pool can pickle it)."""
    return cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def slow_rgb(path: Path) -> np.ndarray:
    """read_rgb taking 20 ms an image: a store build slow enough to be killed half way."""
    time.sleep(0.02)
    return read_rgb(path)


def write_images(folder: Path, n: int, size: tuple[int, int] = (64, 48), suffix: str = ".png") -> list[Path]:
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        image = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
        image[0, 0] = (i % 256, 255 - i % 256, i // 2 % 256)  # row identity survives in the resized corner
        path = folder / f"{i:04d}{suffix}"
        cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        paths.append(path)
    return paths


def test_resized_shape_keeps_aspect_with_longest_side() -> None:
    assert resized_shape(960, 1280, 240) == (180, 240)
    assert resized_shape(1280, 960, 96) == (96, 72)
    assert resize_longest(np.zeros((960, 1280, 3), np.uint8), 96).shape == (72, 96, 3)


@pytest.mark.parametrize("workers", [1, 2])
def test_store_round_trip_keeps_row_order(tmp_path: Path, workers: int) -> None:
    paths = write_images(tmp_path, 150)  # three chunks of 64
    # reversed order: row i of the store must be image paths[i] of the list given, whatever order workers finish in
    order = paths[::-1]
    out = tmp_path / "images" / "split.npy"
    shape = build_store(order, out, max_side=32, load=read_rgb, workers=workers)
    store = open_store(out)
    assert shape == store.shape == (150, 24, 32, 3) and store.dtype == np.uint8
    for i in (0, 63, 64, 149):
        np.testing.assert_array_equal(store[i], resize_longest(read_rgb(order[i]), 32))
    assert not list(out.parent.glob("*.tmp"))


def test_images_of_another_size_are_an_error_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "odd").mkdir()
    paths = write_images(tmp_path, 3) + write_images(tmp_path / "odd", 1, size=(40, 30))
    out = tmp_path / "bad.npy"
    with pytest.raises(ValueError, match="odd/0000.png: image is 40x30, expected 64x48"):
        build_store(paths, out, max_side=32, load=read_rgb, workers=1)
    assert not out.exists() and not list(tmp_path.glob("*.tmp"))


def test_default_loader_demosaics_a_bayer_png(tmp_path: Path) -> None:
    mosaic = np.random.default_rng(1).integers(0, 256, size=(48, 64), dtype=np.uint8)
    path = tmp_path / "bayer.png"
    cv2.imwrite(str(path), mosaic)
    build_store([path, path], tmp_path / "s.npy", max_side=32, workers=1)
    assert open_store(tmp_path / "s.npy").shape == (2, 24, 32, 3)


def test_open_store_missing_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nothere.npy"):
        open_store(tmp_path / "nothere.npy")


def test_an_odd_first_image_is_the_one_named(tmp_path: Path) -> None:
    (tmp_path / "odd").mkdir()
    paths = write_images(tmp_path / "odd", 1, size=(40, 30)) + write_images(tmp_path, 4)
    with pytest.raises(ValueError, match="odd/0000.png: image is 40x30, expected 64x48"):
        build_store(paths, tmp_path / "bad.npy", max_side=32, load=read_rgb, workers=2)


def test_colour_jpeg_loader_in_worker_processes(tmp_path: Path) -> None:
    paths = write_images(tmp_path, 70, suffix=".jpg")  # two chunks, one per worker
    shape = build_store(paths, tmp_path / "jpg.npy", max_side=32, load=read_rgb, workers=2)
    store = open_store(tmp_path / "jpg.npy")
    assert shape == store.shape == (70, 24, 32, 3)
    np.testing.assert_array_equal(store[69], resize_longest(read_rgb(paths[69]), 32))


class DyingLoader:
    """read_rgb that raises KeyboardInterrupt at its n-th image (a kill in the middle of a build)."""

    def __init__(self, die_at: int) -> None:
        self.calls, self.die_at = 0, die_at

    def __call__(self, path: Path) -> np.ndarray:
        self.calls += 1
        if self.calls == self.die_at:
            raise KeyboardInterrupt("killed")
        return read_rgb(path)


def test_interrupted_build_resumes_from_finished_chunks_byte_identical(tmp_path: Path) -> None:
    paths = write_images(tmp_path, 200)  # chunks of 64: 0-63, 64-127, 128-191, 192-199
    build_store(paths, tmp_path / "straight.npy", max_side=32, load=read_rgb, workers=1)
    resume = tmp_path / "resume"
    dying = DyingLoader(die_at=9 + 140)  # 9 size-sample reads, then rows: dies in the third chunk
    with pytest.raises(KeyboardInterrupt):
        build_store(paths, tmp_path / "out" / "s.npy", max_side=32, load=dying, workers=1, resume_dir=resume)
    assert not (tmp_path / "out" / "s.npy").exists() and (resume / "s.npy.partial").is_file()
    counting = DyingLoader(die_at=-1)
    build_store(paths, tmp_path / "out" / "s.npy", max_side=32, load=counting, workers=1, resume_dir=resume)
    assert counting.calls == 9 + 200 - 128  # the sample, then the chunks not finished before the kill
    assert (tmp_path / "out" / "s.npy").read_bytes() == (tmp_path / "straight.npy").read_bytes()
    assert not list(resume.iterdir())  # partial store and journal gone once the store is in place


def children(pid: int) -> list[int]:
    """Processes whose parent is `pid` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                pass
    return found


def alive(pid: int) -> bool:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="needs Linux /proc")
def test_sigkill_of_a_build_leaves_no_worker_and_the_rerun_is_byte_identical(tmp_path: Path) -> None:
    paths = write_images(tmp_path, 6 * 64)
    build_store(paths, tmp_path / "straight.npy", max_side=32, load=read_rgb, workers=1)
    script = (f"import logging, sys; sys.path[:0] = [{str(TESTS)!r}]\n"
              "logging.basicConfig(level=logging.INFO)\n"
              "from pathlib import Path\n"
              "from softloc.imagestore import build_store\n"
              "from test_imagestore import slow_rgb\n"
              f"paths = sorted(Path({str(tmp_path)!r}).glob('*.png'))\n"
              f"build_store(paths, Path({str(tmp_path / 'out.npy')!r}), 32, load=slow_rgb, workers=2, resume_dir={str(tmp_path / 'resume')!r})\n")
    env = {**os.environ, "PYTHONPATH": str(TESTS.parent)}
    journal = tmp_path / "resume" / "out.npy.journal"
    proc = subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (journal.is_file() and len(journal.read_text().splitlines()) >= 3):  # meta + 2 chunks
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no chunk finished in time"
        time.sleep(0.05)
    workers = children(proc.pid)
    assert workers  # the pool's processes (and multiprocessing's resource tracker)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 20
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in workers if alive(pid)], "workers outlived the killed build"
    assert not (tmp_path / "out.npy").exists()
    rerun = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "resuming" in rerun.stderr
    assert (tmp_path / "out.npy").read_bytes() == (tmp_path / "straight.npy").read_bytes()
