"""Atomic outputs: nothing half-written, debris of a killed writer removed, group-readable files."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from softloc.io import atomic_path, write_text


def test_a_failed_write_leaves_neither_target_nor_temporary(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


def test_leftovers_of_a_killed_writer_are_removed_and_outputs_are_group_readable(tmp_path: Path) -> None:
    leftover = tmp_path / ".out.txt.abc123.tmp"       # what a SIGKILL mid-write leaves behind
    other = tmp_path / ".other.txt.abc123.tmp"        # another target's: not ours to remove
    leftover.write_text("half")
    other.write_text("half")
    write_text("whole", tmp_path / "out.txt")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.txt.abc123.tmp", "out.txt"]
    mode = stat.S_IMODE((tmp_path / "out.txt").stat().st_mode)
    assert mode & stat.S_IRGRP and mode & stat.S_IROTH   # 0644 under the usual umask, not mkstemp's 0600
