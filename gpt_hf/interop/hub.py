"""Model cards from the template in `model_cards/`, the Hub repository folder, and its upload.

The folder is built locally first (weights as safetensors, config with an auto_map for every head, the
configuration/modeling code, tokenizer, generation config, README card), so it can be inspected and the upload
retried with the same command. The token is never handled here: huggingface_hub reads HF_TOKEN or the saved login.
"""

import json
import logging
import shutil
from pathlib import Path

from huggingface_hub import EvalResult, ModelCardData

from ..data.tokenizer import copy_tokenizer
from ..errors import ArgumentError, HubUploadError
from ..model.modeling_gpt_hf import HEADS, head_of
from ..tasks.prediction_kinds import METRIC_NAMES

logger = logging.getLogger(__name__)

# A link to model_cards/gpt_hf.md, so the template also ships inside installed wheels.
TEMPLATE = Path(__file__).resolve().parent / "templates" / "model_card.md"
ARCHITECTURE_FIELDS = (
    "norm_position",
    "n_layer",
    "n_embd",
    "n_head",
    "n_inner",
    "n_positions",
    "vocab_size",
    "activation_function",
    "resid_pdrop",
    "attn_pdrop",
    "embd_pdrop",
    "aux_lm_weight",
)
LIMITATIONS = (
    "A research reproduction of GPT-1 / GPT-2 trained on the data described above. It inherits that data's "
    "biases and gaps, can produce fluent but false or offensive text, and has not been evaluated for any "
    "deployment."
)
BUILT_IN_CORPUS_LIMITATION = " Trained on Python's own documentation only, it knows little beyond it."
RESULT_FILES = ("results.json", "summary.json", "eval_results.json")  # written by fine-tuning / pretraining
CARD_METRICS = (*METRIC_NAMES, "perplexity", "loss")  # every prediction kind's metrics, and the losses


def card_results(values: dict) -> dict[str, float]:
    """The evaluation numbers among a run's values: metrics and losses, not epochs, runtimes or throughputs."""
    return {
        key: float(value)
        for key, value in values.items()
        if isinstance(value, (int, float))
        and not isinstance(value, bool)
        and key.removeprefix("eval_").removeprefix("test_") in CARD_METRICS
    }


def render_model_card(
    config,
    *,
    model_name: str,
    record: dict | None = None,
    results: dict[str, float] | None = None,
    auto_class: str = "AutoModelForCausalLM",
    repo_id: str | None = None,
    description: str | None = None,
    language: str = "en",
) -> str:
    """The card's Markdown: YAML metadata (library, pipeline tag, license, language, tags, datasets, base model,
    model-index results) and sections for the architecture, training, results, limitations and loading, every fact
    read from the run's `record` (`runs.records`); a folder without one (a converted checkpoint) says so."""
    if auto_class not in HEADS:
        raise ArgumentError(f"auto_class={auto_class!r} is not a gpt_hf head; choose one of {sorted(HEADS)}.")
    pipeline_tag = HEADS[auto_class].pipeline_tag
    record = record or {}
    data = record.get("data", {})
    results = card_results(results or {})
    notes = record.get("metric_notes", {})
    evaluated_on = data.get("name") or model_name
    metadata = ModelCardData(
        model_name=model_name,
        library_name="transformers",
        pipeline_tag=pipeline_tag,
        license=record.get("license", "apache-2.0"),
        language=[language],
        tags=["gpt_hf", "gpt", "custom_code", "pre-LN" if config.norm_position == "pre" else "post-LN"],
        datasets=list(data.get("datasets") or []) or None,
        base_model=record.get("base_model"),
        eval_results=[
            EvalResult(
                task_type=pipeline_tag,
                dataset_type=evaluated_on,
                dataset_name=evaluated_on,
                metric_type=key,
                metric_name=f"{key} ({notes[_metric(key)]})" if _metric(key) in notes else key,
                metric_value=value,
            )
            for key, value in results.items()
        ]
        or None,
    )
    rows = "\n".join(f"| {name} | {getattr(config, name, None)} |" for name in ARCHITECTURE_FIELDS)
    results_text = (
        (
            "| metric | value | what |\n|---|---|---|\n"
            + "\n".join(f"| {key} | {value:.4g} | {notes.get(_metric(key), '')} |" for key, value in results.items())
        )
        if results
        else "No evaluation recorded."
    )
    return TEMPLATE.read_text(encoding="utf-8").format(
        metadata=metadata.to_yaml(),
        model_name=model_name,
        description=description or describe_model(config, record),
        architecture_rows=rows,
        training=describe_training(record),
        results=results_text,
        limitations=LIMITATIONS + (BUILT_IN_CORPUS_LIMITATION if data.get("built_in_corpus") else ""),
        auto_class=auto_class,
        repo_id=repo_id or model_name,
    )


