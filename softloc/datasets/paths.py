"""Image paths stay inside their image root, and each file is listed once.

Every image path a format reads (a list file's row, a folder walk, a name built from a pose
file) is resolved with its symlinks (os.path.realpath) and must lie inside the image root, itself
resolved (so the root may be a symlink to another disk, but nothing under it may lead out). A
list entry `../../evil.jpg`, an absolute path or a symlink pointing outside the root is an error
naming the row; two rows resolving to the same file are an error naming both.

Resolving is cheap: the real path of each folder is computed once, and a file costs one lstat
(is it a symlink?), so a 250k-row list takes seconds.
"""

from __future__ import annotations

import os
from typing import Callable, Iterable


def check_inside(root: str | os.PathLike, paths: Iterable[str | os.PathLike], describe: Callable[[int], str]) -> None:
    """Every one of `paths` (relative to `root`) resolves inside `root`, and no two to the same file.

    `describe(i)` names row i for the error (e.g. "lists.mat: 'dbImageFns' row 3"): an error says
    which row, what it holds, where it leads and that it must stay inside the root.
    """
    real_root = os.path.realpath(root)
    prefix = real_root.rstrip(os.sep) + os.sep
    folders: dict[str, str] = {}
    seen: dict[str, int] = {}
    for i, rel in enumerate(paths):
        rel = os.fspath(rel)
        real = _resolve(os.path.join(real_root, rel), folders)
        if not real.startswith(prefix):
            raise ValueError(f"{describe(i)}: image path {rel!r} resolves to {real}, outside the image root "
                             f"{real_root} (no '..', absolute path or symlink may lead out of it)")
        first = seen.setdefault(real, i)
        if first != i:
            raise ValueError(f"{describe(i)}: image path {rel!r} is the file of {describe(first)} again ({real}); "
                             "a list names each image once")


def _resolve(path: str, folders: dict[str, str]) -> str:
    """os.path.realpath(path), each folder resolved once (cached in `folders`)."""
    head, tail = os.path.split(path)
    if tail in ("", ".", ".."):
        return os.path.realpath(path)
    if head not in folders:
        folders[head] = os.path.realpath(head)
    candidate = os.path.join(folders[head], tail)
    return os.path.realpath(candidate) if os.path.islink(candidate) else candidate
