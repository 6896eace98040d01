"""Convert transformers' `openai-gpt` (GPT-1, post-LN) and `gpt2` (GPT-2, pre-LN) checkpoints into gpt_hf models,
and back: a pre-LN gpt_hf model exports as `GPT2LMHeadModel`, a post-LN one as `OpenAIGPTLMHeadModel`, which every
serving engine (vLLM, TGI, llama.cpp's converter, CTranslate2, optimum) loads with no custom code.

Both built-ins store projections as `Conv1D` with weights shaped (in, out); gpt_hf uses `nn.Linear`, (out, in), so
every projection weight is transposed. Weights are read with safetensors or `torch.load(weights_only=True)`, never
with unrestricted pickle.
"""

import json
import logging
import re
from pathlib import Path

import torch

from ..data.tokenizer import copy_tokenizer
from ..errors import ArgumentError
from ..model.configuration_gpt_hf import GPTHFConfig
from ..model.modeling_gpt_hf import HEADS, head_of

logger = logging.getLogger(__name__)

SOURCE_TYPES = ("openai-gpt", "gpt2")
# The heads a source checkpoint can fill (--head name -> Auto class in modeling's HEADS): the decoder, the tied LM
# head, and the multiple-choice projection of a DoubleHeadsModel. A classification head is fine-tuned, not converted.
CONVERTIBLE_HEADS = {
    "base": "AutoModel",
    "causal-lm": "AutoModelForCausalLM",
    "multiple-choice": "AutoModelForMultipleChoice",
}
_OPENAI_ACTIVATIONS = {"gelu": "gelu_new", "relu": "relu", "silu": "silu", "swish": "silu"}
_PROJECTIONS = re.compile(r"h\.\d+\.(attn\.c_attn|attn\.c_proj|mlp\.c_fc|mlp\.c_proj)\.weight$")
# Causal-mask buffers some older checkpoints saved; gpt_hf builds its masks with create_causal_mask instead.
_IGNORED = re.compile(r"h\.\d+\.attn\.(bias|masked_bias)$|^position_ids$")


def convert_config(source_config: dict) -> GPTHFConfig:
    """Map an `openai-gpt` or `gpt2` config dict onto a `GPTHFConfig` with the matching normalisation layout."""
    model_type = source_config.get("model_type")
    if model_type not in SOURCE_TYPES:
        raise ArgumentError(f"Cannot convert model_type={model_type!r}; supported source types: {SOURCE_TYPES}.")
    common = {
        key: source_config[key]
        for key in (
            "vocab_size",
            "n_positions",
            "n_embd",
            "n_layer",
            "n_head",
            "resid_pdrop",
            "embd_pdrop",
            "attn_pdrop",
            "layer_norm_epsilon",
            "initializer_range",
            "pad_token_id",
            "bos_token_id",
            "eos_token_id",
        )
        if source_config.get(key) is not None
    }
    for key in ("pad_token_id", "bos_token_id", "eos_token_id"):
        value = common.get(key)
        if value is not None and not (isinstance(value, int) and 0 <= value < common.get("vocab_size", 0)):
            logger.warning(
                "Dropping %s=%r: not an id in the source vocabulary of %s.", key, value, common.get("vocab_size")
            )
            common.pop(key)
    common["classifier_dropout"] = source_config.get("summary_first_dropout", 0.1)
    common["tie_word_embeddings"] = source_config.get("tie_word_embeddings", True)
    if model_type == "openai-gpt":
        afn = source_config.get("afn", "gelu")
        if afn not in _OPENAI_ACTIVATIONS:
            raise ArgumentError(
                f"openai-gpt afn={afn!r} has no gpt_hf equivalent; known: {sorted(_OPENAI_ACTIVATIONS)}."
            )
        # OpenAIGPT's MLP is always 4 * n_embd wide, whatever n_inner says.
        return GPTHFConfig(
            **common,
            norm_position="post",
            activation_function=_OPENAI_ACTIVATIONS[afn],
            n_inner=4 * source_config.get("n_embd", 768),
        )
    unsupported = {
        "add_cross_attention": True,
        "scale_attn_by_inverse_layer_idx": True,
        "scale_attn_weights": False,
    }
    for key, bad in unsupported.items():
        if source_config.get(key, not bad) == bad:
            raise ArgumentError(f"gpt2 checkpoints with {key}={bad} are not supported by gpt_hf.")
    return GPTHFConfig(
        **common,
        norm_position="pre",
        activation_function=source_config.get("activation_function", "gelu_new"),
        n_inner=source_config.get("n_inner") or 4 * source_config.get("n_embd", 768),
    )


