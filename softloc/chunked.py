"""Passes over many image files on all cores: bounded memory, progress in images/s, resumable.

A pass splits its files into chunks of CHUNK_FILES and hands them to a pool of worker processes,
keeping at most IN_FLIGHT_PER_WORKER chunks per worker queued, so memory does not grow with the
number of files; results come back in chunk order. A journal (JSON lines) records every finished
chunk with a digest of its files (path, size, modification time) and the chunk's small result;
a rerun after a kill skips each chunk whose recorded digest still matches its files and ends
with what an uninterrupted run ends with.

Workers are spawned processes (no state inherited from the parent's threads) that die with the
parent: the pool initializer sets PR_SET_PDEATHSIG (Linux) and exits if the parent is already
gone, so a `kill -9` of a stage leaves no orphan decoding on. Each worker runs OpenCV on one
thread: one process per core is the parallelism.
"""

from __future__ import annotations

import collections
import ctypes
import functools
import hashlib
import json
import logging
import multiprocessing
import os
import signal
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import cv2
from tqdm import tqdm

log = logging.getLogger(__name__)

CHUNK_FILES = 64
IN_FLIGHT_PER_WORKER = 2
PR_SET_PDEATHSIG = 1  # linux/prctl.h

Work = Callable[[list[str], int], Any]  # (the chunk's paths, index of its first file) -> JSON-able result


def available_cores() -> int:
    """Cores this process may run on (the affinity mask, not the machine's count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@functools.cache
def worker_pool(workers: int) -> ProcessPoolExecutor:
    """The process's pool of `workers` spawned processes (created once, reused by every pass)."""
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_die_with_parent, initargs=(os.getpid(),))


def _die_with_parent(parent: int) -> None:
    """Pool initializer: SIGKILL this worker when its parent dies; one OpenCV thread."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)
    cv2.setNumThreads(1)


def files_digest(paths: Sequence[str]) -> str:
    """Digest of the files' paths, sizes and modification times (a missing file counts as such)."""
    digest = hashlib.blake2b(digest_size=16)
    for path in paths:
        try:
            st = os.stat(path)
            digest.update(f"{path}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        except FileNotFoundError:
            digest.update(f"{path}\0missing\n".encode())
    return digest.hexdigest()


class Journal:
    """Finished chunks of one pass, appended to a JSON-lines file as they finish.

    The first line holds the pass's `meta` (what the results depend on besides the files); a
    journal with other meta is started afresh. A torn last line (a kill mid-write) is ignored.
    """

    def __init__(self, path: str | os.PathLike, meta: dict[str, Any]) -> None:
        self.path = Path(path)
        self.done: dict[int, tuple[str, Any]] = {}
        lines = self.path.read_text().splitlines() if self.path.is_file() else []
        try:
            head = json.loads(lines[0])["meta"] if lines else None
        except (ValueError, KeyError, TypeError):
            head = None
        if head == meta:
            for line in lines[1:]:
                try:
                    record = json.loads(line)
                except ValueError:
                    break
                self.done[int(record["chunk"])] = (record["digest"], record["result"])
            log.info("%s: resuming, %d chunks recorded", self.path, len(self.done))
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(json.dumps({"meta": meta}) + "\n")
        self._file = open(self.path, "a")

    def add(self, chunk: int, digest: str, result: Any) -> None:
        """Record a finished chunk (flushed at once: a kill after this keeps it)."""
        self._file.write(json.dumps({"chunk": chunk, "digest": digest, "result": result}) + "\n")
        self._file.flush()

    def remove(self) -> None:
        """Delete the journal (the pass is complete and its output in place)."""
        self._file.close()
        self.path.unlink(missing_ok=True)

    def close(self) -> None:
        self._file.close()


def run_chunks(paths: Sequence[str], work: Work, *, workers: int, journal: Journal | None = None,
               desc: str = "", chunk_files: int = CHUNK_FILES) -> Iterator[Any]:
    """Yield `work(chunk_paths, start)` for each chunk of `paths`, in chunk order.

    `work` must be picklable (a module-level function or a functools.partial of one) and return
    JSON-able results when a journal is given; chunks whose journal digest matches their files
    are not run again (their recorded result is yielded). workers == 1 runs in this process.
    """
    starts = range(0, len(paths), chunk_files)
    recorded = journal.done if journal is not None else {}
    pool: Executor | None = worker_pool(workers) if workers > 1 else None
    pending: collections.deque[tuple[int, Future | tuple]] = collections.deque()
    chunks = iter(enumerate(starts))

    def submit() -> bool:
        item = next(chunks, None)
        if item is None:
            return False
        i, start = item
        args = (work, list(map(os.fspath, paths[start : start + chunk_files])), start, recorded.get(i))
        pending.append((i, pool.submit(_run_chunk, *args) if pool is not None else args))
        return True

    with tqdm(total=len(paths), desc=desc, unit="img", smoothing=0.1) as bar:
        for _ in range(IN_FLIGHT_PER_WORKER * workers):
            if not submit():
                break
        try:
            while pending:
                i, task = pending.popleft()
                digest, result, ran = task.result() if isinstance(task, Future) else _run_chunk(*task)
                submit()
                if ran and journal is not None:
                    journal.add(i, digest, result)
                bar.update(min(chunk_files, len(paths) - starts[i]))
                yield result
        finally:
            for _, task in pending:
                if isinstance(task, Future):
                    task.cancel()


def _run_chunk(work: Work, paths: list[str], start: int, recorded: tuple[str, Any] | None) -> tuple[str, Any, bool]:
    """(digest, result, ran): the recorded result when the files are unchanged, else work's."""
    digest = files_digest(paths)
    if recorded is not None and recorded[0] == digest:
        return digest, recorded[1], False
    return digest, work(paths, start), True
