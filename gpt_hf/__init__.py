"""gpt_hf: GPT-1 / GPT-2 as a native transformers model.

Importing the package registers `GPTHFConfig` and every head of `model.modeling_gpt_hf.HEADS` with transformers' Auto
classes, so `AutoModelForCausalLM.from_pretrained(folder)` works on any folder saved by gpt_hf, and (when peft is
installed) gives PEFT the modules a LoRA adapter wraps by default.

The package top is its public face: the model classes (imported now) and the main entry point of every wing, imported
on first use (`gpt_hf.pretrain`, `gpt_hf.train_tokenizer`, ...), so `import gpt_hf` stays as light as the model. The
wings, bottom first: output, model, data, tasks, interop, runs and evaluation, studies (docs/architecture.md).
"""

import importlib

import transformers

from .interop.integrations import register_with_peft
from .model.configuration_gpt_hf import GPTHFConfig
from .model.modeling_gpt_hf import (
    HEADS,
    GPTHFForCausalLM,
    GPTHFForMultipleChoice,
    GPTHFForSequenceClassification,
    GPTHFModel,
    GPTHFPreTrainedModel,
    GPTHFTaskOutput,
)
from .model.presets import PRESETS, config_from_preset

# Every Auto class of modeling_gpt_hf.HEADS (the same table gives a saved folder's config.auto_map).
transformers.AutoConfig.register(GPTHFConfig.model_type, GPTHFConfig, exist_ok=True)
for _auto_name, _head in HEADS.items():
    getattr(transformers, _auto_name).register(GPTHFConfig, _head.model_class, exist_ok=True)
register_with_peft()  # LoraConfig(task_type=...) alone finds the modules to adapt (when peft is installed)

# The public names of the wings, by the module that defines them (imported on first access).
_LAZY = {
    "gpt_hf.data.tokenizer": ("train_tokenizer", "special_token_ids", "save_tokenizer"),
    "gpt_hf.data.templates": ("with_task_template", "with_chat_template"),
    "gpt_hf.data.documents": ("load_text_dataset", "load_text_stream"),
    "gpt_hf.data.units": ("DocumentArguments",),
    "gpt_hf.data.token_store": ("prepare_store", "TokenStore", "PrepareArguments"),
    "gpt_hf.tasks.transforms": ("TaskTransform", "TaskCollator"),
    "gpt_hf.tasks.types": ("TaskType", "register_task_type", "TASK_TYPES"),
    "gpt_hf.tasks.benchmarks": ("BENCHMARKS",),
    "gpt_hf.tasks.prediction_kinds": ("PREDICTION_KINDS",),
    "gpt_hf.interop.convert": ("convert_checkpoint", "export_folder", "export_model"),
    "gpt_hf.interop.hub": ("build_hub_folder", "upload"),
    "gpt_hf.interop.loading": ("load_model_and_tokenizer",),
    "gpt_hf.runs.trainer": ("GPTTrainer",),
    "gpt_hf.runs.lifecycle": ("TrainerRun",),
    "gpt_hf.runs.pretrain_arguments": (
        "PretrainModelArguments",
        "PretrainDataArguments",
        "PretrainTrainingArguments",
        "pretrain_arguments",
    ),
    "gpt_hf.runs.pretraining": ("pretrain",),
    "gpt_hf.runs.finetune_arguments": ("FinetuneModelArguments", "FinetuneDataArguments", "FinetuneTrainingArguments"),
    "gpt_hf.runs.finetuning": ("finetune",),
    "gpt_hf.evaluation.evaluate": ("EvaluationArguments", "run_evaluation", "evaluate_folder"),
    "gpt_hf.evaluation.generation": ("GenerationArguments", "generate_texts"),
}
_LAZY_MODULE = {name: module for module, names in _LAZY.items() for name in names}


def __getattr__(name: str):
    if name not in _LAZY_MODULE:
        raise AttributeError(f"module 'gpt_hf' has no attribute {name!r}")
    return getattr(importlib.import_module(_LAZY_MODULE[name]), name)


def __dir__():
    return sorted(set(globals()) | set(_LAZY_MODULE))


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
    *_LAZY_MODULE,
]
