"""What fine-tuning takes: the task and its data (`FinetuneDataArguments`), the pretrained model and its head
(`FinetuneModelArguments`), and the paper's fine-tuning recipe as `TrainingArguments` defaults
(`FinetuneTrainingArguments`), with `resolve_recipe` choosing the learning rate and epochs the user left unset."""

import logging
import math
from dataclasses import dataclass, field

from ..data.units import DocumentArguments
from ..errors import ArgumentError, check_at_least_one, check_fraction
from ..interop.loading import ModelLoadingArguments
from ..model.configuration_gpt_hf import CLASSIFIER_POOLINGS
from ..tasks.benchmarks import BENCHMARKS
from ..tasks.columns import INPUT_COLUMNS
from ..tasks.prediction_kinds import KIND_OF_PROBLEM_TYPE
from ..tasks.types import TASK_TYPES, TaskType, get_task_type
from .arguments import TrainerDefaults

logger = logging.getLogger(__name__)

PROBLEM_TYPES = tuple(KIND_OF_PROBLEM_TYPE)  # the problem types transformers knows


@dataclass
class FinetuneDataArguments(DocumentArguments):
    task: str | None = field(
        default=None,
        metadata={
            "help": f"Task type: {tuple(TASK_TYPES)} (and any registered "
            "with gpt_hf.tasks.types.register_task_type). Implied "
            "by --benchmark."
        },
    )
    benchmark: str | None = field(
        default=None,
        metadata={
            "help": "Ready-made benchmark: built-in self-labelled "
            f"{sorted(name for name, benchmark in BENCHMARKS.items() if benchmark.offline)} (offline) or "
            f"{sorted(name for name, benchmark in BENCHMARKS.items() if not benchmark.offline)} (needs network)."
        },
    )
    corpus_files: list[str] | None = field(
        default=None, metadata={"help": "Corpus for the self-labelled tasks (default: the built-in corpus)."}
    )
    dataset_name: str | None = field(default=None, metadata={"help": "A `datasets` name (needs network)."})
    dataset_config: str | None = field(default=None, metadata={"help": "The dataset's configuration name."})
    train_file: str | None = field(default=None, metadata={"help": "Local csv / json / jsonl / parquet file."})
    validation_file: str | None = field(default=None, metadata={"help": "Local validation file."})
    test_file: str | None = field(default=None, metadata={"help": "Local test file (predictions are written)."})
    text_column: str = field(default="text", metadata={"help": "Text (or premise / first sentence) column."})
    text_pair_column: str | None = field(default=None, metadata={"help": "Hypothesis / second sentence column."})
    context_column: str | None = field(default=None, metadata={"help": "Multiple choice: the context column."})
    choice_columns: list[str] | None = field(
        default=None, metadata={"help": "Multiple choice: one column per choice, or one column holding a list."}
    )
    label_column: str = field(
        default="label",
        metadata={"help": "Label column: class names or ids, scores, lists of labels (multi-label), choice index."},
    )
    problem_type: str | None = field(
        default=None,
        metadata={
            "help": "single_label_classification, multi_label_classification or regression "
            "(default: from the task and the labels)."
        },
    )
    max_length: int | None = field(default=None, metadata={"help": "Tokens per row (default: n_positions)."})
    max_train_samples: int | None = field(default=None, metadata={"help": "Use only the first N training rows."})
    max_eval_samples: int | None = field(default=None, metadata={"help": "Use only the first N validation rows."})
    max_test_samples: int | None = field(
        default=None, metadata={"help": "Use only the first N test rows (predicted and scored; default: all)."}
    )
    validation_split_fraction: float = field(
        default=0.1, metadata={"help": "Share of training rows held out when there is no validation split."}
    )
    drop_empty_rows: bool = field(
        default=False,
        metadata={
            "help": "Leave out rows whose text is empty (default: they are an error); the "
            "count dropped per split goes to results.json."
        },
    )

    def __post_init__(self):
        super().__post_init__()
        if self.benchmark is not None:
            if self.benchmark not in BENCHMARKS:
                raise ArgumentError(f"Unknown benchmark {self.benchmark!r}; choose one of {sorted(BENCHMARKS)}.")
            benchmark = BENCHMARKS[self.benchmark]
            if self.task is not None and self.task != benchmark.task:
                raise ArgumentError(f"--benchmark {self.benchmark} is a {benchmark.task} task, not {self.task}.")
            self.task = benchmark.task
            self.problem_type = self.problem_type or benchmark.problem_type
        task_type = get_task_type(self.task)
        if self.benchmark is None and self.dataset_name is None and self.train_file is None:
            raise ArgumentError("No data: pass --benchmark, --dataset_name or --train_file.")
        if self.benchmark is None:
            named = self.user_columns()
            unnamed = [INPUT_COLUMNS[column] for column in task_type.inputs if not named[column]]
            if unnamed:
                raise ArgumentError(
                    f"A {self.task} task reads the columns {task_type.inputs}: it needs "
                    f"{' and '.join(unnamed)} (the column names in your data)."
                )
        if self.problem_type not in (None, *PROBLEM_TYPES):
            raise ArgumentError(f"--problem_type {self.problem_type!r} is not one of {PROBLEM_TYPES}.")
        if self.max_length is not None and self.max_length < 4:
            raise ArgumentError(
                f"--max_length must be at least 4 (start, delimiter, extract and one token), got {self.max_length}."
            )
        check_at_least_one(self, "max_train_samples", "max_eval_samples", "max_test_samples")
        check_fraction(self.validation_split_fraction, "--validation_split_fraction")

    @property
    def task_type(self) -> TaskType:
        return TASK_TYPES[self.task]

    def user_columns(self) -> dict[str, list[str]]:
        """Normalised column -> the user's columns that fill it (several context columns are joined)."""
        return {
            "text": [self.text_column] if self.text_column else [],
            "text_pair": [self.text_pair_column] if self.text_pair_column else [],
            "context": [self.context_column] if self.context_column else [],
            "choices": list(self.choice_columns or []),
        }