def _metric(key: str) -> str:
    return key.removeprefix("eval_").removeprefix("test_")


def describe_model(config, record: dict) -> str:
    layout = "GPT-2 (pre-LN)" if config.pre_norm else "GPT-1 (post-LN)"
    if record.get("kind") == "fine-tuning":
        return f"A {layout} model fine-tuned with gpt_hf for {record['data'].get('name')} ({record.get('task')})."
    if record.get("kind") == "pretraining":
        return f"A {layout} language model pretrained with gpt_hf on {', '.join(record['data']['sources'])}."
    return f"A gpt_hf {layout} model."


def describe_training(record: dict) -> str:
    """The card's training section, from the record alone."""
    if not record:
        return "Not recorded."
    data, schedule = record["data"], record["schedule"]
    counts = ", ".join(f"{key.replace('_', ' ')} {value:,}" for key, value in data.get("counts", {}).items())
    lines = [f"Data: {', '.join(data['sources'])}" + (f" ({counts})." if counts else ".")]
    if record.get("initialised_from"):
        lines.append(f"Initialised from: {record['initialised_from']}.")
    head, layer_decay = schedule.get("head_lr_multiplier"), schedule.get("layer_lr_decay")
    lines.append(
        f"Recipe: {schedule['optimizer']}, peak learning rate {schedule['learning_rate']:.3g}"
        + (f" (task head x{head:g})" if head not in (None, 1.0) else "")
        + (f" (each block below the last x{layer_decay:g})" if layer_decay not in (None, 1.0) else "")
        + f", {schedule['lr_scheduler']} schedule with {schedule['warmup_steps']} warmup steps, weight decay "
        f"{schedule['weight_decay']:g} (not on biases and LayerNorm gains), gradient clipping "
        f"{schedule['max_grad_norm']:g}, batch {schedule['global_batch_size']}, {schedule['steps']:,} steps "
        f"({schedule['epochs']:g} epochs)" + (f"; {record['recipe_note']}" if record.get("recipe_note") else "") + "."
    )
    if record.get("resumed_from"):
        lines.append(f"Resumed from {record['resumed_from']} ({record['steps_this_process']:,} steps after it).")
    lines.append(f"License: {record['license']} ({record['license_source']}).")
    return "\n\n".join(lines)


def write_model_card(folder, config, **kwargs) -> Path:
    path = Path(folder) / "README.md"
    path.write_text(render_model_card(config, **kwargs), encoding="utf-8")
    return path


def saved_record(folder: Path) -> tuple[dict | None, dict[str, float]]:
    """The run record and evaluation numbers a training script saved in the folder (fine-tuning's results.json or
    pretraining's summary.json)."""
    for name in RESULT_FILES:
        path = folder / name
        if path.is_file():
            values = json.loads(path.read_text())
            results = card_results(values)
            if results or "run" in values:
                return values.get("run"), results
    return None, {}


