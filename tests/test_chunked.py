"""Chunked passes (softloc.chunked) and the clean stage's exposure pass on them: results in order,
resumed from a journal after a kill, chunks of changed files redone, workers in processes."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from softloc import clean
from softloc.chunked import Journal, run_chunks
from softloc.datasets.formats import robotcar_raw as robotcar


def write_mosaics(folder: Path, n: int) -> list[Path]:
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        path = folder / f"{i:04d}.png"
        cv2.imwrite(str(path), rng.integers(0, 256, size=(12, 16), dtype=np.uint8))
        paths.append(path)
    return paths


def lengths(paths: list[str], start: int) -> list[int]:
    """A chunk's work: (start, name length) of each file (module level: the pool pickles it)."""
    return [start + len(Path(p).name) for p in paths]


def test_results_come_in_chunk_order_from_worker_processes(tmp_path: Path) -> None:
    paths = [str(p) for p in write_mosaics(tmp_path, 150)]
    out = list(run_chunks(paths, lengths, workers=2, chunk_files=16))
    assert len(out) == 10 and out[0] == [8] * 16 and out[-1] == [144 + 8] * 6


def test_journal_with_other_meta_starts_afresh(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.jsonl", {"pass": "a"})
    journal.add(0, "digest", [1])
    journal.close()
    assert Journal(tmp_path / "j.jsonl", {"pass": "a"}).done == {0: ("digest", [1])}
    assert Journal(tmp_path / "j.jsonl", {"pass": "b"}).done == {}
    with open(tmp_path / "j.jsonl", "a") as f:  # a torn last line, as a kill mid-write leaves
        f.write('{"chunk": 3, "dig')
    assert Journal(tmp_path / "j.jsonl", {"pass": "b"}).done == {}


def test_exposure_pass_resumes_after_a_kill_and_redoes_changed_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = write_mosaics(tmp_path, 150)  # chunks of 64: 0-63, 64-127, 128-149
    expected_means, expected_sizes = clean.mean_intensities(paths, workers=2)
    assert np.allclose(expected_means, [cv2.imread(str(p), cv2.IMREAD_UNCHANGED).mean() for p in paths])
    assert (expected_sizes == [12, 16]).all()

    reads = {"n": 0}
    real_read = robotcar.read_mosaic

    def read(path):
        reads["n"] += 1
        if reads["n"] == 100:
            raise KeyboardInterrupt("killed")
        return real_read(path)

    monkeypatch.setattr(robotcar, "read_mosaic", read)
    journal = tmp_path / "resume" / "t.jsonl"
    with pytest.raises(KeyboardInterrupt):
        clean.mean_intensities(paths, resume=journal, workers=1)
    reads["n"] = 0
    means, sizes = clean.mean_intensities(paths, resume=journal, workers=1)
    assert reads["n"] == 150 - 64  # the first chunk was recorded before the kill
    assert np.array_equal(means, expected_means) and np.array_equal(sizes, expected_sizes)

    reads["n"] = 0
    cv2.imwrite(str(paths[140]), np.full((12, 16), 7, np.uint8))
    os.utime(paths[140], ns=(0, 0))
    means, _ = clean.mean_intensities(paths, resume=journal, workers=1)
    assert reads["n"] == 22 and means[140] == 7.0  # only the changed file's chunk is read again