# The paper's fine-tuning recipe (section 4.1) was tuned for the 768-wide 117M model. The "scaled" recipe keeps it at
# that width and scales the learning rate inversely with the width elsewhere (the muP rule for Adam on hidden
# weights: narrower models take larger steps), and gives small data sets enough optimizer steps to move at all
# (300 labels x 3 epochs at batch 32 is 30 steps). Evidence: docs/results.md, "Fine-tuning defaults".
PAPER_WIDTH, PAPER_LEARNING_RATE, PAPER_EPOCHS = 768, 6.25e-5, 3.0
MIN_FINETUNE_STEPS = 100
RECIPES = ("scaled", "paper")

TASK_METRIC = "task"  # --metric_for_best_model's default: the task type's own metric, resolved once labels are read


@dataclass
class FinetuneTrainingArguments(TrainerDefaults):
    """TrainingArguments with the paper's fine-tuning recipe as defaults; `--recipe scaled` (`resolve_recipe`) scales
    its learning rate and epochs to the model and the data."""

    recipe: str = field(
        default="scaled",
        metadata={
            "help": "Fine-tuning recipe for what you leave unset: 'paper' (lr 6.25e-5, 3 "
            "epochs: chosen for the 768-wide 117M model) or 'scaled' (the paper's "
            "at width 768; lr x 768 / n_embd for other widths, and enough epochs "
            f"for {MIN_FINETUNE_STEPS} optimizer steps on small data sets)."
        },
    )
    learning_rate: float | None = field(
        default=None, metadata={"help": "Body learning rate (default: from --recipe; paper: 6.25e-5)."}
    )
    lr_scheduler_type: str = field(default="linear", metadata={"help": "Paper: linear decay."})
    warmup_steps: float = field(default=0.002, metadata={"help": "Paper: warmup over 0.2% of training."})
    per_device_train_batch_size: int = field(default=32, metadata={"help": "Paper: batch 32."})
    num_train_epochs: float | None = field(default=None, metadata={"help": "Default: from --recipe (paper: 3)."})
    eval_strategy: str = field(default="epoch", metadata={"help": "Evaluate every epoch."})
    save_strategy: str = field(default="epoch", metadata={"help": "Checkpoint every epoch."})
    load_best_model_at_end: bool = field(default=True, metadata={"help": "Keep the best checkpoint."})
    metric_for_best_model: str | None = field(
        default=TASK_METRIC,
        metadata={
            "help": f"Validation metric that picks the kept checkpoint: '{TASK_METRIC}' = the "
            "task's own (accuracy, F1, Pearson…; results.json names it), or any "
            "eval metric name such as 'loss' (which includes the auxiliary LM "
            "loss)."
        },
    )
    save_total_limit: int | None = field(default=2, metadata={"help": "Complete checkpoints kept."})
    logging_steps: float = field(default=20, metadata={"help": "Log every N steps."})
    head_lr_multiplier: float = field(
        default=10.0,
        metadata={
            "help": "Learning rate of the new task head = learning_rate x this (the body, "
            "already trained, moves less than the new layer); 1 disables."
        },
    )

    layer_lr_decay: float = field(
        default=1.0,
        metadata={
            "help": "Layer-wise learning rates (ULMFiT): each block below the last learns at this times the rate of "
            "the one above it, the embeddings below the first block; 1 disables (the paper)."
        },
    )

    def __post_init__(self):
        super().__post_init__()
        if self.recipe not in RECIPES:
            raise ArgumentError(f"--recipe {self.recipe!r} is not one of {RECIPES}.")
        if self.learning_rate is not None and self.learning_rate <= 0:
            raise ArgumentError(f"--learning_rate must be > 0, got {self.learning_rate}.")
        if self.max_steps <= 0 and self.num_train_epochs is not None and self.num_train_epochs <= 0:
            raise ArgumentError(f"--num_train_epochs must be > 0 (or give --max_steps), got {self.num_train_epochs}.")
        if self.head_lr_multiplier <= 0:
            raise ArgumentError(f"--head_lr_multiplier must be > 0, got {self.head_lr_multiplier}.")
        if not 0.0 < self.layer_lr_decay <= 1.0:
            raise ArgumentError(
                f"--layer_lr_decay must be in (0, 1] (1: one rate for every layer), got {self.layer_lr_decay}."
            )


