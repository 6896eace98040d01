"""One Trainer run's lifecycle, the same for pretraining and fine-tuning, which supply only what differs (data,
model, metrics, what the finished folder holds):

    run = TrainerRun(training_args)         before any data is read: the output folder can be written, where the
                                            run writes and what it resumes (`decide_start`, the one resume decision)
    with run.folder(metric=, recipe=):      the Trainer's arguments resolved once (`arguments.resolve_run_arguments`);
                                            a run that replaces a non-empty folder writes beside it and swaps at the
                                            end; what a failed run leaves is cleaned (`staged_output`)
    trainer = run.trainer(model=..., ...)   `GPTTrainer` with the run's checkpoint rotation
    run.train(trainer)                      from the decided checkpoint: complete checkpoints, disk-full reporting,
                                            the stop-signal watcher (the Trainer's part: `trainer.GPTTrainer.train`)
    run.write(what, write)                  a file of the run (pretraining's tokenizer), by the main process, with
                                            disk-full reporting; `run.save_final(trainer, write)` the finished folder

A new safety step is one edit here (or in `GPTTrainer`, where the Trainer owns the step). The Trainer has no notion
of a staging folder or of a resume decision made before the data is read, so those live here.
"""

import contextlib
import json
import logging
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from transformers import TrainingArguments

from ..errors import ArgumentError
from ..output.checkpoint_folders import (
    CHECKPOINT_COMPLETE,
    checkpoint_step,
    last_complete_checkpoint,
    remove_stale_checkpoints,
)
from ..output.paths import check_output_dir, check_writable_folder, replace_folder, reported_write_failures
from .arguments import RunArguments, resolve_run_arguments
from .trainer import GPTTrainer

logger = logging.getLogger(__name__)

# --resume_from_checkpoint values that mean "the last complete checkpoint", and those that mean "a fresh run"
RESUME_LAST, RESUME_NONE, RESUME_AUTO = ("last", "true"), ("", "none", "false"), "auto"


def staging_folder(path: Path) -> Path:
    """Where a run that replaces the non-empty folder `path` writes until it ends."""
    return path.with_name(f".{path.name}.replacing")


@dataclass(frozen=True)
class RunStart:
    """Where a run writes and what it resumes, decided once before any data is read.

    output_dir: the folder the user named.
    work_dir: where the run writes: `output_dir`, or its staging folder when the run replaces a non-empty folder
        (also when it resumes such a run, whose checkpoints are there while the old folder stays as it was).
    checkpoint: the checkpoint folder to resume from; None for a fresh run.
    replaces: what the non-empty `output_dir` a fresh run replaces holds, in words; None when it replaces nothing.
    """

    output_dir: Path
    work_dir: Path
    checkpoint: Path | None
    replaces: str | None = None  # what the folder the run replaces holds (`describe_folder`), for the warnings

    @property
    def replacing(self) -> bool:
        return self.work_dir != self.output_dir


def decide_start(training_args: TrainingArguments) -> RunStart:
    """The one resume decision, before any data is read. `--resume_from_checkpoint auto` resumes from the last
    complete checkpoint when there is one (a requeued job) and starts fresh otherwise; `last` (or `true`) needs
    one; a path must be a complete checkpoint. A fresh run refuses a non-empty folder unless
    `--overwrite_output_dir`. `training_args` is not changed."""
    output_dir = check_writable_folder(training_args.output_dir)
    staging = staging_folder(output_dir)
    value = training_args.resume_from_checkpoint
    wanted = "" if value is None else str(value).lower()
    if wanted not in RESUME_NONE:
        work_dir = staging if last_complete_checkpoint(staging) is not None else output_dir
        replaces = describe_folder(output_dir) if work_dir == staging and output_dir.is_dir() else None
        if wanted != RESUME_AUTO:
            return RunStart(output_dir, work_dir, checkpoint_to_resume(value, work_dir), replaces)
        last = last_complete_checkpoint(work_dir)
        if last is not None:
            return RunStart(output_dir, work_dir, last, replaces)
    check_output_dir(output_dir, training_args.overwrite_output_dir)
    if output_dir.is_dir() and any(output_dir.iterdir()):
        return RunStart(output_dir, staging, None, replaces=describe_folder(output_dir))
    return RunStart(output_dir, output_dir, None)


# The record a finished run leaves in its folder, and the fact of it that says how far the run went.
FINISHED_RUN_RECORDS = (
    ("summary.json", "pretraining", "steps", "steps"),
    ("results.json", "fine-tuning", "kept_step", "kept step"),
)


def describe_folder(path: Path) -> str:
    """What a folder about to be replaced holds, for the warning that names it: a finished run (which, how far, when
    it was written), or how many entries."""
    for name, run, key, label in FINISHED_RUN_RECORDS:
        record = path / name
        if record.is_file():
            try:
                value = json.loads(record.read_text(encoding="utf-8")).get(key)
            except (ValueError, AttributeError):
                value = None
            written = datetime.fromtimestamp(record.stat().st_mtime).strftime("%Y-%m-%d %H:%M")
            return f"a finished {run} run ({label} {value}, written {written})"
    return f"{sum(1 for _ in path.iterdir())} entries and no finished run"


