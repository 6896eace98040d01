"""gpt_hf: GPT-1 / GPT-2 as a native transformers model.

Importing the package registers `GPTHFConfig` and every head of `modeling_gpt_hf.HEADS` with transformers' Auto
classes, so `AutoModelForCausalLM.from_pretrained(folder)` works on any folder saved by gpt_hf, and (when peft is
installed) gives PEFT the modules a LoRA adapter wraps by default.
"""

import transformers

from .configuration_gpt_hf import GPTHFConfig
from .integrations import register_with_peft
from .modeling_gpt_hf import (
    HEADS,
    GPTHFForCausalLM,
    GPTHFForMultipleChoice,
    GPTHFForSequenceClassification,
    GPTHFModel,
    GPTHFPreTrainedModel,
    GPTHFTaskOutput,
)
from .presets import PRESETS, config_from_preset

# Every Auto class of modeling_gpt_hf.HEADS (the same table gives a saved folder's config.auto_map).
transformers.AutoConfig.register(GPTHFConfig.model_type, GPTHFConfig, exist_ok=True)
for _auto_name, _head in HEADS.items():
    getattr(transformers, _auto_name).register(GPTHFConfig, _head.model_class, exist_ok=True)
register_with_peft()  # LoraConfig(task_type=...) alone finds the modules to adapt (when peft is installed)

__all__ = [
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
