"""gpt_hf: GPT-1 / GPT-2 as a native transformers model.

Importing the package registers `GPTHFConfig` and every head of `modeling_gpt_hf.HEADS` with transformers' Auto
classes, so `AutoModelForCausalLM.from_pretrained(folder)` works on any folder saved by gpt_hf, and (when peft is
installed) gives PEFT the modules a LoRA adapter wraps by default.
"""

import transformers

from .configuration_gpt_hf import GPTHFConfig
from .modeling_gpt_hf import (
    HEADS,
    GPTHFForCausalLM,
    GPTHFForMultipleChoice,
    GPTHFForSequenceClassification,
    GPTHFModel,
    GPTHFPreTrainedModel,
    GPTHFTaskOutput,
)
from .integrations import register_with_peft
from .presets import PRESETS, config_from_preset

# Auto class name -> gpt_hf class (the same names saved folders carry in config.auto_map).
AUTO_CLASSES = {"AutoConfig": GPTHFConfig, **{name: head.model_class for name, head in HEADS.items()}}

transformers.AutoConfig.register(GPTHFConfig.model_type, GPTHFConfig, exist_ok=True)
for _auto_name, _head in HEADS.items():
    getattr(transformers, _auto_name).register(GPTHFConfig, _head.model_class, exist_ok=True)
register_with_peft()  # LoraConfig(task_type=...) alone finds the modules to adapt (when peft is installed)

__all__ = [
    "AUTO_CLASSES",
    "HEADS",
    "PRESETS",
    "GPTHFConfig",
    "GPTHFForCausalLM",
    "GPTHFForMultipleChoice",
    "GPTHFForSequenceClassification",
    "GPTHFModel",
    "GPTHFPreTrainedModel",
    "GPTHFTaskOutput",
    "config_from_preset",
]
