"""Write output folders atomically: build in a temporary sibling folder, then move it into place.

A crash, an exception or a kill while writing leaves either the old folder or nothing, never a half-written one.
"""

import contextlib
import logging
import os
import shutil
import tempfile
from pathlib import Path

from .checkpoints import checkpoint_step

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


@contextlib.contextmanager
def run_output_dir(training_args, resuming: bool):
    """The folder a Trainer run writes to, set as `training_args.output_dir` for the run.

    Replacing a non-empty folder (--overwrite_output_dir): the run writes into a staging folder beside it, which
    replaces the old folder only when the run has finished, so the old run's files (predictions, results, logs)
    never mix with the new run's and a failed run leaves the old folder as it was. Otherwise the run writes in place
    (its checkpoints are there to resume from); a folder the run created is removed on failure unless it holds a
    checkpoint (what a failure before the first checkpoint leaves, e.g. a tokenizer, is not a usable run)."""
    path = Path(training_args.output_dir)
    replacing = not resuming and path.is_dir() and any(path.iterdir())
    existed = path.exists()
    target = path.with_name(f".{path.name}.replacing") if replacing else path
    is_main = getattr(training_args, "process_index", 0) == 0
    if replacing and target.exists() and is_main:  # left by a killed run
        shutil.rmtree(target)
    training_args.output_dir = str(target)
    try:
        yield target
    except BaseException:
        if is_main and replacing:
            shutil.rmtree(target, ignore_errors=True)
        elif is_main and not existed and path.is_dir() and not any(map(checkpoint_step, path.iterdir())):
            shutil.rmtree(path, ignore_errors=True)
        raise
    finally:
        training_args.output_dir = str(path)
    if is_main and replacing:
        backup = path.with_name(f".{path.name}.old-{os.getpid()}")
        path.rename(backup)
        target.rename(path)
        shutil.rmtree(backup, ignore_errors=True)
        logger.info("Replaced %s with the new run.", path)
