"""Task fine-tuning as in the paper: data -> normalised columns -> task transform -> task head -> Trainer -> folder.

What differs between task types (columns, transform, head, labels) is looked up in `task_types.TASK_TYPES`:
    classification   [start] text [extract]                       class ids, or lists of labels (multi-label)
    regression       [start] text [extract]                       real scores
    entailment       [start] premise [delim] hypothesis [extract] class ids
    similarity       both orderings of a pair, summed             class ids, or real scores (STS-B)
    multiple_choice  one row per choice                           index of the right choice
Ready-made benchmarks map their usual `datasets` shapes onto these; the built-in self-labelled tasks need no data.
"""

import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import datasets
import torch
import transformers
from transformers import set_seed

from .checkpoints import remove_stale_checkpoints, resolve_resume_checkpoint, run_callbacks
from .data import DocumentArguments, hold_out, load_table_files, load_text_dataset
from .errors import ArgumentError, DataError, check_at_least_one, check_fraction
from .hub import write_model_card
from .labels import LabelInfo, check_labels, encode_labels
from .loading import check_model_folder, load_model, load_tokenizer
from .metrics import KIND_OF_PROBLEM_TYPE
from .modeling_gpt_hf import HEADS
from .row_quality import check_empty_rows, overlap_with_train
from .run_arguments import RunArguments, resolve_run_arguments
from .saving import check_run_output, reported_write_failures, run_output_dir
from .self_labelled import TASKS as SELF_LABELLED_TASKS
from .self_labelled import self_labelled_dataset
from .task_types import BENCHMARKS, INPUT_COLUMNS, TASK_TYPES, TaskType, get_task_type
from .tasks import TaskCollator, TaskTransform
from .tokenization import check_tokenizer_matches_config, save_tokenizer, with_task_template
from .training import GPTTrainer, ModelLoadingArguments, TrainerDefaults, check_max_length

logger = logging.getLogger(__name__)

PROBLEM_TYPES = tuple(KIND_OF_PROBLEM_TYPE)  # the problem types transformers knows


