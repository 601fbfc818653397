"""Open a user-named file only if it really is inside an allowed folder, in one step.

Checking a path (`realpath`, `is_relative_to`) and then opening it by name leaves a window: a
folder on the way can be swapped for a symlink to elsewhere in between, and `O_NOFOLLOW` guards
only the last component. So the check and the open are the same walk: the allowed root is
opened, then each component of the (already resolved) path is opened relative to the folder
before it with `O_NOFOLLOW`. A symlink met on the way (one swapped in after the path was
resolved) fails the walk instead of being followed, so the file opened is the one inside the root.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Sequence
from contextlib import suppress
from pathlib import Path

_DIR_FLAGS = (
    os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
)
# O_NONBLOCK: a FIFO swapped in must not hang the open.
_FILE_FLAGS = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


# ELOOP: a symlink under O_NOFOLLOW; ENOTDIR: a file where a folder was; EMLINK: BSD's ELOOP.
_SWAPPED = {errno.ELOOP, errno.ENOTDIR, errno.EMLINK}


class Outside(Exception):
    """The path does not resolve inside any allowed root."""


class Moved(Exception):
    """A component was not what it was a moment ago (a symlink or a non-folder): refused."""


def resolve_inside(value: str, roots: Sequence[Path]) -> tuple[Path, Path]:
    """(root, resolved path) for `value`, resolved non-strictly; `Outside` when in no root.

    Non-strict, so a missing file outside the roots reads as outside and the existence of host
    paths cannot be probed. Raises OSError/RuntimeError/ValueError for unresolvable input.
    """
    resolved = Path(value).expanduser().resolve(strict=False)
    for root in sorted(
        (Path(r).expanduser().resolve() for r in roots), key=lambda p: len(p.parts), reverse=True
    ):
        if resolved.is_relative_to(root):
            return root, resolved
    raise Outside(value)


def open_confined(root: Path, resolved: Path) -> int:
    """An fd for `resolved`, opened component by component below `root` without following links.

    Raises FileNotFoundError when a component is missing, `Moved` when one is a symlink or not
    a folder (a swap), other OSError as the system says. The caller owns (closes) the fd.
    """
    parts = resolved.relative_to(root).parts
    if not parts:
        raise IsADirectoryError(str(resolved))
    if os.open not in os.supports_dir_fd:  # Windows: open, then check what was opened
        return _open_then_check(root, resolved)
    fd = os.open(root, _DIR_FLAGS)
    try:
        for name in parts[:-1]:
            try:
                nxt = os.open(name, _DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                if exc.errno in _SWAPPED:
                    raise Moved(name) from None
                raise
            os.close(fd)
            fd = nxt
        try:
            return os.open(parts[-1], _FILE_FLAGS, dir_fd=fd)
        except OSError as exc:
            # The path was resolved with its links followed, so a link here is a new one.
            if exc.errno in _SWAPPED:
                raise Moved(parts[-1]) from None
            raise
    finally:
        with suppress(OSError):
            os.close(fd)


def _open_then_check(root: Path, resolved: Path) -> int:
    """Without `dir_fd`: open by name, then require the opened file to be the one the path names
    now, still inside the root (a swap in between makes the two differ)."""
    fd = os.open(resolved, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    try:
        again = resolved.resolve(strict=True)
        if not again.is_relative_to(root) or not os.path.samestat(os.fstat(fd), os.stat(again)):
            raise Moved(resolved.name)
    except BaseException:
        os.close(fd)
        raise
    return fd
