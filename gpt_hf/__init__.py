"""gpt_hf: GPT-1 / GPT-2 as a native transformers model.

Importing the package registers `GPTHFConfig` and the model classes with transformers' Auto classes, so
`AutoModelForCausalLM.from_pretrained(folder)` works on any folder saved by gpt_hf.
"""

from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForCausalLM,
    AutoModelForMultipleChoice,
    AutoModelForSequenceClassification,
)

from .configuration_gpt_hf import GPTHFConfig
from .modeling_gpt_hf import (
    GPTHFForCausalLM,
    GPTHFForMultipleChoice,
    GPTHFForSequenceClassification,
    GPTHFModel,
    GPTHFPreTrainedModel,
    GPTHFTaskOutput,
)
from .presets import PRESETS, config_from_preset

# The Auto classes gpt_hf registers with (saved folders carry the same list in config.auto_map: modeling.AUTO_MAP).
AUTO_CLASSES = {
    "AutoConfig": GPTHFConfig,
    "AutoModel": GPTHFModel,
    "AutoModelForCausalLM": GPTHFForCausalLM,
    "AutoModelForSequenceClassification": GPTHFForSequenceClassification,
    "AutoModelForMultipleChoice": GPTHFForMultipleChoice,
}
_AUTO_MODEL_FACTORIES = {
    "AutoModel": AutoModel,
    "AutoModelForCausalLM": AutoModelForCausalLM,
    "AutoModelForSequenceClassification": AutoModelForSequenceClassification,
    "AutoModelForMultipleChoice": AutoModelForMultipleChoice,
}

AutoConfig.register(GPTHFConfig.model_type, GPTHFConfig, exist_ok=True)
for _auto_name, _factory in _AUTO_MODEL_FACTORIES.items():
    _factory.register(GPTHFConfig, AUTO_CLASSES[_auto_name], exist_ok=True)

# save_pretrained copies configuration_gpt_hf.py / modeling_gpt_hf.py next to the weights and records auto_map.
GPTHFConfig.register_for_auto_class("AutoConfig")
for _auto_name, _cls in AUTO_CLASSES.items():
    if _auto_name != "AutoConfig":
        _cls.register_for_auto_class(_auto_name)

__all__ = [
    "AUTO_CLASSES",
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
