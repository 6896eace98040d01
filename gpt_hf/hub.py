"""Model cards rendered from the template in `model_cards/`, written next to saved models."""

import logging
from pathlib import Path

import yaml

logger = logging.getLogger(__name__)

# A link to model_cards/gpt_hf.md, so the template also ships inside installed wheels.
TEMPLATE = Path(__file__).resolve().parent / "templates" / "model_card.md"
ARCHITECTURE_FIELDS = ("norm_position", "n_layer", "n_embd", "n_head", "n_inner", "n_positions", "vocab_size",
                       "activation_function", "resid_pdrop", "attn_pdrop", "embd_pdrop", "aux_lm_weight")
PIPELINE_TAGS = {"AutoModelForCausalLM": "text-generation", "AutoModelForSequenceClassification":
                 "text-classification", "AutoModelForMultipleChoice": "multiple-choice"}
DEFAULT_LIMITATIONS = (
    "A research reproduction of GPT-1 / GPT-2 trained on the data described above. It inherits that data's "
    "biases and gaps, can produce fluent but false or offensive text, and has not been evaluated for any "
    "deployment. Small models trained on the built-in corpus (Python's own documentation) know little beyond it."
)


def render_model_card(
    config,
    *,
    model_name: str,
    description: str,
    training: str,
    auto_class: str = "AutoModelForCausalLM",
    repo_id: str | None = None,
    results: dict[str, float] | None = None,
    datasets: list[str] | None = None,
    base_model: str | None = None,
    license: str = "apache-2.0",
    language: str = "en",
) -> str:
    """The card's Markdown: YAML metadata (library, pipeline tag, license, language, tags, datasets, base model,
    results) and sections for the architecture, training, results, limitations and how to load the model."""
    metadata = {
        "library_name": "transformers",
        "pipeline_tag": PIPELINE_TAGS.get(auto_class, "text-generation"),
        "license": license,
        "language": [language],
        "tags": ["gpt_hf", "gpt", "custom_code", "pre-LN" if config.norm_position == "pre" else "post-LN"],
    }
    if datasets:
        metadata["datasets"] = list(datasets)
    if base_model:
        metadata["base_model"] = base_model
    if results:
        metadata["model-index"] = [{"name": model_name, "results": [{
            "task": {"type": metadata["pipeline_tag"]},
            "metrics": [{"type": key, "name": key, "value": float(value)} for key, value in results.items()],
        }]}]
    rows = "\n".join(f"| {name} | {getattr(config, name, None)} |" for name in ARCHITECTURE_FIELDS)
    results_text = ("| metric | value |\n|---|---|\n" + "\n".join(
        f"| {key} | {value:.4g} |" for key, value in results.items())) if results else "No evaluation recorded."
    return TEMPLATE.read_text(encoding="utf-8").format(
        metadata=yaml.safe_dump(metadata, sort_keys=False).strip(),
        model_name=model_name,
        description=description,
        architecture_rows=rows,
        training=training,
        results=results_text,
        limitations=DEFAULT_LIMITATIONS,
        auto_class=auto_class,
        repo_id=repo_id or model_name,
    )


def write_model_card(folder, config, **kwargs) -> Path:
    path = Path(folder) / "README.md"
    path.write_text(render_model_card(config, **kwargs), encoding="utf-8")
    return path
