"""Checkpoint folders on disk: which `checkpoint-N` folders a run has, which of them are complete, and the removal of
half-written ones.

transformers writes `checkpoint-N` in place, so a process killed mid-save leaves a folder that `get_last_checkpoint`
would pick. A checkpoint counts here only once its completion marker is written after all its files (the runs'
`CompleteCheckpointCallback` writes it). This room is below every wing that writes files: the disk-full report
(`output.paths.reported_write_failures`) removes a half-written checkpoint and names the last complete one.
"""

import logging
import re
import shutil
from pathlib import Path

logger = logging.getLogger(__name__)

CHECKPOINT_COMPLETE = "gpt_hf_checkpoint_complete.json"
_CHECKPOINT_NAME = re.compile(r"^checkpoint-(\d+)$")


def checkpoint_step(path: Path) -> int | None:
    match = _CHECKPOINT_NAME.match(path.name)
    return int(match.group(1)) if match and path.is_dir() else None


def complete_checkpoints(output_dir) -> list[Path]:
    """Checkpoint folders whose completion marker exists, oldest step first."""
    folder = Path(output_dir)
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir() if checkpoint_step(p) is not None and (p / CHECKPOINT_COMPLETE).is_file()]
    return sorted(found, key=checkpoint_step)


def last_complete_checkpoint(output_dir) -> Path | None:
    checkpoints = complete_checkpoints(output_dir)
    return checkpoints[-1] if checkpoints else None


def remove_incomplete_checkpoints(output_dir, quiet: bool = False) -> list[Path]:
    """Delete checkpoint folders left half-written by a crash (no completion marker); returns them, oldest first."""
    folder = Path(output_dir)
    removed = (
        sorted(
            (p for p in folder.iterdir() if checkpoint_step(p) is not None and not (p / CHECKPOINT_COMPLETE).is_file()),
            key=checkpoint_step,
        )
        if folder.is_dir()
        else []
    )
    for path in removed:
        if not quiet:
            logger.warning("Removing incomplete checkpoint %s (its save was interrupted).", path)
        shutil.rmtree(path, ignore_errors=True)
    return removed


def remove_stale_checkpoints(output_dir) -> None:
    """Before a fresh run in a reused folder: old checkpoints would count in rotation and in resuming."""
    folder = Path(output_dir)
    for path in (p for p in folder.iterdir() if checkpoint_step(p) is not None) if folder.is_dir() else []:
        logger.warning("Removing %s from an earlier run (--overwrite_output_dir).", path)
        shutil.rmtree(path, ignore_errors=True)
