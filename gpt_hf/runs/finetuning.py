"""Task fine-tuning as in the paper: data -> normalised columns -> task transform -> task head -> Trainer -> folder.

What differs between task types (columns, transform, head, labels) is looked up in `tasks.types.TASK_TYPES`:
    classification   [start] text [extract]                       class ids, or lists of labels (multi-label)
    regression       [start] text [extract]                       real scores
    entailment       [start] premise [delim] hypothesis [extract] class ids
    similarity       both orderings of a pair, summed             class ids, or real scores (STS-B)
    multiple_choice  one row per choice                           index of the right choice
Ready-made benchmarks (`tasks.benchmarks.BENCHMARKS`) load their rows into the same columns. The run's lifecycle is
`lifecycle.TrainerRun`'s; this module supplies what differs: the labelled rows, the task model, the metrics and the
finished folder (predictions, results, card).
"""

import csv
import json
import logging
from pathlib import Path

import torch
import transformers
from transformers import set_seed

from ..data.templates import with_task_template
from ..data.tokenizer import check_tokenizer_matches_config, save_tokenizer
from ..errors import ArgumentError
from ..interop.hub import write_model_card
from ..interop.loading import check_model_folder, load_model, load_tokenizer
from ..model.configuration_gpt_hf import POOLING_NOTES
from ..model.modeling_gpt_hf import HEADS
from ..output.plotting import plot_confusion_matrix, plot_loss_curve
from ..tasks.benchmarks import BENCHMARKS
from ..tasks.prediction_kinds import LabelInfo
from ..tasks.rows import load_task_dataset
from ..tasks.transforms import TaskCollator, TaskTransform
from ..tasks.types import TaskType
from .arguments import check_max_length
from .finetune_arguments import TASK_METRIC, resolve_recipe
from .lifecycle import TrainerRun
from .records import run_record, task_sources

logger = logging.getLogger(__name__)


def build_task_model(model_args, task_type: TaskType, labels: LabelInfo, tokenizer):
    auto = getattr(transformers, task_type.auto_class)
    extra = dict(classifier_dropout=model_args.classifier_dropout)
    for name in ("aux_lm_weight", "classifier_pooling"):
        if getattr(model_args, name) is not None:  # otherwise the folder's own value stands
            extra[name] = getattr(model_args, name)
    extra.update(task_type.label_format.head_fields(labels))
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
    return labels.kind.predictions(_last_output(logits))


def _last_output(logits):
    return logits[-1] if isinstance(logits, tuple) else logits  # the Trainer may hand over a tuple of outputs


def finetune(model_args, data_args, training_args) -> dict:
    """Fine-tune end to end; returns the evaluation metrics (and test metrics when the test split has labels).

    Every check on the user's input (output folder, model and tokenizer folders, data files, columns, labels,
    lengths) runs before the output folder is touched; the lifecycle is `lifecycle.TrainerRun`'s."""
    run = TrainerRun(training_args)  # the output folder and the resume decision, before any data is read
    set_seed(training_args.seed)
    check_model_folder(model_args.model_name_or_path)
    tokenizer = load_tokenizer(model_args.tokenizer_name_or_path or model_args.model_name_or_path)
    check_model_before_data(model_args, tokenizer)

    raw, data_checks = load_task_dataset(data_args, training_args.seed)
    limits = {
        "train": data_args.max_train_samples,
        "validation": data_args.max_eval_samples,
        "test": data_args.max_test_samples,
    }
    for split, limit in limits.items():
        if limit and split in raw and len(raw[split]) > limit:
            logger.info(
                "Using the first %d of the %d %s rows (--max_%s_samples).",
                limit,
                len(raw[split]),
                split,
                {"validation": "eval"}.get(split, split),
            )
            raw[split] = raw[split].select(range(limit))
    task_type = data_args.task_type
    raw, labels = task_type.label_format.encode(raw, data_args.problem_type)
    model = build_task_model(model_args, task_type, labels, tokenizer)
    transform = TaskTransform(tokenizer, max_length=check_max_length(data_args.max_length, model.config.n_positions))
    encoded = task_type.build_inputs(raw, transform)
    benchmark = BENCHMARKS.get(data_args.benchmark)
    metric = None
    if training_args.metric_for_best_model == TASK_METRIC:  # transformers would fall back to the loss instead
        metric = (benchmark and benchmark.metric) or labels.kind.default_metric
    recipe = resolve_recipe(training_args, model.config.n_embd, len(encoded["train"]))

    with run.folder(metric=metric, recipe=recipe):
        trainer = run.trainer(
            model=model,
            train_dataset=encoded["train"],
            eval_dataset=encoded["validation"],
            data_collator=TaskCollator(tokenizer.pad_token_id),
            compute_metrics=make_compute_metrics(labels),
        )
        run.train(trainer)
        results = trainer.evaluate()
        results.update(kept_checkpoint(trainer.state, trainer.args), recipe=recipe, data_checks=data_checks)
        prediction = trainer.predict(encoded["test"], metric_key_prefix="test") if "test" in encoded else None
        if prediction is not None and any(k.startswith("test_") and k != "test_loss" for k in prediction.metrics or {}):
            results.update(prediction.metrics)
        results["scored_rows"] = {split: len(encoded[split]) for split in ("validation", "test") if split in encoded}
        report_split, report = class_report(trainer, encoded, prediction, labels)
        if report is not None:
            results["per_class"] = {"split": report_split, **report}
        results["run"] = run_record(
            "fine-tuning",
            trainer=trainer,
            data={**task_sources(data_args, benchmark), "name": task_name(data_args)},
            counts={f"{split} rows": len(encoded[split]) for split in encoded},
            model_args=model_args,
            extra={
                "task": data_args.task,
                "metric_notes": labels.kind.metric_notes(labels.num_labels),
                "recipe_note": f"recipe '{recipe['recipe']}', kept: epoch {results['epoch']:g}, the best by "
                f"validation {trainer.args.metric_for_best_model}; auxiliary LM weight {model.config.aux_lm_weight}; "
                f"the head reads {POOLING_NOTES[model.config.classifier_pooling]}",
            },
        )

        def write(folder: Path) -> None:
            if prediction is not None:
                write_predictions(folder / "predictions_test.tsv", raw["test"], prediction, labels)
            trainer.save_model(folder)
            save_tokenizer(with_task_template(tokenizer), folder, model.config)
            trainer.save_metrics("eval", {k: v for k, v in results.items() if k != "run"})
            (folder / "results.json").write_text(json.dumps(results, indent=2))
            if report is not None and "confusion_matrix" in report:
                plot_confusion_matrix(report["confusion_matrix"], folder / f"confusion_matrix_{report_split}.png")
            plot_loss_curve(trainer.state.log_history, folder / "loss_curve.png", f"Fine-tuning {run.output_dir.name}")
            write_model_card(
                folder,
                model.config,
                model_name=run.output_dir.name,
                record=results["run"],
                results=results,
                auto_class=task_type.auto_class,
            )

        run.save_final(trainer, write)
    logger.info("Results: %s", json.dumps({k: round(v, 4) for k, v in results.items() if isinstance(v, float)}))
    return results


