"""A run's record: the facts every file it writes states (the model card, summary.json, results.json, and the card of
a Hub folder built from it later), built once from what the run used — its resolved arguments, the state the Trainer
reached, the data it read and counted — never from a default or a template's assumption, and holding nothing
machine-local: a path is shown relative to the folder the command ran in, or by its name alone.

The record is a JSON object saved under "run" in summary.json / results.json; `interop.hub` renders the card from it.
"""

import os
import re
from pathlib import Path

from ..data.token_store import TokenStore
from .arguments import DEFAULT_LICENSE

# The form of a Hub repository id (namespace/name); a local folder is never a `base_model`.
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")

BUILT_IN_CORPUS = "the built-in corpus (Python's pydoc topics and standard-library docstrings)"


def shown_path(path: str | os.PathLike) -> str:
    """A path as a record shows it: relative to where the command ran when it lies below, else its name alone."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve())) if path.is_absolute() else str(path)
    except ValueError:
        return path.name


def hub_id(name_or_path: str | None) -> str | None:
    """`name_or_path` when it names a Hub repository, not a local folder (a card's `base_model` must be a Hub id)."""
    if not name_or_path or Path(name_or_path).exists() or not _HUB_ID.match(str(name_or_path)):
        return None
    return str(name_or_path)


def corpus_sources(data_args, store: TokenStore | None = None) -> dict:
    """Where pretraining's text came from: file names (relative), a `datasets` id, the token store the run opened,
    or the built-in corpus; `datasets` lists the Hub data sets among them and `name` is the short name the card's
    results are on."""
    if store is not None:
        inner = [
            source.get("dataset") or Path(source.get("path", source.get("file", "?"))).name
            for source in store.metadata.get("sources", [])
        ]
        datasets = [name for name in inner if name and hub_id(name)]
        built_in = any(name == "built-in corpus" for name in inner)
        names = [BUILT_IN_CORPUS if name == "built-in corpus" else name for name in inner]
        return {
            "sources": [f"the token store {shown_path(data_args.data_dir)} ({', '.join(names)})"],
            "datasets": datasets,
            "built_in_corpus": built_in,
            "name": ", ".join(inner) or Path(data_args.data_dir).name,
        }
    if data_args.dataset_name:
        name = data_args.dataset_name + (f" ({data_args.dataset_config})" if data_args.dataset_config else "")
        return {"sources": [name], "datasets": [data_args.dataset_name], "built_in_corpus": False, "name": name}
    if data_args.train_files:
        files = [shown_path(f) for f in [*data_args.train_files, *(data_args.validation_files or [])]]
        return {"sources": files, "datasets": [], "built_in_corpus": False, "name": ", ".join(files)}
    return {"sources": [BUILT_IN_CORPUS], "datasets": [], "built_in_corpus": True, "name": "built-in corpus"}


def task_sources(data_args, benchmark) -> dict:
    """Where fine-tuning's labelled rows came from: a benchmark (and its Hub data set), a `datasets` id, or files."""
    if benchmark is not None:
        if benchmark.dataset_id:
            return {"sources": [f"{data_args.benchmark} ({benchmark.dataset_id})"], "datasets": [benchmark.dataset_id]}
        corpus = [shown_path(f) for f in data_args.corpus_files] if data_args.corpus_files else [BUILT_IN_CORPUS]
        return {"sources": [f"{data_args.benchmark}, self-labelled from {', '.join(corpus)}"], "datasets": []}
    if data_args.dataset_name:
        return {"sources": [data_args.dataset_name], "datasets": [data_args.dataset_name]}
    files = [data_args.train_file, data_args.validation_file, data_args.test_file]
    return {"sources": [shown_path(f) for f in files if f], "datasets": []}


def schedule(trainer) -> dict:
    """The optimisation the run used, from the Trainer's resolved arguments and the state it reached (the warmup is
    the one the scheduler got, after the short-run rule)."""
    args, state = trainer.args, trainer.state
    steps = state.max_steps or state.global_step
    return {
        "optimizer": str(getattr(args.optim, "value", args.optim)),
        "learning_rate": args.learning_rate,
        "head_lr_multiplier": getattr(args, "head_lr_multiplier", None),
        "layer_lr_decay": getattr(args, "layer_lr_decay", None),
        "lr_scheduler": str(getattr(args.lr_scheduler_type, "value", args.lr_scheduler_type)),
        "warmup_steps": args.get_warmup_steps(steps),
        "weight_decay": args.weight_decay,
        "max_grad_norm": args.max_grad_norm,
        "global_batch_size": args.per_device_train_batch_size * args.gradient_accumulation_steps * args.world_size,
        "steps": state.global_step,
        "epochs": round(state.epoch or 0.0, 4),
    }


def run_record(kind: str, *, trainer, data: dict, counts: dict, model_args, extra: dict | None = None) -> dict:
    """The record of a finished run (module docstring). `kind`: 'pretraining' or 'fine-tuning'; `data`: from
    `corpus_sources` / `task_sources`; `counts`: what the run counted (documents, tokens, rows per split)."""
    source = model_args.model_name_or_path
    from_scratch = getattr(model_args, "from_scratch", False)
    license = trainer.args.license
    return {
        "kind": kind,
        "data": {**data, "counts": counts},
        "schedule": schedule(trainer),
        "initialised_from": None if source is None else ("random" if from_scratch else shown_path(source)),
        "base_model": None if from_scratch else hub_id(source),
        "resumed_from": trainer.progress.resumed_from,
        "steps_this_process": trainer.progress.steps_run,
        "license": license,
        "license_source": "--license" if license != DEFAULT_LICENSE else "the default of --license",
        **(extra or {}),
    }
