"""The Trainer of every gpt_hf run, and the part of the run lifecycle the Trainer owns.

`GPTTrainer` is transformers' `Trainer` with: perplexity (language models) or the task / auxiliary-LM loss parts
(task heads) in the logs, the fused LM loss, a larger learning rate for a new task head, and crash safety where
the Trainer already owns the step: its callbacks (complete checkpoints and their rotation, a clean stop on SIGTERM /
SIGINT, the resume line) and `train(resume_from_checkpoint=...)` (half-written checkpoints removed, a write the disk
refuses reported as one error, the stop raised as `RunStopped` after the checkpoint is saved). What the Trainer does
not own (the output folder's staging, the resume decision, the final save) is `lifecycle.TrainerRun`'s.
"""

import logging
import math
from pathlib import Path

import torch
from transformers import ProgressCallback, Trainer

from ..model.modeling_gpt_hf import HEADS
from ..output.checkpoint_folders import last_complete_checkpoint, remove_incomplete_checkpoints
from ..output.paths import reported_write_failures
from .checkpoints import CompleteCheckpointCallback, RunProgress, StopOnSignal

logger = logging.getLogger(__name__)


class GPTTrainer(Trainer):
    """Trainer that logs perplexity (language models) or the task / auxiliary-LM parts of the loss (task heads), can
    give the new task head a larger learning rate, and trains crash-safely (module docstring).

    save_total_limit: complete checkpoints to keep. A run's resolved arguments turn the Trainer's own rotation off
        (`arguments.resolve_run_arguments`): it runs before the completion marker exists and could delete the last
        complete checkpoint in favour of one still being written."""

    def __init__(self, *args, save_total_limit: int | None = None, callbacks=None, **kwargs):
        # Callbacks, not overrides of the Trainer's private `_save_checkpoint`: the callback API is public and stable
        # across the transformers releases we declare, and `on_save` runs after every file of a checkpoint is written.
        self.stopper, self.progress = StopOnSignal(), RunProgress()
        own = [CompleteCheckpointCallback(save_total_limit), self.stopper, self.progress]
        super().__init__(*args, callbacks=[*own, *(callbacks or [])], **kwargs)
        self._loss_parts: dict[str, list[torch.Tensor]] = {"task_loss": [], "lm_loss": []}
        self._is_language_model = isinstance(unwrapped(self.model), HEADS["AutoModelForCausalLM"].model_class)

    def train(self, resume_from_checkpoint: str | bool | None = None, **kwargs):
        """`Trainer.train`, crash-safe: `True` resumes from the last *complete* checkpoint (transformers' own choice
        may be a half-written one), half-written checkpoints are removed before resuming, a write the disk refuses
        is one `OutputPathError` naming the last complete checkpoint, and a stop signal finishes the step, saves a
        complete checkpoint and raises `RunStopped` with the resume instruction."""
        output_dir = Path(self.args.output_dir)
        if resume_from_checkpoint is True:
            resume_from_checkpoint = last_complete_checkpoint(output_dir)
        if resume_from_checkpoint:
            remove_incomplete_checkpoints(output_dir)
            self.progress.resumed_from = Path(resume_from_checkpoint).name
            resume_from_checkpoint = str(resume_from_checkpoint)
        try:
            with reported_write_failures(output_dir, "a checkpoint"), self.stopper.watching():
                result = super().train(resume_from_checkpoint=resume_from_checkpoint or None, **kwargs)
        except BaseException:
            self._close_progress_bars()  # else the bar is redrawn below the error line when it is collected
            raise
        self.stopper.raise_if_stopped(output_dir)
        return result

    def _close_progress_bars(self) -> None:
        for callback in self.callback_handler.callbacks:
            if isinstance(callback, ProgressCallback):
                for name in ("training_bar", "prediction_bar"):
                    bar = getattr(callback, name, None)
                    if bar is not None:
                        bar.close()
                        setattr(callback, name, None)

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
        decay_per_layer = getattr(self.args, "layer_lr_decay", 1.0)
        if self.optimizer is not None or (multiplier == 1.0 and decay_per_layer == 1.0):
            return super().create_optimizer(*([model] if model is not None else []))
        model = model if model is not None else self.model
        decayed = set(self.get_decay_parameter_names(model))
        head = task_head_parameter_names(model)
        if not head and multiplier != 1.0:
            logger.warning(
                "--head_lr_multiplier %s has no effect: %s declares no task head modules (task_head_modules).",
                multiplier,
                type(model).__name__,
            )
        depth = parameter_depths(model)
        groups: dict[tuple[float, bool], list] = {}
        for name, parameter in model.named_parameters():
            if parameter.requires_grad:
                scale = multiplier if name in head else decay_per_layer ** depth.get(id(parameter), 0)
                groups.setdefault((scale, name in decayed), []).append(parameter)
        parameter_groups = [
            {
                "params": params,
                "weight_decay": self.args.weight_decay if decayed else 0.0,
                "lr": self.args.learning_rate * scale,
            }
            for (scale, decayed), params in sorted(groups.items())
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
    modules = getattr(unwrapped(model), "task_head_modules", None)
    segments = {f".{module}." for module in modules or ()}
    return {name for name, _ in model.named_parameters() if any(s in f".{name}" for s in segments)}


def parameter_depths(model) -> dict[int, int]:
    """How many blocks below the top each decoder parameter sits (by `id`), for layer-wise learning rates (ULMFiT's
    discriminative fine-tuning): the last block 0, the first n_layer - 1, the embeddings n_layer; the final LayerNorm
    and anything else 0. Found through the modules, so a PEFT or DDP wrapper's name prefixes do not matter."""
    decoder = unwrapped(model).base_model
    blocks = list(getattr(decoder, "h", ()))
    depths = {}
    for index, block in enumerate(blocks):
        depths.update({id(p): len(blocks) - 1 - index for p in block.parameters()})
    for embedding in (getattr(decoder, "wte", None), getattr(decoder, "wpe", None)):
        if embedding is not None:
            depths.update({id(p): len(blocks) for p in embedding.parameters()})
    return depths


def unwrapped(model):
    """The gpt_hf model inside DDP / DataParallel (`module`) and PEFT (`get_base_model`) wrappers."""
    for _ in range(4):
        inner = getattr(model, "module", None)
        if inner is None and hasattr(model, "get_base_model"):
            inner = model.get_base_model()
        if inner is None or inner is model:
            return model
        model = inner
    return model
