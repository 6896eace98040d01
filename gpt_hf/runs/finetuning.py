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
from ..model.modeling_gpt_hf import HEADS
from ..tasks.benchmarks import BENCHMARKS
from ..tasks.prediction_kinds import LabelInfo
from ..tasks.rows import load_task_dataset
from ..tasks.transforms import TaskCollator, TaskTransform
from ..tasks.types import TaskType
from .arguments import check_max_length
from .finetune_arguments import TASK_METRIC, resolve_recipe
from .lifecycle import TrainerRun

logger = logging.getLogger(__name__)


def build_task_model(model_args, task_type: TaskType, labels: LabelInfo, tokenizer):
    auto = getattr(transformers, task_type.auto_class)
    extra = dict(classifier_dropout=model_args.classifier_dropout)
    if model_args.aux_lm_weight is not None:  # otherwise the folder's own value stands
        extra["aux_lm_weight"] = model_args.aux_lm_weight
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
    logits = logits[-1] if isinstance(logits, tuple) else logits  # the Trainer may hand over a tuple of outputs
    return labels.kind.predictions(logits)


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
    if data_args.max_train_samples:
        raw["train"] = raw["train"].select(range(min(data_args.max_train_samples, len(raw["train"]))))
    for split in ("validation", "test"):
        if data_args.max_eval_samples and split in raw:
            raw[split] = raw[split].select(range(min(data_args.max_eval_samples, len(raw[split]))))
    task_type = data_args.task_type
    raw, labels = task_type.label_format.encode(raw, data_args.problem_type)
    model = build_task_model(model_args, task_type, labels, tokenizer)
    transform = TaskTransform(tokenizer, max_length=check_max_length(data_args.max_length, model.config.n_positions))
    encoded = task_type.build_inputs(raw, transform)
    metric = None
    if training_args.metric_for_best_model == TASK_METRIC:  # transformers would fall back to the loss instead
        benchmark = BENCHMARKS.get(data_args.benchmark)
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

        def write(folder: Path) -> None:
            if prediction is not None:
                write_predictions(folder / "predictions_test.tsv", prediction.predictions, labels)
            trainer.save_model(folder)
            save_tokenizer(with_task_template(tokenizer), folder, model.config)
            trainer.save_metrics("eval", results)
            (folder / "results.json").write_text(json.dumps(results, indent=2))
            _write_card(folder, run.output_dir.name, model_args, data_args, trainer.args, model.config, results)

        run.save_final(trainer, write)
    logger.info("Results: %s", json.dumps({k: round(v, 4) for k, v in results.items() if isinstance(v, float)}))
    return results


def _write_card(folder: Path, model_name: str, model_args, data_args, args, config, results: dict) -> None:
    """The fine-tuned folder's model card, from the run's resolved arguments (`args`) and results."""
    name = data_args.benchmark or data_args.dataset_name or Path(data_args.train_file).stem
    benchmark = BENCHMARKS.get(data_args.benchmark)
    source = "scratch (random init)" if model_args.from_scratch else model_args.model_name_or_path
    write_model_card(
        folder,
        config,
        model_name=model_name,
        description=f"Fine-tuned with gpt_hf for {name} ({data_args.task}).",
        training=(
            f"From {source}; recipe '{args.recipe}': lr {args.learning_rate:.3g} (head x{args.head_lr_multiplier}), "
            f"batch {args.per_device_train_batch_size}, {args.num_train_epochs} epochs (kept: epoch "
            f"{results['epoch']:g}, the best by validation {args.metric_for_best_model}), "
            f"auxiliary LM weight {config.aux_lm_weight}."
        ),
        auto_class=data_args.task_type.auto_class,
        results={k: v for k, v in results.items() if isinstance(v, float) and not k.endswith(("runtime", "per_second"))},
        base_model=None if model_args.from_scratch else str(model_args.model_name_or_path),
        results_dataset=name,
        datasets=[benchmark.dataset_id] if benchmark is not None and benchmark.dataset_id else None,
    )


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