def convert_state_dict(source_state: dict[str, torch.Tensor], config: GPTHFConfig, head: str = "causal-lm"):
    """Rename and transpose a source state dict into gpt_hf keys for the model class of `head`."""
    renames = {"tokens_embed.": "wte.", "positions_embed.": "wpe."}
    body, extra = {}, {}
    for key, tensor in source_state.items():
        name = key.removeprefix("transformer.")
        for old, new in renames.items():
            if name.startswith(old):
                name = new + name[len(old) :]
        if _IGNORED.search(name):
            continue
        if name == "lm_head.weight" or name.startswith("multiple_choice_head."):
            extra[name] = tensor
            continue
        body[name] = tensor.t().contiguous() if _PROJECTIONS.search(name) else tensor

    prefix = "" if head == "base" else "transformer."
    converted = {prefix + k: v for k, v in body.items()}
    if head != "base" and not config.tie_word_embeddings and "lm_head.weight" in extra:
        converted["lm_head.weight"] = extra["lm_head.weight"]
    if head == "multiple-choice":
        if "multiple_choice_head.summary.weight" not in extra:
            raise ArgumentError(
                "head='multiple-choice' needs a DoubleHeadsModel checkpoint (multiple_choice_head.summary.*); "
                "this one has none. Convert with head='causal-lm' and fine-tune a fresh multiple-choice head instead."
            )
        converted["score.weight"] = extra["multiple_choice_head.summary.weight"]
        converted["score.bias"] = extra["multiple_choice_head.summary.bias"]
    return converted


def load_source(source: str | Path, revision: str | None = None) -> tuple[dict, dict[str, torch.Tensor]]:
    """Read (config dict, state dict) from a local folder, or a Hub repo id when online."""
    folder = Path(source)
    if not folder.is_dir():
        from huggingface_hub import snapshot_download  # only needed for Hub names

        try:
            folder = Path(
                snapshot_download(
                    str(source),
                    revision=revision,
                    allow_patterns=["config.json", "*.safetensors", "pytorch_model*.bin"],
                )
            )
        except Exception as err:  # network, auth or missing repo: say what was tried
            raise ArgumentError(
                f"{source!r} is not a local folder and could not be fetched from the Hub ({err.__class__.__name__}: "
                f"{err}); check the path, the repo id and your connection."
            ) from err
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise ArgumentError(f"{folder} has no config.json; point --source at a saved openai-gpt / gpt2 model folder.")
    source_config = json.loads(config_path.read_text())

    state: dict[str, torch.Tensor] = {}
    safetensor_files = sorted(folder.glob("*.safetensors"))
    if safetensor_files:
        from safetensors.torch import load_file

        for path in safetensor_files:
            state.update(load_file(str(path)))
    else:
        bin_files = sorted(folder.glob("pytorch_model*.bin"))
        if not bin_files:
            raise ArgumentError(f"{folder} holds no *.safetensors or pytorch_model*.bin weights.")
        for path in bin_files:
            state.update(torch.load(path, map_location="cpu", weights_only=True))
    return source_config, state


