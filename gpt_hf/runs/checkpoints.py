"""The Trainer callbacks behind crash-safe runs: complete checkpoints, and a clean stop when the machine is taken away.

transformers writes `checkpoint-N` in place, so a process killed mid-save leaves a folder that `get_last_checkpoint`
would pick. Here a checkpoint counts only once a marker file is written after all its files
(`output.checkpoint_folders`), and `save_total_limit` rotates complete checkpoints only. SIGTERM (a scheduler's or a
spot instance's notice before SIGKILL) or SIGINT (Ctrl-C) make the run finish its step, save a complete checkpoint
and stop (`StopOnSignal`); every process of a distributed run agrees on the step.
"""

import contextlib
import json
import logging
import shutil
import signal
import threading
from pathlib import Path

import torch
from transformers import TrainerCallback

from ..errors import RunStopped
from ..output.checkpoint_folders import CHECKPOINT_COMPLETE, complete_checkpoints

logger = logging.getLogger(__name__)


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


class RunProgress(TrainerCallback):
    """Where a run started and how far this process took it: the resume line ("Resuming from checkpoint-N (step N of
    M)"), and the steps run by this process, which a resumed run's throughput divides by (not the steps before the
    checkpoint it resumed from)."""

    def __init__(self):
        self.resumed_from: str | None = None  # the checkpoint's folder name; set by GPTTrainer.train
        self.start_step = 0
        self.end_step = 0

    def on_train_begin(self, args, state, control, **kwargs):
        self.start_step = self.end_step = state.global_step  # after the Trainer loaded the checkpoint's state
        if self.resumed_from and state.is_world_process_zero:
            logger.info("Resuming from %s (step %d of %d).", self.resumed_from, state.global_step, state.max_steps)

    def on_step_end(self, args, state, control, **kwargs):
        self.end_step = state.global_step

    @property
    def steps_run(self) -> int:
        return self.end_step - self.start_step
