"""Trainer glue shared by pretraining and fine-tuning: argument dataclasses with the paper's recipe defaults and
their checks, a Trainer that logs perplexity (or the task / auxiliary-LM loss parts), asks for the fused LM loss and
shortens warmup for short runs, and the run summary. Crash-safe checkpoints live in `gpt_hf.checkpoints`."""

import json
import logging
import math
import os
from dataclasses import dataclass, field

import torch
from transformers import SchedulerType, Trainer, TrainingArguments

from .errors import ArgumentError
from .modeling_gpt_hf import HEADS

logger = logging.getLogger(__name__)


def cpu_has_bf16_instructions() -> bool:
    """Whether this CPU computes bf16 natively (AVX512-BF16 or AMX tiles); elsewhere PyTorch emulates it, slowly."""
    cpu = torch.cpu
    return any(getattr(cpu, name, lambda: False)() for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"))


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


@dataclass
class ModelArguments(ModelLoadingArguments):
    model_name_or_path: str | None = field(
        default=None, metadata={"help": "A gpt_hf model folder to continue from (its config and weights)."}
    )
    config_name: str | None = field(
        default=None, metadata={"help": "New model: a preset (gpt1, gpt2-small, gpt2-medium, tiny) or a config JSON."}
    )
    config_overrides: str | None = field(
        default=None, metadata={"help": "JSON object of config fields to override, e.g. '{\"n_layer\": 4}'."}
    )

    def __post_init__(self):
        super().__post_init__()
        if self.model_name_or_path and self.config_name:
            raise ArgumentError("Pass --model_name_or_path (continue) or --config_name (new model), not both.")
        if self.config_overrides is not None:
            try:
                overrides = json.loads(self.config_overrides)
            except json.JSONDecodeError as err:
                raise ArgumentError(
                    f"--config_overrides is not valid JSON ({err}): {self.config_overrides!r}"
                ) from None
            if not isinstance(overrides, dict):
                raise ArgumentError(f"--config_overrides must be a JSON object, got {self.config_overrides!r}.")

    @property
    def overrides(self) -> dict:
        return json.loads(self.config_overrides) if self.config_overrides else {}


@dataclass
class TrainerDefaults(TrainingArguments):
    """What pretraining and fine-tuning share on top of TrainingArguments: the paper's weight decay and clipping,
    tensorboard logs, and the checks of a device set-up that cannot run as asked."""

    weight_decay: float = field(
        default=0.01, metadata={"help": "Decoupled weight decay on all weights except biases and LayerNorm gains."}
    )
    max_grad_norm: float = field(default=1.0, metadata={"help": "Gradient clipping norm."})
    logging_steps: float = field(default=50, metadata={"help": "Log every N steps."})
    report_to: None | str | list[str] = field(default="tensorboard", metadata={"help": "Loggers (tensorboard, none)."})
    overwrite_output_dir: bool = field(default=False, metadata={"help": "Replace a non-empty output folder."})

    def __post_init__(self):
        super().__post_init__()
        if self.bf16 and (self.use_cpu or not torch.cuda.is_available()) and not cpu_has_bf16_instructions():
            logger.warning(
                "bf16 was asked for on a CPU without bf16 instructions (AVX512-BF16 / AMX; this one: %s): PyTorch "
                "emulates bf16 there, and training runs about 15x slower than in fp32 (measured: 44 vs 687 tokens/s; "
                "docs/benchmarks.md). Drop --bf16 on this machine.",
                torch.backends.cpu.get_cpu_capability(),
            )
        fsdp = self.fsdp or os.environ.get("ACCELERATE_USE_FSDP", "false").lower() == "true"  # flag or accelerate
        if fsdp and (self.use_cpu or not torch.accelerator.is_available()):
            # accelerate selects FSDP only for accelerator devices: on CPU the run would silently be plain DDP
            raise ArgumentError(
                "FSDP (--fsdp, or an accelerate FSDP config) needs GPUs or another accelerator: "
                "accelerate applies it only there, and on CPU the run would silently be plain DDP. "
                "Drop it on this machine (torchrun / accelerate launch without it run DDP)."
            )


@dataclass
class GPTTrainingArguments(TrainerDefaults):
    """Pretraining's TrainingArguments: the GPT-1 pretraining recipe as defaults (all overridable)."""

    learning_rate: float = field(default=2.5e-4, metadata={"help": "Peak learning rate (paper: 2.5e-4)."})
    lr_scheduler_type: SchedulerType | str = field(default="cosine", metadata={"help": "Paper: cosine annealing to 0."})
    warmup_steps: float = field(
        default=2000, metadata={"help": "Linear warmup steps (paper: 2000); a value < 1 is a fraction of the run."}
    )
    short_run_warmup_fraction: float = field(
        default=0.1,
        metadata={
            "help": "If warmup_steps exceed this fraction of the run's steps, warmup becomes that fraction "
            "(so short runs still decay); 0 keeps warmup_steps as given."
        },
    )

    def __post_init__(self):
        super().__post_init__()
        if not 0.0 <= self.short_run_warmup_fraction < 1.0:
            raise ArgumentError(f"short_run_warmup_fraction must be in [0, 1), got {self.short_run_warmup_fraction}.")

    def get_warmup_steps(self, num_training_steps: int) -> int:
        """The paper's 2000 warmup steps would be a whole short run: over `short_run_warmup_fraction` of the run's
        steps, warm up over that fraction instead (derived here, from the unchanged arguments)."""
        fraction = self.short_run_warmup_fraction
        if fraction and self.warmup_steps >= 1 and self.warmup_steps > fraction * num_training_steps:
            logger.info(
                "Warmup of %d steps is over %.0f%% of a %d-step run: warming up over %.0f%% instead.",
                self.warmup_steps,
                fraction * 100,
                num_training_steps,
                fraction * 100,
            )
            return math.ceil(num_training_steps * fraction)
        return super().get_warmup_steps(num_training_steps)


class GPTTrainer(Trainer):
    """Trainer that logs perplexity (language models) or the task / auxiliary-LM parts of the loss (task heads),
    keeps the warmup proportionate on short runs, and can give the new task head a larger learning rate."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._loss_parts: dict[str, list[torch.Tensor]] = {"task_loss": [], "lm_loss": []}
        model = self.model.get_base_model() if hasattr(self.model, "get_base_model") else self.model  # PEFT
        self._is_language_model = isinstance(model, HEADS["AutoModelForCausalLM"].model_class)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if self._is_language_model and model.training and "labels" in inputs:
            # the loss without the (B, T, V) logits (the fused LM-head loss): training reads only the loss
            inputs = {**inputs, "skip_logits": True}
        loss, outputs = super().compute_loss(model, inputs, return_outputs=True, num_items_in_batch=num_items_in_batch)
        if model.training:
            for name, values in self._loss_parts.items():
                part = outputs.get(name) if isinstance(outputs, dict) else None
                if part is not None:
                    values.append(part.detach())  # reduced at log time: no host sync per step
        return (loss, outputs) if return_outputs else loss

    def log(self, logs: dict[str, float], *args, **kwargs) -> None:
        if "loss" in logs:
            for name, values in self._loss_parts.items():
                if values:
                    logs[name] = torch.stack(values).float().mean().item()
                    values.clear()
        for prefix in ("", "eval_"):
            loss = logs.get(f"{prefix}loss")
            if loss is not None and self._is_language_model:
                logs[f"{prefix}perplexity"] = math.exp(min(loss, 700.0))
        super().log(logs, *args, **kwargs)

    def create_optimizer(self, model=None):
        multiplier = getattr(self.args, "head_lr_multiplier", 1.0)
        if self.optimizer is not None or multiplier == 1.0:
            return super().create_optimizer(*([model] if model is not None else []))
        model = model if model is not None else self.model
        decay = set(self.get_decay_parameter_names(model))
        head = task_head_parameter_names(model)
        if not head:
            logger.warning(
                "--head_lr_multiplier %s has no effect: %s declares no task head modules (task_head_modules).",
                multiplier,
                type(model).__name__,
            )
        groups: dict[tuple[bool, bool], list] = {}
        for name, parameter in model.named_parameters():
            if parameter.requires_grad:
                groups.setdefault((name in head, name in decay), []).append(parameter)
        parameter_groups = [
            {
                "params": params,
                "weight_decay": self.args.weight_decay if decayed else 0.0,
                "lr": self.args.learning_rate * (multiplier if is_head else 1.0),
            }
            for (is_head, decayed), params in sorted(groups.items())
        ]
        optimizer_cls, optimizer_kwargs = self.get_optimizer_cls_and_kwargs(self.args, model)
        self.optimizer = optimizer_cls(parameter_groups, **optimizer_kwargs)
        return self.optimizer

    def _issue_warnings_after_load(self, load_result) -> None:
        # Resuming loads a checkpoint without the tied LM head (save_pretrained leaves tied copies out): that key is
        # missing by design, not a broken checkpoint. Re-tie and report only keys that are really missing.
        tied = set(getattr(self.model, "_tied_weights_keys", None) or ())
        missing = [key for key in load_result.missing_keys if key not in tied]
        if len(missing) < len(load_result.missing_keys):
            self.model.tie_weights()
        super()._issue_warnings_after_load(load_result._replace(missing_keys=missing))


def task_head_parameter_names(model) -> set[str]:
    """Names of the parameters in the modules the model declares as its task head (`task_head_modules`), also
    when the model is wrapped (PEFT, DDP), whose parameter names carry a prefix."""
    modules = getattr(model, "task_head_modules", None)
    if modules is None and hasattr(model, "module"):  # DDP / DataParallel
        modules = getattr(model.module, "task_head_modules", None)
    segments = {f".{module}." for module in modules or ()}
    return {name for name, _ in model.named_parameters() if any(s in f".{name}" for s in segments)}


def check_max_length(max_length: int | None, n_positions: int, flag: str = "--max_length") -> int:
    """The tokens per row: `max_length`, or the model's context when not given; beyond the context is an error."""
    if max_length is None:
        return n_positions
    if max_length > n_positions:
        raise ArgumentError(
            f"{flag} {max_length} exceeds the model's n_positions={n_positions} (its context); use at "
            f"most {n_positions}, or a model with a longer context."
        )
    return max_length


# --- summaries ------------------------------------------------------------------------------------------------------


def training_summary(trainer: Trainer, train_metrics: dict, tokens_per_step: int, eval_metrics: dict | None) -> dict:
    """Tokens seen, tokens/s and the final validation perplexity of a finished run."""
    steps = trainer.state.global_step
    tokens = steps * tokens_per_step
    runtime = train_metrics.get("train_runtime") or float("nan")
    summary = {
        "steps": steps,
        "tokens_seen": tokens,
        "tokens_per_second": tokens / runtime,
        "train_loss": train_metrics.get("train_loss"),
    }
    if eval_metrics:
        summary["eval_loss"] = eval_metrics.get("eval_loss")
        summary["eval_perplexity"] = eval_metrics.get("eval_perplexity")
    return summary


def format_summary(summary: dict) -> str:
    parts = [
        f"steps={summary['steps']}",
        f"tokens_seen={summary['tokens_seen']:,}",
        f"tokens/s={summary['tokens_per_second']:.0f}",
    ]
    if summary.get("eval_perplexity") is not None:
        parts.append(f"validation_perplexity={summary['eval_perplexity']:.2f}")
    return "Summary: " + " ".join(parts)
