"""Where gpt_hf meets the libraries people already run, beyond transformers' Auto classes (which `__init__` fills):

- PEFT picks the modules a LoRA (IA3, ...) adapter wraps from tables keyed by `config.model_type`; gpt_hf's blocks
  use GPT-2's module names (`c_attn`, `c_proj`, `c_fc`), so `register_with_peft` copies GPT-2's rows for `gpt_hf`
  and `LoraConfig(task_type=...)` works without `target_modules`. Importing gpt_hf does it when peft is installed.
- `transformers serve` loads a model by looking its architecture up as an attribute of the `transformers` module;
  `register_with_transformers_module` puts gpt_hf's head classes there (scripts/serve.py calls it, then starts
  transformers' own server).
"""

import importlib.abc
import importlib.machinery
import importlib.util
import logging
import sys

logger = logging.getLogger(__name__)

MODEL_TYPE = "gpt_hf"
_PEFT_TABLES = "peft.utils.constants"  # the module that holds PEFT's tables


def fill_peft_tables(constants) -> list[str]:
    """Give `gpt_hf` GPT-2's rows in PEFT's target-module tables (those that have one); returns the tables filled."""
    filled = []
    for name in dir(constants):
        table = getattr(constants, name)
        if name.startswith("TRANSFORMERS_MODELS_TO_") and isinstance(table, dict) and "gpt2" in table:
            table.setdefault(MODEL_TYPE, table["gpt2"])
            filled.append(name)
    return filled


class _AfterImport(importlib.abc.MetaPathFinder):
    """Runs `callback(module)` right after the module `name` is imported, so that gpt_hf does not import peft (and
    the quantisation libraries peft imports) itself: `import gpt_hf` stays as fast as before."""

    def __init__(self, name: str, callback):
        self.name, self.callback = name, callback

    def find_spec(self, fullname, path, target=None):
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and spec.loader is not None:
            load = spec.loader.exec_module

            def exec_module(module):
                load(module)
                self.callback(module)

            spec.loader.exec_module = exec_module
        return spec


def register_with_peft() -> None:
    """Fill PEFT's tables now if peft is loaded, else as soon as it is; nothing when peft is not installed."""
    if _PEFT_TABLES in sys.modules:
        fill_peft_tables(sys.modules[_PEFT_TABLES])
    elif importlib.util.find_spec("peft") is not None and not any(
        isinstance(finder, _AfterImport) for finder in sys.meta_path
    ):
        sys.meta_path.insert(0, _AfterImport(_PEFT_TABLES, fill_peft_tables))


def register_with_transformers_module() -> None:
    """`transformers.GPTHFForCausalLM` (and every other head) resolve, as built-in classes do."""
    import transformers

    from ..model.modeling_gpt_hf import HEADS

    for head in HEADS.values():
        setattr(transformers, head.model_class.__name__, head.model_class)
