"""Named model sizes kept as JSON data (one file per preset) and a loader that applies overrides."""

import json
from pathlib import Path

from ...errors import ArgumentError
from ..configuration_gpt_hf import GPTHFConfig

PRESET_DIR = Path(__file__).parent
PRESETS = tuple(sorted(p.stem for p in PRESET_DIR.glob("*.json")))


def config_from_preset(name: str, **overrides) -> GPTHFConfig:
    """Build a `GPTHFConfig` from a preset name (`gpt1`, `gpt2-small`, `gpt2-medium`, `tiny`) plus overrides."""
    path = PRESET_DIR / f"{name}.json"
    if not path.is_file():
        raise ArgumentError(
            f"Unknown preset {name!r}; choose one of {', '.join(PRESETS)}. (A config JSON file is "
            "read by GPTHFConfig.from_json_file, or given to scripts/pretrain.py as --config_name.)"
        )
    values = json.loads(path.read_text())
    values.pop("_comment", None)
    values.update(overrides)
    return GPTHFConfig(**values)