def convert_checkpoint(source, head: str = "causal-lm", revision: str | None = None):
    """Convert a transformers `openai-gpt` / `gpt2` model (object, local folder or Hub id) to a gpt_hf model.

    `head`: "causal-lm" (default), "base", or "multiple-choice" (from a DoubleHeadsModel, keeping its trained
    multiple-choice projection). Raises `ValueError` listing missing, unexpected or mis-shaped keys.
    """
    if head not in CONVERTIBLE_HEADS:
        raise ArgumentError(f"Unknown head {head!r}; choose one of {sorted(CONVERTIBLE_HEADS)}.")
    if isinstance(source, torch.nn.Module):
        source_config, source_state = source.config.to_dict(), source.state_dict()
    else:
        source_config, source_state = load_source(source, revision=revision)

    config = convert_config(source_config)
    if head == "multiple-choice":
        config.num_labels = 1
    model = HEADS[CONVERTIBLE_HEADS[head]].model_class(config)
    state = convert_state_dict(source_state, config, head=head)

    expected = model.state_dict()
    tied = {"lm_head.weight"} if config.tie_word_embeddings else set()
    missing = sorted(set(expected) - set(state) - tied)
    unexpected = sorted(set(state) - set(expected))
    mis_shaped = sorted(
        f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in set(state) & set(expected)
        if state[k].shape != expected[k].shape
    )
    if missing or unexpected or mis_shaped:
        raise ArgumentError(
            f"Checkpoint does not match a {type(model).__name__} built from its config: "
            f"missing keys {missing}, unexpected keys {unexpected}, shape mismatches {mis_shaped}."
        )
    model.load_state_dict(state, strict=False)
    model.tie_weights()
    model.eval()
    logger.info(
        "Converted %s checkpoint into %s (%s layout)",
        source_config["model_type"],
        type(model).__name__,
        config.norm_position,
    )
    return model


def save_converted(model, source, output_dir, overwrite: bool = False):
    """Save a converted model (with its code files and auto_map) and, when the source has one, its tokenizer."""
    from ..output.paths import atomic_output_dir

    with atomic_output_dir(output_dir, overwrite=overwrite) as staging:
        model.save_pretrained(staging)
        if not isinstance(source, torch.nn.Module):
            copy_tokenizer(source, staging, model.config, strict=False)  # a foreign checkpoint's folder


# --- export: gpt_hf -> the built-ins, which every serving engine loads without custom code -------------------------

# The layout each built-in has: a pre-LN model is GPT-2's architecture, a post-LN one GPT-1's.
EXPORT_LAYOUTS = {"gpt2": "pre", "openai-gpt": "post"}
_GPT1_AFN = {"gelu_new": "gelu", "relu": "relu", "silu": "silu"}  # openai-gpt's afn names (its "gelu" is tanh GELU)
_EXPORT_RENAMES = {"openai-gpt": {"wte.": "tokens_embed.", "wpe.": "positions_embed."}, "gpt2": {}}


def export_config(config: GPTHFConfig, target: str):
    """The built-in config (`GPT2Config` / `OpenAIGPTConfig`) of a gpt_hf config; a field the built-in cannot
    express is an error naming it."""
    from transformers import GPT2Config, OpenAIGPTConfig

    if target not in EXPORT_LAYOUTS:
        raise ArgumentError(f"--to {target!r}: export targets are {sorted(EXPORT_LAYOUTS)} (or gpt_hf).")
    layout = EXPORT_LAYOUTS[target]
    if config.norm_position != layout:
        other = next(name for name, value in EXPORT_LAYOUTS.items() if value == config.norm_position)
        raise ArgumentError(
            f"norm_position={config.norm_position!r}: {target} is {layout}-LN; this model exports as --to {other}."
        )
    common = dict(
        vocab_size=config.vocab_size,
        n_positions=config.n_positions,
        # the context again under its old name, as OpenAI's own gpt2 / openai-gpt folders carry it: llama.cpp's
        # convert_hf_to_gguf.py reads n_ctx (KeyError without it)
        n_ctx=config.n_positions,
        n_embd=config.n_embd,
        n_layer=config.n_layer,
        n_head=config.n_head,
        resid_pdrop=config.resid_pdrop,
        embd_pdrop=config.embd_pdrop,
        attn_pdrop=config.attn_pdrop,
        layer_norm_epsilon=config.layer_norm_epsilon,
        initializer_range=config.initializer_range,
        tie_word_embeddings=config.tie_word_embeddings,
        pad_token_id=config.pad_token_id,
        bos_token_id=config.bos_token_id,
        eos_token_id=config.eos_token_id,
    )
    if target == "gpt2":
        return GPT2Config(**common, n_inner=config.n_inner, activation_function=config.activation_function)
    if config.activation_function not in _GPT1_AFN:
        raise ArgumentError(
            f"activation_function={config.activation_function!r}: openai-gpt has only {sorted(_GPT1_AFN)}."
        )
    if config.inner_dim != 4 * config.n_embd:
        raise ArgumentError(
            f"n_inner={config.n_inner}: openai-gpt's feed-forward is always 4 * n_embd ({4 * config.n_embd})."
        )
    return OpenAIGPTConfig(**common, afn=_GPT1_AFN[config.activation_function])