def checkpoint_to_resume(value: str, work_dir: Path) -> Path:
    """`--resume_from_checkpoint`: 'last' / 'true' for the last complete checkpoint in the run's folder, or a
    checkpoint folder, which must be complete."""
    if str(value).lower() in RESUME_LAST:
        checkpoint = last_complete_checkpoint(work_dir)
        if checkpoint is None:
            raise ArgumentError(
                f"--resume_from_checkpoint {value}: no complete checkpoint in {work_dir} to resume "
                "from; drop the flag to start a new run."
            )
        return checkpoint
    path = Path(value)
    if (path / CHECKPOINT_COMPLETE).is_file():
        return path
    if (path / "trainer_state.json").is_file():  # e.g. saved by plain transformers, which writes no marker
        logger.warning(
            "%s has no %s; resuming from it because its trainer_state.json exists.", path, CHECKPOINT_COMPLETE
        )
        return path
    raise ArgumentError(
        f"--resume_from_checkpoint {path} is not a complete checkpoint (no {CHECKPOINT_COMPLETE} or "
        "trainer_state.json); pass a checkpoint-N folder, 'last' or 'auto'."
    )


@contextlib.contextmanager
def staged_output(start: RunStart, is_main: bool = True) -> Iterator[Path]:
    """The folder the run writes to (`start.work_dir`), yielded, to become the run's `output_dir`.

    Replacing a non-empty folder (--overwrite_output_dir): the staging folder replaces the old folder only when the
    run has finished, so the old run's files never mix with the new run's and a failed run leaves the old folder as
    it was; a staging folder holding a complete checkpoint is kept, so `--resume_from_checkpoint last` continues the
    new run there. Otherwise the run writes in place; a folder the run created is removed on failure unless it holds
    a checkpoint (what a failure before the first checkpoint leaves, e.g. a tokenizer, is not a usable run)."""
    path, target = start.output_dir, start.work_dir
    existed = path.exists()
    if start.replacing and start.checkpoint is None and target.exists() and is_main:  # an earlier, abandoned try
        shutil.rmtree(target)
    try:
        yield target
    except BaseException:
        if is_main and start.replacing and last_complete_checkpoint(target) is None:
            shutil.rmtree(target, ignore_errors=True)
        elif is_main and not existed and path.is_dir() and not any(map(checkpoint_step, path.iterdir())):
            shutil.rmtree(path, ignore_errors=True)
        raise
    if is_main and start.replacing:
        replace_folder(path, target)
        logger.warning("Replaced %s (%s) with the new run.", path, start.replaces or "nothing finished")


class TrainerRun:
    """The lifecycle of one Trainer run (module docstring): made before any data is read, so that every check on the
    output folder and the resume decision run first."""

    def __init__(self, training_args: TrainingArguments):
        self.user_args = training_args
        self.start = decide_start(training_args)
        self.is_main = training_args.process_index == 0
        self.arguments: RunArguments | None = None  # resolved when the folder is entered
        if self.is_main and self.start.replaces:
            logger.warning(
                "--overwrite_output_dir: %s holds %s; the new run writes beside it (%s) and replaces it when it "
                "finishes.",
                self.output_dir,
                self.start.replaces,
                self.start.work_dir.name,
            )

    @property
    def output_dir(self) -> Path:
        return self.start.output_dir

    @property
    def resuming(self) -> bool:
        return self.start.checkpoint is not None

    @contextlib.contextmanager
    def folder(self, *, metric: str | None = None, recipe: dict | None = None) -> Iterator[TrainingArguments]:
        """Stage the output folder and resolve the Trainer's arguments once (`metric`, `recipe`: what fine-tuning
        chose from its data); yields them. A fresh run's folder loses stale checkpoints of an earlier run first."""
        with staged_output(self.start, self.is_main) as work_dir:
            self.arguments = resolve_run_arguments(
                self.user_args, work_dir=work_dir, resume=self.start.checkpoint, metric=metric, recipe=recipe
            )
            if self.is_main and not self.resuming:
                remove_stale_checkpoints(work_dir)
            yield self.arguments.trainer_args

    @property
    def work_dir(self) -> Path:
        return Path(self._resolved().trainer_args.output_dir)

    def _resolved(self) -> RunArguments:
        if self.arguments is None:
            raise RuntimeError("TrainerRun: enter `run.folder()` before building or training the Trainer.")
        return self.arguments

    def trainer(self, **kwargs) -> GPTTrainer:
        """A `GPTTrainer` on the resolved arguments, keeping the run's number of complete checkpoints."""
        arguments = self._resolved()
        return GPTTrainer(args=arguments.trainer_args, save_total_limit=arguments.save_total_limit, **kwargs)

    def train(self, trainer: GPTTrainer):
        """Train from the decided checkpoint (or from the start); returns the Trainer's `TrainOutput`."""
        return trainer.train(resume_from_checkpoint=self._resolved().resume)

    def write(self, what: str, write: Callable[[Path], None]) -> None:
        """`write(folder)` into the run's folder on the main process only (the others wait where the run makes them
        wait); a write the disk refuses is one `OutputPathError` naming the folder, `what` was being written and the
        last complete checkpoint, which stays resumable."""
        if self.is_main:
            with reported_write_failures(self.work_dir, what):
                self.work_dir.mkdir(parents=True, exist_ok=True)
                write(self.work_dir)

    def save_final(self, trainer: GPTTrainer, write: Callable[[Path], None]) -> None:
        """`write(folder)` the finished run's files, on the process the Trainer calls the world's first; every process
        waits for it, so none ends (and tears its process group down) while the folder is being written."""
        try:
            if trainer.is_world_process_zero():
                self.write("the final model", write)
        finally:  # also when the write fails: the others must not wait for ever
            trainer.accelerator.wait_for_everyone()
