"""Where gpt_hf meets the libraries people already run, beyond transformers' Auto classes (which `__init__` fills):

- PEFT picks the modules a LoRA (IA3, ...) adapter wraps from tables keyed by `config.model_type`; gpt_hf's blocks
  use GPT-2's module names (`c_attn`, `c_proj`, `c_fc`), so `register_with_peft` copies GPT-2's rows for `gpt_hf`
  and `LoraConfig(task_type=...)` works without `target_modules`. Importing gpt_hf does it when peft is installed.
- `transformers serve` loads a model by looking its architecture up as an attribute of the `transformers` module;
  `register_with_transformers_module` puts gpt_hf's head classes there (scripts/serve.py calls it, then starts
  transformers' own server).
"""

import importlib.util
import logging

logger = logging.getLogger(__name__)

MODEL_TYPE = "gpt_hf"


def register_with_peft() -> list[str]:
    """Give `gpt_hf` GPT-2's rows in PEFT's target-module tables (those that have one); returns the tables filled.
    Does nothing when peft is not installed."""
    if importlib.util.find_spec("peft") is None:
        return []
    from peft.utils import constants

    filled = []
    for name in dir(constants):
        table = getattr(constants, name)
        if name.startswith("TRANSFORMERS_MODELS_TO_") and isinstance(table, dict) and "gpt2" in table:
            table.setdefault(MODEL_TYPE, table["gpt2"])
            filled.append(name)
    return filled


def register_with_transformers_module() -> None:
    """`transformers.GPTHFForCausalLM` (and every other head) resolve, as built-in classes do."""
    import transformers

    from .modeling_gpt_hf import HEADS

    for head in HEADS.values():
        setattr(transformers, head.model_class.__name__, head.model_class)