@dataclass
class FinetuneDataArguments(DocumentArguments):
    task: str | None = field(
        default=None,
        metadata={
            "help": f"Task type: {tuple(TASK_TYPES)} (and any registered "
            "with gpt_hf.task_types.register_task_type). Implied "
            "by --benchmark."
        },
    )
    benchmark: str | None = field(
        default=None,
        metadata={
            "help": f"Ready-made task: built-in self-labelled {sorted(SELF_LABELLED_TASKS)} "
            f"(offline) or a benchmark {sorted(BENCHMARKS)} (needs network)."
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
    max_eval_samples: int | None = field(default=None, metadata={"help": "Use only the first N eval/test rows."})
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
            if self.benchmark in SELF_LABELLED_TASKS:
                implied = SELF_LABELLED_TASKS[self.benchmark].task_type
            elif self.benchmark in BENCHMARKS:
                implied = BENCHMARKS[self.benchmark].task
            else:
                raise ArgumentError(
                    f"Unknown benchmark {self.benchmark!r}; choose one of "
                    f"{sorted(SELF_LABELLED_TASKS) + sorted(BENCHMARKS)}."
                )
            if self.task is not None and self.task != implied:
                raise ArgumentError(f"--benchmark {self.benchmark} is a {implied} task, not {self.task}.")
            self.task = implied
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
        check_at_least_one(self, "max_train_samples", "max_eval_samples")
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
        if not 0.0 <= self.classifier_dropout < 1.0:
            raise ArgumentError(f"--classifier_dropout must be in [0, 1), got {self.classifier_dropout}.")


# --- data -----------------------------------------------------------------------------------------------------------


def load_task_dataset(data_args, seed: int) -> tuple[datasets.DatasetDict, dict]:
    """Raw `DatasetDict` (train, validation, maybe test) in normalised columns: text / text_pair / context / choices
    / label, with the benchmark mapping or the column options applied, and the data checks' counts for results.json
    (rows dropped for empty text, validation / test rows repeating a training row)."""
    if data_args.benchmark in SELF_LABELLED_TASKS:
        documents = None
        if data_args.corpus_files:
            corpus = load_text_dataset(
                files=data_args.corpus_files, validation_fraction=0.01, seed=seed, **data_args.document_options
            )
            documents = list(corpus["train"]["text"]) + list(corpus["validation"]["text"])
        raw = self_labelled_dataset(data_args.benchmark, documents, seed=seed)
        return raw, {"dropped_empty_rows": {}, "overlap_with_train": overlap_with_train(raw)}

    spec = BENCHMARKS.get(data_args.benchmark)
    if spec is not None:
        raw = datasets.load_dataset(*spec.dataset)
        if spec.validation_split != "validation":
            raw["validation"] = raw.pop(spec.validation_split)
    elif data_args.train_file is not None:
        files = {"train": data_args.train_file, "validation": data_args.validation_file, "test": data_args.test_file}
        raw = load_table_files({split: path for split, path in files.items() if path}, first_flag="--train_file")
    else:
        raw = datasets.load_dataset(data_args.dataset_name, data_args.dataset_config)

    columns = _column_mapping(data_args, spec)
    normalised = datasets.DatasetDict()
    for split, dataset in raw.items():
        if len(dataset) == 0:
            raise DataError(f"The {split} split has no rows.")
        missing = sorted({c for c in columns["all"] if c not in dataset.column_names})
        if split == "test" and missing == [columns["label"]]:  # an unlabelled test file: predictions only
            missing = []
        if missing:
            raise DataError(f"Column(s) {missing} not in the {split} split; its columns are {dataset.column_names}.")
        normalised[split] = dataset.map(
            lambda batch: _normalise(batch, columns, spec),
            batched=True,
            remove_columns=dataset.column_names,
            desc=f"Normalising {split}",
        )
    # before the hold-out shuffles rows: row numbers in the messages are the file's
    normalised, dropped = check_empty_rows(normalised, data_args.drop_empty_rows)
    check_labels(normalised, data_args.task_type.labels, data_args.problem_type)
    if "validation" not in normalised:
        normalised["train"], normalised["validation"] = hold_out(
            normalised["train"],
            data_args.validation_split_fraction,
            seed,
            what="training rows",
            fix="pass --validation_file, or give more rows",
        )
    return normalised, {"dropped_empty_rows": dropped, "overlap_with_train": overlap_with_train(normalised)}


def _column_mapping(data_args, spec) -> dict:
    """Normalised column -> source columns (the benchmark's, or the user's options), for the task type's inputs,
    plus the label column; `all` lists every source column the data must have."""
    if spec is not None:
        sources = {
            "text": [spec.text] if spec.text else [],
            "text_pair": [spec.text_pair] if spec.text_pair else [],
            "context": list(spec.context),
            "choices": list(spec.choices),
        }
    else:
        sources = data_args.user_columns()
    mapping = {column: sources[column] for column in data_args.task_type.inputs}
    mapping["label"] = spec.label if spec is not None else data_args.label_column
    mapping["all"] = [c for column in data_args.task_type.inputs for c in mapping[column]] + [mapping["label"]]
    return mapping


def _normalise(batch, columns, spec) -> dict:
    out = {}
    for column in ("text", "text_pair"):
        if columns.get(column):
            out[column] = [str(t) if t is not None else "" for t in batch[columns[column][0]]]
    if columns.get("context"):
        out["context"] = [" ".join(str(p) for p in parts) for parts in zip(*(batch[c] for c in columns["context"]))]
    if columns.get("choices"):
        if len(columns["choices"]) == 1:  # one column holding the list of choices
            out["choices"] = [list(map(str, choices)) for choices in batch[columns["choices"][0]]]
        else:
            out["choices"] = [list(map(str, row)) for row in zip(*(batch[c] for c in columns["choices"]))]
    any_column = next(iter(batch.values()))
    labels = batch[columns["label"]] if columns["label"] in batch else [None] * len(any_column)
    if spec is not None and spec.label_map is not None:
        labels = [spec.label_map.index(str(label)) for label in labels]
    out["label"] = labels
    return out


def encode_task(raw, task_type: TaskType, transform: TaskTransform):
    """Apply the task type's transform to every split (datasets.map, batched)."""
    if task_type.check is not None:
        task_type.check(raw)
    return raw.map(
        lambda batch: task_type.encode(transform, batch), batched=True, desc=f"Building {task_type.name} inputs"
    )


# --- running --------------------------------------------------------------------------------------------------------


def build_task_model(model_args, task_type: TaskType, labels: LabelInfo, tokenizer):
    auto = getattr(transformers, task_type.auto_class)
    extra = dict(classifier_dropout=model_args.classifier_dropout)
    if model_args.aux_lm_weight is not None:  # otherwise the folder's own value stands
        extra["aux_lm_weight"] = model_args.aux_lm_weight
    if task_type.labels != "choice":  # a choice head scores each row: one output, no label names
        extra.update(num_labels=labels.num_labels, problem_type=labels.problem_type)
        if labels.id2label:
            extra.update(id2label=labels.id2label, label2id={v: k for k, v in labels.id2label.items()})
    if model_args.from_scratch:
        check_model_folder(model_args.model_name_or_path)
        config = transformers.AutoConfig.from_pretrained(model_args.model_name_or_path, **extra)
        model = auto.from_config(config, attn_implementation=model_args.attn_implementation)
    else:
        model = load_model(
            auto,
            model_args.model_name_or_path,
            attn_implementation=model_args.attn_implementation,
            new_modules=HEADS[task_type.auto_class].model_class.task_head_modules,
            **extra,
        )
    if model_args.transfer_layers is not None:
        reinitialise_layers(model, model_args.transfer_layers)
    return model


def check_model_before_data(model_args, tokenizer) -> None:
    """What the model folder's config says before any data is read: the tokenizer agrees with it, and it has the
    extract token the task heads pool at."""
    config = transformers.AutoConfig.from_pretrained(model_args.model_name_or_path)
    check_tokenizer_matches_config(tokenizer, config)
    if config.extract_token_id is None:
        raise ArgumentError(
            f"--model_name_or_path {model_args.model_name_or_path} has no extract_token_id; the task "
            "heads pool at it. Use a model pretrained with a gpt_hf tokenizer (or set the task token "
            "ids in its config)."
        )


def reinitialise_layers(model, keep: int) -> list[int]:
    """Re-initialise the blocks after the first `keep` (and a pre-LN model's final LayerNorm, which was trained on
    the last block's output) with the model's own initialisation; the embeddings stay. Returns the indices reset."""
    base = model.base_model
    n_layer = len(base.h)
    if keep > n_layer:
        raise ArgumentError(f"--transfer_layers {keep} exceeds the model's {n_layer} layers; use 0 to {n_layer}.")
    modules = [module for block in base.h[keep:] for module in block.modules()]
    if keep < n_layer and isinstance(base.ln_f, torch.nn.LayerNorm):
        modules.append(base.ln_f)
    with torch.no_grad():
        for module in modules:
            for parameter in module.parameters(recurse=False):
                # transformers' init functions skip tensors it marked as loaded from the checkpoint
                parameter._is_hf_initialized = False
            model._init_weights(module)
    return list(range(keep, n_layer))


def make_compute_metrics(labels: LabelInfo):
    def compute_metrics(eval_prediction):
        predictions = predictions_from_logits(eval_prediction.predictions, labels)
        return labels.kind.metrics(predictions, eval_prediction.label_ids, labels.num_labels)

    return compute_metrics


def predictions_from_logits(logits, labels: LabelInfo):
    logits = logits[-1] if isinstance(logits, tuple) else logits  # the Trainer may hand over a tuple of outputs
    return labels.kind.predictions(logits)


def finetune(model_args, data_args, training_args) -> dict:
    """Fine-tune end to end; returns the evaluation metrics (and test metrics when the test split has labels).

    Every check on the user's input (model and tokenizer folders, data files, columns, labels, lengths) runs before
    the output folder is touched; replacing a folder writes beside it and swaps at the end (`run_output_dir`)."""
    resume = check_run_output(training_args)
    set_seed(training_args.seed)
    check_model_folder(model_args.model_name_or_path)
    tokenizer = load_tokenizer(model_args.tokenizer_name_or_path or model_args.model_name_or_path)
    check_model_before_data(model_args, tokenizer)

    raw, data_checks = load_task_dataset(data_args, training_args.seed)
    if data_args.max_train_samples:
        raw["train"] = raw["train"].select(range(min(data_args.max_train_samples, len(raw["train"]))))
    for split in ("validation", "test"):
        if data_args.max_eval_samples and split in raw:
            raw[split] = raw[split].select(range(min(data_args.max_eval_samples, len(raw[split]))))
    task_type = data_args.task_type
    raw, labels = encode_labels(raw, task_type.labels, data_args.problem_type)
    model = build_task_model(model_args, task_type, labels, tokenizer)
    transform = TaskTransform(tokenizer, max_length=check_max_length(data_args.max_length, model.config.n_positions))
    encoded = encode_task(raw, task_type, transform)
    metric = None
    if training_args.metric_for_best_model == TASK_METRIC:  # transformers would fall back to the loss instead
        metric = (
            BENCHMARKS[data_args.benchmark].metric if data_args.benchmark in BENCHMARKS else labels.kind.default_metric
        )
    recipe = resolve_recipe(training_args, model.config.n_embd, len(encoded["train"]))
    name = Path(training_args.output_dir).name
    with run_output_dir(training_args.output_dir, resume is not None, training_args.process_index == 0) as work_dir:
        run = resolve_run_arguments(training_args, work_dir=work_dir, resume=resume, metric=metric, recipe=recipe)
        return _train_and_save(model_args, data_args, run, model, tokenizer, encoded, labels, name, data_checks)


def _train_and_save(
    model_args, data_args, run: RunArguments, model, tokenizer, encoded, labels, model_name: str, data_checks: dict
) -> dict:
    training_args, output_dir = run.trainer_args, Path(run.trainer_args.output_dir)
    if training_args.process_index == 0 and not run.resume:
        remove_stale_checkpoints(output_dir)  # every check passed; old checkpoints would count in rotation
    callbacks, stopper = run_callbacks(run.save_total_limit)
    trainer = GPTTrainer(
        model=model,
        args=training_args,
        train_dataset=encoded["train"],
        eval_dataset=encoded["validation"],
        data_collator=TaskCollator(tokenizer.pad_token_id),
        compute_metrics=make_compute_metrics(labels),
        callbacks=callbacks,
    )
    with reported_write_failures(output_dir, "a checkpoint"), stopper.watching():
        trainer.train(resume_from_checkpoint=resolve_resume_checkpoint(run.resume, output_dir))
    stopper.raise_if_stopped(output_dir)
    results = trainer.evaluate()
    results.update(kept_checkpoint(trainer.state, training_args), recipe=run.recipe, data_checks=data_checks)
    prediction = trainer.predict(encoded["test"], metric_key_prefix="test") if "test" in encoded else None
    if prediction is not None and any(k.startswith("test_") and k != "test_loss" for k in prediction.metrics or {}):
        results.update(prediction.metrics)

    if trainer.is_world_process_zero():
        with reported_write_failures(output_dir, "the final model"):
            if prediction is not None:
                write_predictions(output_dir / "predictions_test.tsv", prediction.predictions, labels)
            trainer.save_model(output_dir)
            save_tokenizer(with_task_template(tokenizer), output_dir, model.config)
            trainer.save_metrics("eval", results)
            (output_dir / "results.json").write_text(json.dumps(results, indent=2))
            name = data_args.benchmark or data_args.dataset_name or Path(data_args.train_file).stem
            source = "scratch (random init)" if model_args.from_scratch else model_args.model_name_or_path
            write_model_card(
                output_dir,
                model.config,
                model_name=model_name,
                description=f"Fine-tuned with gpt_hf for {name} ({data_args.task}).",
                training=(
                    f"From {source}"
                    f"; recipe '{training_args.recipe}': lr {training_args.learning_rate:.3g} (head "
                    f"x{training_args.head_lr_multiplier}), "
                    f"batch {training_args.per_device_train_batch_size}, {training_args.num_train_epochs} epochs "
                    f"(kept: epoch {results['epoch']:g}, the best by validation "
                    f"{training_args.metric_for_best_model}), "
                    f"auxiliary LM weight {model.config.aux_lm_weight}."
                ),
                auto_class=data_args.task_type.auto_class,
                results={
                    k: v
                    for k, v in results.items()
                    if isinstance(v, float) and not k.endswith(("runtime", "per_second"))
                },
                base_model=None if model_args.from_scratch else str(model_args.model_name_or_path),
                results_dataset=name,
                datasets=[BENCHMARKS[data_args.benchmark].dataset[0]] if data_args.benchmark in BENCHMARKS else None,
            )
    logger.info("Results: %s", json.dumps({k: round(v, 4) for k, v in results.items() if isinstance(v, float)}))
    return results


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


def kept_checkpoint(state, training_args) -> dict:
    """Which epoch the saved model comes from: with `load_best_model_at_end` the best checkpoint by
    `metric_for_best_model`, which need not be the last epoch (the Trainer's own `epoch` is the last one)."""
    kept = {"trained_epochs": state.epoch, "metric_for_best_model": training_args.metric_for_best_model}
    step = state.best_global_step if training_args.load_best_model_at_end else None
    epochs = [entry["epoch"] for entry in state.log_history if entry.get("step") == step and "epoch" in entry]
    kept["epoch"] = epochs[0] if epochs else state.epoch
    kept["kept_step"] = step if epochs else state.global_step
    return kept


def write_predictions(path: Path, logits, labels: LabelInfo) -> None:
    lines = ["index\tprediction"]
    for index, prediction in enumerate(predictions_from_logits(logits, labels)):
        lines.append(f"{index}\t{labels.kind.show(prediction, labels.id2label)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
