"""Write output folders atomically: build in a temporary sibling folder, then move it into place.

A crash, an exception or a kill while writing leaves either the old folder or nothing, never a half-written one.
"""

import contextlib
import logging
import os
import shutil
import tempfile
from pathlib import Path

logger = logging.getLogger(__name__)


def check_output_dir(path: str | os.PathLike, overwrite: bool) -> Path:
    """Refuse to write into a non-empty folder unless `overwrite` is set; called before any work starts."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"Output path {path} exists and is a file; pass a folder path.")
    if path.is_dir() and any(path.iterdir()) and not overwrite:
        raise ValueError(f"Output folder {path} is not empty; pass --overwrite_output_dir to replace it.")
    return path


@contextlib.contextmanager
def atomic_output_dir(path: str | os.PathLike, overwrite: bool = False):
    """Yield a temporary folder beside `path`; on success it replaces `path`, on failure it is deleted."""
    path = check_output_dir(path, overwrite)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.partial-", dir=path.parent))
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if path.exists():
        backup = path.with_name(f".{path.name}.old-{os.getpid()}")
        path.rename(backup)
        staging.rename(path)
        shutil.rmtree(backup, ignore_errors=True)
    else:
        staging.rename(path)
    logger.info("Wrote %s", path)