def export_state_dict(model, target: str) -> dict[str, torch.Tensor]:
    """A gpt_hf body (and untied LM head) in the built-in's names, projections transposed back to `Conv1D`."""
    body = model.base_model.state_dict()
    exported = {}
    for name, tensor in body.items():
        for old, new in _EXPORT_RENAMES[target].items():
            if name.startswith(old):
                name = new + name[len(old) :]
        exported["transformer." + name] = tensor.t().contiguous() if _PROJECTIONS.search(name) else tensor
    if not model.config.tie_word_embeddings:
        exported["lm_head.weight"] = model.lm_head.weight
    return exported


def export_model(model, target: str):
    """The built-in causal LM (`GPT2LMHeadModel` / `OpenAIGPTLMHeadModel`) with the weights of a gpt_hf model. A task
    head's body and tied LM head are exported; the head itself is not (the built-ins pool differently and their
    classifier has no bias): fine-tune a built-in head on the exported body instead."""
    from transformers import GPT2LMHeadModel, OpenAIGPTLMHeadModel

    config = export_config(model.config, target)
    if getattr(model, "task_head_modules", ()):
        logger.warning(
            "%s: only the body and the LM head are exported, not the task head %s (the built-ins pool "
            "at the last token and their classifier has no bias).",
            type(model).__name__,
            ", ".join(model.task_head_modules),
        )
    built_in = (GPT2LMHeadModel if target == "gpt2" else OpenAIGPTLMHeadModel)(config)
    result = built_in.load_state_dict(export_state_dict(model, target), strict=False)
    tied = {"lm_head.weight"} if config.tie_word_embeddings else set()
    missing = [key for key in result.missing_keys if key not in tied]
    if missing or result.unexpected_keys:
        raise ValueError(
            f"Export to {target} left keys unmatched: missing {missing}, unexpected {result.unexpected_keys}."
        )
    built_in.tie_weights()
    source = getattr(model, "generation_config", None) or model.config  # task heads have no generation config
    built_in.generation_config.update(
        **{key: getattr(source, key, None) for key in ("bos_token_id", "eos_token_id", "pad_token_id")}
    )
    return built_in.eval()


def export_folder(model_dir, output_dir, target: str, overwrite: bool = False):
    """Write a gpt_hf folder's model as `target` (no custom code: no auto_map, no copied files), with its tokenizer
    (`tokenizer.json`: `AutoTokenizer` loads it as the generic fast tokenizer) padding on the right, the convention of
    transformers' GPT-2 and GPT-1 folders: their forward does not derive positions from the attention mask, so a
    left-padded batch's logits would differ from the rows alone unless `position_ids` are passed (`generate` derives
    them itself, so batched generation may still pad on the left)."""
    from transformers import AutoConfig

    from ..output.paths import atomic_output_dir, check_output_dir
    from .loading import check_model_folder, load_model

    check_output_dir(output_dir, overwrite)
    check_model_folder(model_dir)
    architecture = (AutoConfig.from_pretrained(model_dir).architectures or ["GPTHFForCausalLM"])[0]
    found = head_of(architecture)
    if found is None:
        raise ArgumentError(f"{model_dir} holds a {architecture}, not a gpt_hf model.")
    built_in = export_model(load_model(found[1].model_class, model_dir), target)
    with atomic_output_dir(output_dir, overwrite=overwrite) as staging:
        built_in.save_pretrained(staging)
        copy_tokenizer(model_dir, staging, built_in.config, padding_side="right")
    logger.info("Exported %s as %s (%s) to %s.", model_dir, type(built_in).__name__, target, output_dir)
    return built_in