def task_name(data_args) -> str:
    """The task's data by name: the benchmark, the `datasets` id or the training file's stem."""
    return data_args.benchmark or data_args.dataset_name or Path(data_args.train_file).stem


def class_report(trainer, encoded, prediction, labels: LabelInfo) -> tuple[str | None, dict | None]:
    """Per-class precision / recall / F1 and the confusion matrix of the prediction kind's report, on the labelled
    test split, else on the validation split; (None, None) for a kind without classes."""
    if labels.kind.report is None:
        return None, None
    if prediction is None or prediction.label_ids is None:
        prediction, split = trainer.predict(encoded["validation"], metric_key_prefix="eval"), "validation"
    else:
        split = "test"
    logits = _last_output(prediction.predictions)
    predicted = labels.kind.predictions(logits)
    return split, labels.kind.report(predicted, prediction.label_ids, labels.id2label, logits.shape[-1])


def kept_checkpoint(state, training_args) -> dict:
    """Which epoch the saved model comes from: with `load_best_model_at_end` the best checkpoint by
    `metric_for_best_model`, which need not be the last epoch (the Trainer's own `epoch` is the last one)."""
    kept = {"trained_epochs": state.epoch, "metric_for_best_model": training_args.metric_for_best_model}
    step = state.best_global_step if training_args.load_best_model_at_end else None
    epochs = [entry["epoch"] for entry in state.log_history if entry.get("step") == step and "epoch" in entry]
    kept["epoch"] = epochs[0] if epochs else state.epoch
    kept["kept_step"] = step if epochs else state.global_step
    return kept


def write_predictions(path: Path, rows, prediction, labels: LabelInfo) -> None:
    """One line per test row: its index, its input columns, the gold label when there is one, the prediction and the
    head's per-class (or per-choice) probabilities; tab-separated with a header, quoted where a value needs it."""
    logits = _last_output(prediction.predictions)
    predicted = labels.kind.predictions(logits)
    inputs = [column for column in ("text", "text_pair", "context", "choices") if column in rows.column_names]
    extra = labels.kind.row_columns(logits, labels.id2label)
    gold = prediction.label_ids if "label" in rows.column_names else None
    header = ["index", *inputs, *(["label"] if gold is not None else []), "prediction", *extra]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(header)
        for index, row in enumerate(rows):
            values = [" | ".join(row[c]) if c == "choices" else row[c] for c in inputs]
            if gold is not None:
                values.append(labels.kind.show(gold[index], labels.id2label))
            values.append(labels.kind.show(predicted[index], labels.id2label))
            values += [f"{float(column[index]):.6g}" for column in extra.values()]
            writer.writerow([index, *values])
