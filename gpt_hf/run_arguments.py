"""What a Trainer run uses, decided once before training starts.

The user's `TrainingArguments` and what the checks found (the folder the run writes to, the checkpoint it resumes,
the task's metric, the fine-tuning recipe's learning rate and epochs) go through one pure function,
`resolve_run_arguments`, into a copy that the Trainer gets and nothing changes afterwards; the user's object is never
modified. Values that depend on the run's length are methods of the arguments instead (the short-run warmup:
`training.GPTTrainingArguments.get_warmup_steps`), as litgpt derives them from its unchanged `TrainArgs`.
"""

import copy
import os
from dataclasses import dataclass

from transformers import TrainingArguments


@dataclass(frozen=True)
class RunArguments:
    """A run's resolved arguments.

    trainer_args: what the Trainer reads (output_dir is the folder the run writes to, its staging folder when it
        replaces a non-empty one; the Trainer's own checkpoint rotation and SIGTERM checkpoint are off: gpt_hf's
        callbacks do both, for complete checkpoints only).
    save_total_limit: complete checkpoints to keep (`checkpoints.CompleteCheckpointCallback`).
    resume: 'last' or a checkpoint folder to resume from; None for a fresh run.
    recipe: fine-tuning's chosen learning rate and epochs (results.json, the model card); None for pretraining.
    """

    trainer_args: TrainingArguments
    save_total_limit: int | None
    resume: str | None
    recipe: dict | None = None


def resolve_run_arguments(
    args: TrainingArguments,
    *,
    work_dir: str | os.PathLike,
    resume: str | None = None,
    metric: str | None = None,
    recipe: dict | None = None,
) -> RunArguments:
    """The run's arguments from the user's `args` and the facts found before training (a pure function: `args` is
    not changed). `metric`: the task's own metric when the user left `--metric_for_best_model` at its 'task' default
    (higher is better for all of them); `recipe`: `finetuning.resolve_recipe`'s choice of learning rate and epochs."""
    resolved = copy.copy(args)
    resolved.output_dir = str(work_dir)
    resolved.resume_from_checkpoint = resume
    resolved.save_total_limit = None  # rotation of complete checkpoints only: CompleteCheckpointCallback
    if hasattr(resolved, "enable_jit_checkpoint"):
        resolved.enable_jit_checkpoint = False  # StopOnSignal saves a complete checkpoint on SIGTERM itself
    if metric is not None:
        resolved.metric_for_best_model, resolved.greater_is_better = metric, True
    if recipe is not None:
        resolved.learning_rate, resolved.num_train_epochs = recipe["learning_rate"], recipe["num_train_epochs"]
    return RunArguments(resolved, args.save_total_limit, resume, recipe)