def check_repo_id(repo_id: str) -> str:
    """A Hub repository id of the form the Hub accepts ('user/name'), checked before any work."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        if "/" not in repo_id:
            raise HFValidationError("it has no namespace")
        validate_repo_id(repo_id)
    except HFValidationError as err:
        reason = str(err).splitlines()[0]
        raise ArgumentError(
            f"--repo_id {repo_id!r} is not a Hub repository id ({reason}); use 'user/name' or "
            "'organisation/name' with letters, digits, '-', '_' and '.'."
        ) from None
    return repo_id


def build_hub_folder(model_dir, local_dir, repo_id: str | None = None, overwrite: bool = False) -> Path:
    """Write the repository contents for a pretrained, fine-tuned or converted model folder into `local_dir`."""
    from transformers import AutoConfig

    from ..output.paths import atomic_output_dir, check_output_dir

    check_output_dir(local_dir, overwrite)  # before the model is read
    model_dir = Path(model_dir)
    if not (model_dir / "config.json").is_file():
        raise ArgumentError(f"{model_dir} is not a model folder (no config.json).")
    config = AutoConfig.from_pretrained(model_dir)
    architecture = (config.architectures or ["GPTHFForCausalLM"])[0]
    found = head_of(architecture)
    if found is None:
        raise ArgumentError(f"{model_dir} holds a {architecture}, not a gpt_hf model; convert it first.")
    auto_class, head = found
    model = head.model_class.from_pretrained(model_dir)
    with atomic_output_dir(local_dir, overwrite=overwrite) as staging:
        model.save_pretrained(staging, safe_serialization=True)  # safetensors, code files, auto_map for every head
        copy_tokenizer(model_dir, staging, model.config)
        for name in RESULT_FILES:
            if (model_dir / name).is_file():
                shutil.copy2(model_dir / name, staging / name)
        record, results = saved_record(model_dir)
        write_model_card(
            staging,
            model.config,
            model_name=repo_id or model_dir.name,
            repo_id=repo_id,
            record=record,
            auto_class=auto_class,
            results=results,
        )
    return Path(local_dir)


_HTTP_LIBRARIES = {"httpx", "httpx2", "requests", "urllib3", "aiohttp"}


def _is_network_error(err: BaseException) -> bool:
    """Connection problems, whichever HTTP library huggingface_hub happens to use (its name changes across releases)."""
    return isinstance(err, (OSError, TimeoutError)) or any(
        cls.__module__.split(".")[0] in _HTTP_LIBRARIES for cls in type(err).__mro__
    )


def upload(
    folder,
    repo_id: str,
    *,
    private: bool = False,
    revision: str | None = None,
    create_pr: bool = False,
    commit_message: str = "Upload gpt_hf model",
    endpoint: str | None = None,
) -> str:
    """Create the repo if needed and upload the folder; returns the commit URL."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    api = HfApi(endpoint=endpoint)
    where = endpoint or "the Hugging Face Hub"
    try:
        api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
        if revision and revision != "main" and not create_pr:
            api.create_branch(repo_id, branch=revision, exist_ok=True)
        commit = api.upload_folder(
            repo_id=repo_id,
            folder_path=str(folder),
            revision=revision,
            create_pr=create_pr,
            commit_message=commit_message,
        )
    except HfHubHTTPError as err:
        status = getattr(getattr(err, "response", None), "status_code", None)
        if status in (401, 403):
            hint = "check your token (HF_TOKEN, or `hf auth login`) and that it may write to this repository"
        elif status is not None and status >= 500:
            hint = f"{where} is failing (HTTP {status}); try again later"
        else:
            hint = f"{where} refused the request (HTTP {status})"
        raise HubUploadError(
            f"Upload of {folder} to {repo_id} failed: {hint}. The folder is kept; rerun the same command to retry."
        ) from None
    except Exception as err:
        if not _is_network_error(err):
            raise
        raise HubUploadError(
            f"Could not reach {where} ({err.__class__.__name__}: {err}); check your connection and "
            f"HF_ENDPOINT. The folder {folder} is kept; rerun the same command to retry."
        ) from None
    return str(getattr(commit, "commit_url", commit))
