"""A Trainer run's arguments: what the user gives (`TrainerDefaults`, the base of pretraining's and fine-tuning's
argument classes) and what the Trainer gets, decided once before training starts.

The user's `TrainingArguments` and what the checks found (the folder the run writes to, the checkpoint it resumes,
the task's metric, the fine-tuning recipe's learning rate and epochs) go through one pure function,
`resolve_run_arguments`, into a copy that the Trainer gets and nothing changes afterwards; the user's object is never
modified. Values that depend on the run's length are methods of the arguments instead (the short-run warmup:
`pretrain_arguments.PretrainTrainingArguments.get_warmup_steps`), as litgpt derives them from its unchanged
`TrainArgs`.
"""

import copy
import logging
import os
import sys
from dataclasses import dataclass, field

import torch
from transformers import TrainingArguments

from ..errors import ArgumentError

logger = logging.getLogger(__name__)

DEFAULT_LICENSE = "apache-2.0"  # gpt_hf's own; a model's license is its owner's choice (--license), stated as given

# What a recipe file may not set: replacing a folder that holds a finished run is asked for on the command line, where
# the user sees it, never inherited from a file written for another run.
COMMAND_LINE_ONLY = ("overwrite_output_dir",)


def check_recipe_values(values: dict, source: str) -> None:
    """Refuse a recipe (a JSON file of argument values) that sets a command-line-only flag."""
    found = [key for key in COMMAND_LINE_ONLY if values.get(key)]
    if found:
        raise ArgumentError(
            f"{source} sets {', '.join(found)}: a recipe may not replace an existing output folder. Remove it from "
            f"the recipe, and pass --{found[0]} on the command line when you mean to replace the folder."
        )


def cpu_has_bf16_instructions() -> bool:
    """Whether this CPU computes bf16 natively (AVX512-BF16 or AMX tiles); elsewhere PyTorch emulates it, slowly."""
    cpu = torch.cpu
    return any(getattr(cpu, name, lambda: False)() for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"))


@dataclass
class TrainerDefaults(TrainingArguments):
    """What pretraining and fine-tuning share on top of TrainingArguments: the paper's weight decay and clipping,
    tensorboard logs, the model card's license, quiet runs (no pinned memory without an accelerator, no progress bars
    in a log file), and the checks of a device set-up that cannot run as asked."""

    weight_decay: float = field(
        default=0.01, metadata={"help": "Decoupled weight decay on all weights except biases and LayerNorm gains."}
    )
    max_grad_norm: float = field(default=1.0, metadata={"help": "Gradient clipping norm."})
    logging_steps: float = field(default=50, metadata={"help": "Log every N steps."})
    report_to: None | str | list[str] = field(default="tensorboard", metadata={"help": "Loggers (tensorboard, none)."})
    overwrite_output_dir: bool = field(
        default=False,
        metadata={
            "help": "Replace a non-empty output folder (also one holding a finished run: a warning names it). "
            "Command line only: a recipe file may not set it."
        },
    )
    resume_from_checkpoint: str | None = field(
        default=None,
        metadata={
            "help": "Continue a run: 'last' (the last complete checkpoint in --output_dir; an error if there is "
            "none), 'auto' (the last complete checkpoint if there is one, else a fresh run: for requeued jobs) or "
            "a checkpoint-N folder."
        },
    )
    license: str = field(
        default=DEFAULT_LICENSE,
        metadata={"help": f"The model card's license (a Hub license id); default {DEFAULT_LICENSE}, gpt_hf's own."},
    )

    def __post_init__(self):
        if self.disable_tqdm is None and not sys.stderr.isatty():
            self.disable_tqdm = True  # a log file gets the logged values, not progress bars redrawn with escapes
        if self.use_cpu or not torch.accelerator.is_available():
            self.dataloader_pin_memory = False  # nothing to pin for: torch warns on every DataLoader otherwise
        super().__post_init__()
        if self.bf16 and (self.use_cpu or not torch.cuda.is_available()) and not cpu_has_bf16_instructions():
            logger.warning(
                "bf16 was asked for on a CPU without bf16 instructions (AVX512-BF16 / AMX; this one: %s): PyTorch "
                "emulates bf16 there, and training runs about 15x slower than in fp32 (measured: 44 vs 687 tokens/s; "
                "docs/benchmarks.md). Drop --bf16 on this machine.",
                torch.backends.cpu.get_cpu_capability(),
            )
        fsdp = self.fsdp or os.environ.get("ACCELERATE_USE_FSDP", "false").lower() == "true"  # flag or accelerate
        if fsdp and (self.use_cpu or not torch.accelerator.is_available()):
            # accelerate selects FSDP only for accelerator devices: on CPU the run would silently be plain DDP
            raise ArgumentError(
                "FSDP (--fsdp, or an accelerate FSDP config) needs GPUs or another accelerator: "
                "accelerate applies it only there, and on CPU the run would silently be plain DDP. "
                "Drop it on this machine (torchrun / accelerate launch without it run DDP)."
            )


def check_max_length(max_length: int | None, n_positions: int, flag: str = "--max_length") -> int:
    """The tokens per row: `max_length`, or the model's context when not given; beyond the context is an error."""
    if max_length is None:
        return n_positions
    if max_length > n_positions:
        raise ArgumentError(
            f"{flag} {max_length} exceeds the model's n_positions={n_positions} (its context); use at "
            f"most {n_positions}, or a model with a longer context."
        )
    return max_length


@dataclass(frozen=True)
class RunArguments:
    """A run's resolved arguments.

    trainer_args: what the Trainer reads (output_dir is the folder the run writes to, its staging folder when it
        replaces a non-empty one; the Trainer's own checkpoint rotation and SIGTERM checkpoint are off: gpt_hf's
        callbacks do both, for complete checkpoints only).
    save_total_limit: complete checkpoints to keep (`checkpoints.CompleteCheckpointCallback`).
    resume: the complete checkpoint folder to resume from (`lifecycle.decide_start`); None for a fresh run.
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
    resume: str | os.PathLike | None = None,
    metric: str | None = None,
    recipe: dict | None = None,
) -> RunArguments:
    """The run's arguments from the user's `args` and the facts found before training (a pure function: `args` is
    not changed). `metric`: the task's own metric when the user left `--metric_for_best_model` at its 'task' default
    (higher is better for all of them); `recipe`: `finetune_arguments.resolve_recipe`'s choice of learning rate and
    epochs."""
    resolved = copy.copy(args)
    resolved.output_dir = str(work_dir)
    resume = None if resume is None else str(resume)
    resolved.resume_from_checkpoint = resume
    resolved.save_total_limit = None  # rotation of complete checkpoints only: CompleteCheckpointCallback
    if hasattr(resolved, "enable_jit_checkpoint"):
        resolved.enable_jit_checkpoint = False  # StopOnSignal saves a complete checkpoint on SIGTERM itself
    if metric is not None:
        resolved.metric_for_best_model, resolved.greater_is_better = metric, True
    if recipe is not None:
        resolved.learning_rate, resolved.num_train_epochs = recipe["learning_rate"], recipe["num_train_epochs"]
    return RunArguments(resolved, args.save_total_limit, resume, recipe)
