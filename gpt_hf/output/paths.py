"""Output paths, for every wing that writes: checked before any work (a file in the way, no permission), written
atomically (build in a temporary sibling folder, then move it into place), and a write the disk refuses (full, over
quota, read-only) reported as one line naming the path and the fix.

A crash, an exception or a kill while writing leaves either the old folder or nothing, never a half-written one.
"""

import contextlib
import errno
import logging
import os
import shutil
import tempfile
from pathlib import Path

from ..errors import ArgumentError, OutputPathError
from .checkpoint_folders import last_complete_checkpoint, remove_incomplete_checkpoints

logger = logging.getLogger(__name__)

# Why the system refused a write, by errno: what the user reads in the one-line error.
WRITE_REFUSALS = {
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.ENOTDIR: "a file is in the way of a folder",
}
# torch's zip writer reports a short write (a full disk) as a RuntimeError without an errno.
_TORCH_SHORT_WRITE = ("unexpected pos", "PytorchStreamWriter failed writing")


def _nearest_existing_folder(start: Path, shown: Path, flag: str) -> Path:
    """The nearest existing folder at or above `start`; a file there is an error naming the path the user gave."""
    for folder in (start, *start.absolute().parents):
        if folder.exists():
            if folder.is_dir():
                return folder
            where = "is a file" if folder == shown else f"is below {folder}, which is a file"
            raise OutputPathError(f"{flag} {shown} {where}, not a folder; choose another path (or move the file).")
    return Path(start.absolute().anchor)


def _check_can_write_in(folder: Path, shown: Path, flag: str) -> None:
    try:
        tempfile.TemporaryDirectory(dir=folder, prefix=".gpt_hf-write-check-").cleanup()
    except OSError as err:
        reason = WRITE_REFUSALS.get(err.errno, err.strerror or str(err))
        raise OutputPathError(
            f"{flag} {shown}: cannot write in {folder} ({reason}); choose a folder you can write to."
        ) from None


def check_writable_folder(path: str | os.PathLike, flag: str = "--output_dir") -> Path:
    """`path` can become (or is) a folder this process may write: no file at it or at any parent, and the nearest
    existing folder accepts a new entry (permission, read-only file system). Called before any work starts."""
    path = Path(path)
    _check_can_write_in(_nearest_existing_folder(path, path, flag), path, flag)
    return path


def check_writable_file(path: str | os.PathLike, flag: str) -> Path:
    """A file output (`--output_file`, `--plot`): not a folder, no file in the way above it, its folder exists and
    is writable."""
    path = Path(path)
    if path.is_dir():
        raise OutputPathError(f"{flag} {path} is a folder; give a file path.")
    folder = _nearest_existing_folder(path.parent, path, flag)
    if folder.absolute() != path.parent.absolute():
        raise OutputPathError(f"{flag} {path}: its folder {path.parent} does not exist; create it first.")
    _check_can_write_in(folder, path, flag)
    return path


def write_refusal(error: BaseException) -> str | None:
    """Why the disk refused a write, when `error` is such a refusal (else None)."""
    if isinstance(error, OSError) and error.errno in WRITE_REFUSALS:
        return WRITE_REFUSALS[error.errno]
    if isinstance(error, RuntimeError) and any(text in str(error) for text in _TORCH_SHORT_WRITE):
        return "the disk took only part of a file (no space left, or a quota)"
    return None


@contextlib.contextmanager
def reported_write_failures(folder: str | os.PathLike, what: str = "the output", flag: str = "--output_dir"):
    """Turn a write the disk refuses inside the block into one `OutputPathError` naming the folder, what was being
    written and the fix. In a run's folder, a checkpoint left half-written is removed (it frees the space it held)
    and the message names the last complete checkpoint, which stays resumable."""
    try:
        yield
    except (OSError, RuntimeError) as err:
        reason = write_refusal(err)
        if reason is None or isinstance(err, OutputPathError):
            raise
        folder = Path(folder)
        half_written = remove_incomplete_checkpoints(folder, quiet=True)
        if half_written:
            what = half_written[-1].name
        last = last_complete_checkpoint(folder)
        free = shutil.disk_usage(folder if folder.exists() else folder.parent).free if folder.parent.exists() else 0
        resume = (
            f" The last complete checkpoint, {last.name}, is intact: free space, then rerun with "
            "--resume_from_checkpoint last."
            if last
            else ""
        )
        raise OutputPathError(
            f"{reason} while writing {what} in {folder} ({free / 2**20:.0f} MiB free): free space "
            f"there or choose another {flag}.{resume}"
        ) from err


def check_output_dir(path: str | os.PathLike, overwrite: bool) -> Path:
    """Refuse to write into a non-empty folder unless `overwrite` is set, or where no folder can be written; called
    before any work starts."""
    path = check_writable_folder(path)
    if path.is_dir() and any(path.iterdir()) and not overwrite:
        raise ArgumentError(f"Output folder {path} is not empty; pass --overwrite_output_dir to replace it.")
    return path


@contextlib.contextmanager
def atomic_output_dir(path: str | os.PathLike, overwrite: bool = False):
    """Yield a temporary folder beside `path`; on success it replaces `path`, on failure it is deleted. A write the
    disk refuses is one `OutputPathError` naming `path`."""
    path = check_output_dir(path, overwrite)
    with reported_write_failures(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.partial-", dir=path.parent))
    try:
        with reported_write_failures(path):
            yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    replace_folder(path, staging)
    logger.info("Wrote %s", path)


def replace_folder(path: Path, new: Path) -> None:
    """Put the finished folder `new` at `path`, where an old folder may be: the old one is renamed aside first and
    removed last, so a crash in between leaves one of the two whole under its own name."""
    if not path.exists():
        new.rename(path)
        return
    backup = path.with_name(f".{path.name}.old-{os.getpid()}")
    path.rename(backup)
    new.rename(path)
    shutil.rmtree(backup, ignore_errors=True)
