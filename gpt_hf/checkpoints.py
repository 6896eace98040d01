"""Crash-safe checkpoints for the Trainer runs.

transformers writes `checkpoint-N` in place, so a process killed mid-save leaves a folder that `get_last_checkpoint`
would pick. Here a checkpoint counts only once a marker file is written after all its files, `save_total_limit`
rotates complete checkpoints only, and resuming takes the last complete one.
"""

import json
import logging
import re
import shutil
from pathlib import Path

from transformers import TrainerCallback, TrainingArguments

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


def remove_incomplete_checkpoints(output_dir) -> list[Path]:
    """Delete checkpoint folders left half-written by a crash (no completion marker); returns them."""
    folder = Path(output_dir)
    removed = [p for p in folder.iterdir() if checkpoint_step(p) is not None
               and not (p / CHECKPOINT_COMPLETE).is_file()] if folder.is_dir() else []
    for path in removed:
        logger.warning("Removing incomplete checkpoint %s (its save was interrupted).", path)
        shutil.rmtree(path, ignore_errors=True)
    return removed


def remove_stale_checkpoints(output_dir) -> None:
    """Before a fresh run in a reused folder: old checkpoints would count in rotation and in resuming."""
    folder = Path(output_dir)
    for path in (p for p in folder.iterdir() if checkpoint_step(p) is not None) if folder.is_dir() else []:
        logger.warning("Removing %s from an earlier run (--overwrite_output_dir).", path)
        shutil.rmtree(path, ignore_errors=True)


class CompleteCheckpointCallback(TrainerCallback):
    """Write the completion marker after transformers has written every file of a checkpoint, then apply
    `save_total_limit` to complete checkpoints (the Trainer's own rotation is turned off: it runs before the
    marker exists and can delete the last complete checkpoint in favour of one still being written)."""

    def __init__(self, save_total_limit: int | None):
        self.save_total_limit = save_total_limit

    def on_save(self, args, state, control, **kwargs):
        if not state.is_world_process_zero:
            return
        folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if folder.is_dir():
            (folder / CHECKPOINT_COMPLETE).write_text(json.dumps({"global_step": state.global_step}))
        if self.save_total_limit:
            keep = {Path(state.best_model_checkpoint).resolve()} if state.best_model_checkpoint else set()
            complete = complete_checkpoints(args.output_dir)
            for old in complete[: max(0, len(complete) - self.save_total_limit)]:
                if old.resolve() not in keep:
                    shutil.rmtree(old, ignore_errors=True)


def crash_safe_checkpoints(training_args: TrainingArguments) -> CompleteCheckpointCallback:
    """Take over `save_total_limit` from the Trainer; return the callback to pass to it."""
    callback = CompleteCheckpointCallback(training_args.save_total_limit)
    training_args.save_total_limit = None
    return callback


def resolve_resume_checkpoint(value: str | None, output_dir) -> str | None:
    """`--resume_from_checkpoint`: a folder, or 'last' / 'true' for the last complete checkpoint in output_dir."""
    if value is None or str(value).lower() in ("", "none", "false"):
        return None
    if str(value).lower() in ("last", "true"):
        remove_incomplete_checkpoints(output_dir)
        checkpoint = last_complete_checkpoint(output_dir)
        if checkpoint is None:
            raise ValueError(f"No complete checkpoint in {output_dir} to resume from.")
        return str(checkpoint)
    path = Path(value)
    if (path / CHECKPOINT_COMPLETE).is_file():
        return str(path)
    if (path / "trainer_state.json").is_file():  # e.g. saved by plain transformers, which writes no marker
        logger.warning("%s has no %s; resuming from it because its trainer_state.json exists.", path,
                       CHECKPOINT_COMPLETE)
        return str(path)
    raise ValueError(f"{path} is not a complete checkpoint (no {CHECKPOINT_COMPLETE} or trainer_state.json).")