@dataclass
class FinetuneModelArguments(ModelLoadingArguments):
    model_name_or_path: str = field(metadata={"help": "Pretrained gpt_hf folder (ours, or converted)."})
    from_scratch: bool = field(default=False, metadata={"help": "Same architecture, random weights (ablation)."})
    aux_lm_weight: float | None = field(
        default=None,
        metadata={
            "help": "Auxiliary LM loss weight (paper: 0.5; 0 = off). Default: the model folder's "
            "(0.5 for a folder saved by pretraining)."
        },
    )
    classifier_dropout: float = field(default=0.1, metadata={"help": "Dropout before the task head."})
    classifier_pooling: str | None = field(
        default=None,
        metadata={
            "help": f"What the task head reads: {tuple(CLASSIFIER_POOLINGS)} ('extract' is the paper's extract-token "
            "state). Default: the model folder's."
        },
    )
    transfer_layers: int | None = field(
        default=None,
        metadata={
            "help": "Keep the pretrained embeddings and the first N blocks, re-initialise the "
            "rest (the paper's Figure 2, left). Default: every block."
        },
    )

    def __post_init__(self):
        super().__post_init__()
        if self.transfer_layers is not None and (self.transfer_layers < 0 or self.from_scratch):
            raise ArgumentError(
                "--transfer_layers must be >= 0 and needs pretrained weights (not --from_scratch), got "
                f"{self.transfer_layers}{' with --from_scratch' if self.from_scratch else ''}."
            )
        if self.aux_lm_weight is not None and self.aux_lm_weight < 0:
            raise ArgumentError(
                f"--aux_lm_weight must be >= 0 (0 turns the auxiliary LM loss off), got {self.aux_lm_weight}."
            )
        if self.classifier_pooling not in (None, *CLASSIFIER_POOLINGS):
            raise ArgumentError(
                f"--classifier_pooling must be one of {tuple(CLASSIFIER_POOLINGS)}, got {self.classifier_pooling!r}."
            )
        if not 0.0 <= self.classifier_dropout < 1.0:
            raise ArgumentError(f"--classifier_dropout must be in [0, 1), got {self.classifier_dropout}.")


def resolve_recipe(training_args, n_embd: int, train_rows: int) -> dict:
    """The learning rate and epochs of the run: the user's, or by `training_args.recipe` where left unset; returns
    what was chosen (for the run's arguments, results.json and the model card). `training_args` is not changed."""
    given = {
        "learning_rate": training_args.learning_rate is not None,
        "num_train_epochs": training_args.num_train_epochs is not None,
    }
    scaled = training_args.recipe == "scaled"
    learning_rate, epochs = training_args.learning_rate, training_args.num_train_epochs
    if not given["learning_rate"]:
        learning_rate = PAPER_LEARNING_RATE * (PAPER_WIDTH / n_embd if scaled else 1.0)
    if not given["num_train_epochs"]:
        batch = (
            training_args.per_device_train_batch_size
            * training_args.gradient_accumulation_steps
            * max(training_args.world_size, 1)
        )
        steps_per_epoch = math.ceil(train_rows / batch)
        epochs = max(PAPER_EPOCHS, math.ceil(MIN_FINETUNE_STEPS / steps_per_epoch)) if scaled else PAPER_EPOCHS
    chosen = {
        "recipe": training_args.recipe,
        "learning_rate": learning_rate,
        "num_train_epochs": epochs,
        "given": sorted(name for name, was_given in given.items() if was_given),
    }
    logger.info("Fine-tuning recipe: %s", chosen)
    return chosen
