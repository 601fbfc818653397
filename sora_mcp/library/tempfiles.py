"""Temp files under the data directory: unique names, removal on every path, a start-up sweep.

Every temp file sora-mcp makes is named `sora-tmp-<pid>-<random><suffix>`, so the sweep
removes only its own files and can tell a live server's files from those a killed one left.
`atomic_replace` moves a finished file into place durably (fsync, rename, fsync the folder).
"""

from __future__ import annotations

import errno
import os
import secrets
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

PREFIX = "sora-tmp-"
# A file whose creator is still alive is left alone unless it is this old (pid reuse).
LIVE_OWNER_GRACE_S = 6 * 3600


PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def private_dir(path: Path) -> Path:
    """Make `path` (and missing parents) a folder only its owner can enter: 0700.

    Prompts, keys in memory dumps and videos are the user's; other local users get nothing.
    An existing folder that is more open is narrowed (we made it, or the user pointed us at it).
    """
    path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    with suppress(OSError):
        if path.stat().st_mode & 0o077:
            os.chmod(path, PRIVATE_DIR)
    return path


def private_file(path: Path) -> None:
    """Narrow an existing file to 0600 (a missing one is fine: nothing to protect)."""
    with suppress(FileNotFoundError, PermissionError):
        if path.stat().st_mode & 0o077:
            os.chmod(path, PRIVATE_FILE)


def new_temp_name(suffix: str = "") -> str:
    return f"{PREFIX}{os.getpid()}-{secrets.token_hex(8)}{suffix}"


def create_temp(tmp_dir: Path, suffix: str = "") -> tuple[int, Path]:
    """Create an empty, private temp file (O_EXCL: never reuse someone else's) and open it for writing."""
    tmp_dir.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    while True:
        path = tmp_dir / new_temp_name(suffix)
        try:
            return os.open(path, flags, PRIVATE_FILE), path
        except FileExistsError:  # pragma: no cover - 64 random bits
            continue


@contextmanager
def temp_path(tmp_dir: Path, suffix: str = "") -> Iterator[Path]:
    """Reserve a unique temp file path (created empty) and remove it on exit, whatever happens."""
    fd, path = create_temp(tmp_dir, suffix)
    os.close(fd)
    try:
        yield path
    finally:
        with suppress(FileNotFoundError):
            path.unlink()


def _owner_alive(name: str) -> bool:
    try:
        pid = int(name[len(PREFIX) :].split("-", 1)[0])
    except ValueError:
        return False
    if pid <= 0:  # kill(0) would signal our own process group
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def sweep_temp(tmp_dir: Path, max_age_s: float = 0) -> int:
    """Remove stale temp files this package created; return how many were removed.

    A file is stale when it is at least `max_age_s` old and the process that made it is
    gone (or it is older than `LIVE_OWNER_GRACE_S`): a second server sharing the data
    directory keeps its in-flight downloads.
    """
    if not tmp_dir.is_dir():
        return 0
    removed = 0
    now = time.time()
    for entry in os.scandir(tmp_dir):
        if not entry.name.startswith(PREFIX):
            continue
        try:
            st = entry.stat(follow_symlinks=False)
        except FileNotFoundError:
            continue
        age = now - st.st_mtime
        if age < max_age_s:
            continue
        if _owner_alive(entry.name) and age < LIVE_OWNER_GRACE_S:
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
            removed += 1
        except FileNotFoundError:
            continue
    return removed


def fsync_dir(directory: Path) -> None:
    """Make a rename durable; some filesystems cannot open a directory, which is harmless."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_replace(src: Path, dest: Path) -> None:
    """Move a finished (already fsynced) file to `dest` atomically, across filesystems if needed.

    On EXDEV the bytes are copied to a temp file beside `dest` first, so `dest` is still
    replaced in one rename and a failed copy never leaves a half-written `dest`.
    """
    dest.parent.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    try:
        os.replace(src, dest)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        fd, near = create_temp(dest.parent, dest.suffix)
        try:
            with open(src, "rb") as fin, os.fdopen(fd, "wb") as fout:
                shutil.copyfileobj(fin, fout, 1 << 20)
                fout.flush()
                os.fsync(fout.fileno())
            os.replace(near, dest)
        except BaseException:
            with suppress(FileNotFoundError):
                near.unlink()
            raise
        with suppress(FileNotFoundError):
            src.unlink()
    fsync_dir(dest.parent)
