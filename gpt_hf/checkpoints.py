"""Crash-safe checkpoints for the Trainer runs, and runs that stop cleanly when the machine is taken away.

transformers writes `checkpoint-N` in place, so a process killed mid-save leaves a folder that `get_last_checkpoint`
would pick. Here a checkpoint counts only once a marker file is written after all its files, `save_total_limit`
rotates complete checkpoints only, and resuming takes the last complete one. SIGTERM (a scheduler's or a spot
instance's notice before SIGKILL) or SIGINT (Ctrl-C) make the run finish its step, save a complete checkpoint and
stop (`StopOnSignal`); every process of a distributed run agrees on the step.
"""

import contextlib
import json
import logging
import re
import shutil
import signal
import threading
from pathlib import Path

import torch
from transformers import TrainerCallback

from .errors import ArgumentError, RunStopped

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


def resolve_resume_checkpoint(value: str | None, output_dir, remove_incomplete: bool = True) -> str | None:
    """`--resume_from_checkpoint`: a folder, or 'last' / 'true' for the last complete checkpoint in output_dir (the
    half-written ones a killed run left are deleted first, unless `remove_incomplete` is off: the check that runs
    before any work)."""
    if value is None or str(value).lower() in ("", "none", "false"):
        return None
    if str(value).lower() in ("last", "true"):
        if remove_incomplete:
            remove_incomplete_checkpoints(output_dir)
        checkpoint = last_complete_checkpoint(output_dir)
        if checkpoint is None:
            raise ArgumentError(
                f"--resume_from_checkpoint {value}: no complete checkpoint in {output_dir} to resume "
                "from; drop the flag to start a new run."
            )
        return str(checkpoint)
    path = Path(value)
    if (path / CHECKPOINT_COMPLETE).is_file():
        return str(path)
    if (path / "trainer_state.json").is_file():  # e.g. saved by plain transformers, which writes no marker
        logger.warning(
            "%s has no %s; resuming from it because its trainer_state.json exists.", path, CHECKPOINT_COMPLETE
        )
        return str(path)
    raise ArgumentError(
        f"--resume_from_checkpoint {path} is not a complete checkpoint (no {CHECKPOINT_COMPLETE} or "
        "trainer_state.json); pass a checkpoint-N folder, or 'last'."
    )


# Signals that stop a run cleanly, and the exit code each gives (the shell's 128 + signal number).
STOP_SIGNALS = {signal.SIGTERM: 143, signal.SIGINT: 130}


class StopOnSignal(TrainerCallback):
    """On SIGTERM or SIGINT: finish the current optimizer step, save a complete checkpoint (through the Trainer's own
    save, so `CompleteCheckpointCallback` marks it), and stop; `raise_if_stopped` then raises `RunStopped`. A second
    SIGINT interrupts at once. In a distributed run the processes agree at every step (one all-reduce of a flag), so
    all of them save the same step even when the signal reaches them at different times. The stop skips the
    evaluation an epoch end would run, so a resumed run keeps the same best checkpoint as an uninterrupted one.

    Handlers are installed for the duration of `watching()` (around `trainer.train()`), and restored however it ends.
    Replaces transformers' `--enable_jit_checkpoint`, whose checkpoint bypasses the Trainer's save callbacks (so it
    would count as half-written here)."""

    def __init__(self):
        self.signal_number: int | None = None
        self.stopped_at: int | None = None

    def _receive(self, signal_number, frame):
        if signal_number == signal.SIGINT and self.signal_number == signal.SIGINT:
            raise KeyboardInterrupt  # Ctrl-C twice: stop now, without the checkpoint
        self.signal_number = signal_number

    @contextlib.contextmanager
    def watching(self):
        if threading.current_thread() is not threading.main_thread():  # handlers can only be set there
            yield self
            return
        previous = {number: signal.signal(number, self._receive) for number in STOP_SIGNALS}
        try:
            yield self
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)

    def on_step_end(self, args, state, control, **kwargs):
        if self.stopped_at is None and self._agreed(args):
            self.stopped_at = state.global_step
            control.should_save = True
            control.should_training_stop = True
            logger.info(
                "%s received: saving checkpoint-%d, then stopping.",
                signal.Signals(self.signal_number).name,
                state.global_step,
            )

    def on_epoch_end(self, args, state, control, **kwargs):
        if self.stopped_at is not None:  # saved at the step end; no evaluation of a cut-short epoch
            control.should_save = control.should_evaluate = False

    def _agreed(self, args) -> bool:
        if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
            return self.signal_number is not None
        flag = torch.tensor([self.signal_number or 0], device=args.device)
        torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
        self.signal_number = int(flag.item()) or None
        return self.signal_number is not None

    def raise_if_stopped(self, output_dir) -> None:
        """After `trainer.train()` returned: `RunStopped` with the resume instruction if a signal stopped it."""
        if self.stopped_at is None:
            return
        name = signal.Signals(self.signal_number).name
        raise RunStopped(
            f"Stopped by {name} at step {self.stopped_at}: checkpoint-{self.stopped_at} in {output_dir} "
            "is complete. Resume: the same command with --resume_from_checkpoint last (or auto).",
            exit_code=STOP_SIGNALS[self.signal_number],
        )


def run_callbacks(save_total_limit: int | None) -> tuple[list[TrainerCallback], StopOnSignal]:
    """The callbacks every gpt_hf Trainer run takes (`run_arguments.RunArguments` turns the Trainer's own rotation
    and SIGTERM checkpoint off): crash-safe checkpoints keeping `save_total_limit` complete ones, and a clean stop on
    SIGTERM / SIGINT."""
    stopper = StopOnSignal()
    return [CompleteCheckpointCallback(save_total_limit), stopper], stopper
