"""Load saved model and tokenizer folders for the runs, with the checks a user needs before any long work: the folder
exists, its weight files are complete (a truncated `model.safetensors` is named, not reported as a deep safetensors
error), its config parses, and its tokenizer agrees with the model (vocabulary size and special ids). How every script
names the model, tokenizer and attention kernel it loads is `ModelLoadingArguments`."""

import json
import logging
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path

from ..data.tokenizer import check_tokenizer_matches_config
from ..errors import ArgumentError, DataError

logger = logging.getLogger(__name__)

_HEADER_LENGTH_BYTES = 8  # safetensors: little-endian u64 header size, the JSON header, then the tensor data


def read_json_object(path: str | os.PathLike, what: str) -> dict:
    """A JSON object from a user's file (a recipe, a config), without its comment keys (starting with '_');
    errors name the file and say what it should hold."""
    path = Path(path)
    if not path.is_file():
        raise ArgumentError(f"{what} {path} does not exist.")
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DataError(f"{what} {path} is not valid JSON: {err}.") from None
    if not isinstance(values, dict):
        raise DataError(f"{what} {path} must hold a JSON object, got {type(values).__name__}.")
    return {key: value for key, value in values.items() if not key.startswith("_")}


def check_safetensors_file(path: Path) -> None:
    """Raise `ValueError` naming `path` if it is not a complete safetensors file (a truncated download or copy)."""
    size = path.stat().st_size
    problem = None
    with open(path, "rb") as handle:
        raw_length = handle.read(_HEADER_LENGTH_BYTES)
        if len(raw_length) < _HEADER_LENGTH_BYTES:
            problem = f"it has {size} bytes, too few for a header"
        else:
            (header_length,) = struct.unpack("<Q", raw_length)
            if _HEADER_LENGTH_BYTES + header_length > size:
                problem = f"its header claims {header_length} bytes but the file has {size}"
            else:
                try:
                    header = json.loads(handle.read(header_length))
                except (json.JSONDecodeError, UnicodeDecodeError):
                    problem = "its header is not valid JSON"
                else:
                    ends = [entry["data_offsets"][1] for name, entry in header.items() if name != "__metadata__"]
                    expected = _HEADER_LENGTH_BYTES + header_length + max(ends, default=0)
                    if expected > size:
                        problem = f"its tensors need {expected} bytes but the file has {size}"
    if problem:
        raise DataError(f"{path} is incomplete or corrupt ({problem}); re-download or re-save the model.")


def check_model_folder(path: str | os.PathLike) -> None:
    """For a local folder: it exists, has a readable config.json and complete weight files. Hub ids pass through."""
    folder = Path(path)
    if not folder.exists():
        if str(path).startswith((".", "/", "~")) or str(path).count("/") > 1:  # not a Hub id ('name', 'user/name')
            raise ArgumentError(f"Model folder {path} does not exist.")
        return  # maybe a Hub id: transformers resolves it (load_model reports a failure with the name)
    if not folder.is_dir():
        raise ArgumentError(f"{path} is a file; pass the model folder that holds config.json.")
    config = folder / "config.json"
    if not config.is_file():
        raise ArgumentError(f"{folder} has no config.json: not a saved model folder (save it with save_pretrained).")
    try:
        json.loads(config.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DataError(f"{config} is not valid JSON ({err}); the folder is corrupt: re-save the model.") from None
    for weights in sorted(folder.glob("*.safetensors")):
        check_safetensors_file(weights)


def load_tokenizer(path: str | os.PathLike, trust_remote_code: bool = False):
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
    except Exception as err:  # noqa: BLE001 -- tokenizers raises plain Exceptions for corrupt files; named here
        raise ArgumentError(f"Cannot load a tokenizer from {path}: {type(err).__name__}: {err}") from None


class _DropRecords(logging.Filter):
    """Drops the log records whose message contains `text`."""

    def __init__(self, text: str):
        super().__init__()
        self.text = text

    def filter(self, record: logging.LogRecord) -> bool:
        return self.text not in str(record.msg)


def load_model(auto_class, path: str | os.PathLike, new_modules: tuple[str, ...] = (), **kwargs):
    """`auto_class.from_pretrained(path, **kwargs)` after `check_model_folder`; failures name the folder.

    `new_modules`: modules the folder is expected to lack (a task head put on a pretrained body). Their missing
    weights are the point, not news: transformers' load report is kept quiet, and only weights missing outside those
    modules are reported (as a warning: the body did not come whole from the folder)."""
    check_model_folder(path)
    # transformers logs its load report as one warning of this logger; checked below instead (raising the logger's
    # level would not do: transformers then runs a tensor-parallel check that warns about every layer)
    report_logger = logging.getLogger("transformers.modeling_utils")
    load_report = _DropRecords("LOAD REPORT")
    if new_modules:
        report_logger.addFilter(load_report)
    try:
        model, info = auto_class.from_pretrained(path, output_loading_info=True, **kwargs)
    except (OSError, ValueError, KeyError, RuntimeError) as err:
        raise ArgumentError(
            f"Cannot load a model from {path} with {auto_class.__name__}: {type(err).__name__}: {err}"
        ) from None
    finally:
        report_logger.removeFilter(load_report)
    if new_modules:
        prefixes = tuple(f"{module}." for module in new_modules)
        other = sorted(key for key in info["missing_keys"] if not key.startswith(prefixes))
        if other or info["unexpected_keys"]:
            logger.warning(
                "%s did not hold all of %s's weights: missing %s, unexpected %s (newly initialised).",
                path,
                type(model).__name__,
                other,
                sorted(info["unexpected_keys"]),
            )
        elif any(key.startswith(prefixes) for key in info["missing_keys"]):
            logger.info("New task head %s initialised on the body from %s.", ", ".join(new_modules), path)
    return model


def load_model_and_tokenizer(auto_class, model_path, tokenizer_path=None, trust_remote_code: bool = False, **kwargs):
    """The model and its tokenizer (from `tokenizer_path`, default the model folder), checked to agree."""
    model = load_model(auto_class, model_path, trust_remote_code=trust_remote_code, **kwargs)
    tokenizer = load_tokenizer(tokenizer_path or model_path, trust_remote_code=trust_remote_code)
    check_tokenizer_matches_config(tokenizer, model.config)
    return model, tokenizer


ATTENTION_IMPLEMENTATIONS = ("eager", "sdpa", "flash_attention_2", "flash_attention_3", "flex_attention")


def check_attn_implementation(value: str) -> None:
    if value not in ATTENTION_IMPLEMENTATIONS:
        raise ArgumentError(f"--attn_implementation {value!r} is not one of {ATTENTION_IMPLEMENTATIONS}.")


@dataclass
class ModelLoadingArguments:
    """How any script loads a model and its tokenizer (keyword-only fields, so a script's required field may follow)."""

    tokenizer_name_or_path: str | None = field(
        default=None,
        kw_only=True,
        metadata={
            "help": "Tokenizer folder; default: the model folder's (pretraining a new model: one trained on the data)."
        },
    )
    attn_implementation: str = field(
        default="sdpa",
        kw_only=True,
        metadata={
            "help": f"Attention kernel: {', '.join(ATTENTION_IMPLEMENTATIONS)} (the flash ones need their "
            "package and a GPU)."
        },
    )

    def __post_init__(self):
        check_attn_implementation(self.attn_implementation)
