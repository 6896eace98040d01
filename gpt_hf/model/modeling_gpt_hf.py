"""The gpt_hf model family: GPT-1 (post-LN) and GPT-2 (pre-LN) decoders with an LM head and the paper's task heads.

Remote-code safe: imports only torch, transformers and its siblings (`configuration_gpt_hf.py`, `layers_gpt_hf.py`:
the attention, MLP, block and loss), so the three files can be copied into a Hub repository and loaded with
`trust_remote_code=True`. A copied file
runs against whatever transformers its user has, so it uses only names transformers documents for custom models (the
`Cache` methods, `create_causal_mask`, the attention-function registry, the output classes, `GenerationMixin`,
`PreTrainedModel` hooks) and adapts to the two renames seen within the declared range by reading the running
release's own signatures: the key/value cache is `past_key_values` up to 5.23 and `cache` from 5.24 (see `_CACHE`).

Shapes: B batch, T new tokens, S = past + T keys, C = n_embd, nh heads, hs = C // nh head size, V vocab.
"""

import inspect
import warnings
from dataclasses import dataclass, fields

import torch
from torch import nn
from torch.nn import functional as F
from transformers import GenerationMixin, PreTrainedModel
from transformers import __version__ as transformers_version
from transformers import initialization as init
from transformers.cache_utils import Cache, DynamicCache
from transformers.masking_utils import create_causal_mask
from transformers.modeling_outputs import BaseModelOutputWithPast, CausalLMOutputWithPast
from transformers.utils import ModelOutput, can_return_tuple

from .configuration_gpt_hf import CLASSIFIER_POOLINGS, GPTHFConfig
from .layers_gpt_hf import GPTHFBlock, causal_lm_loss

# The oldest transformers this file runs on: from 5.4 neither the causal mask nor the static cache needs
# `cache_position`. Older releases get one clear error instead of wrong cached decoding.
MIN_TRANSFORMERS = (5, 4)
if tuple(int(part) for part in transformers_version.split(".")[:2]) < MIN_TRANSFORMERS:
    _floor = ".".join(map(str, MIN_TRANSFORMERS))
    raise ImportError(
        f"gpt_hf models need transformers>={_floor},<6; this is transformers {transformers_version}: "
        f"pip install -U 'transformers>={_floor},<6'"
    )

# The key/value cache's name, as the running transformers spells it: `generate` passes it to `forward` and reads it
# back from the output classes under this name ("past_key_values" up to 5.23, "cache" from 5.24).
_CACHE = "cache" if "cache" in {field.name for field in fields(CausalLMOutputWithPast)} else "past_key_values"
_MASK_CACHE = "cache" if "cache" in inspect.signature(create_causal_mask).parameters else "past_key_values"


def _one_cache(past_key_values: Cache | None, cache: Cache | None) -> Cache | None:
    """The cache under either name, so callers written for either release keep working; the old name warns where the
    running release has deprecated it, as transformers' own models do."""
    if past_key_values is not None and cache is not None and past_key_values is not cache:
        raise ValueError("Pass the key/value cache once, as cache= or past_key_values=, not both.")
    if past_key_values is not None and _CACHE == "cache" and not torch.compiler.is_compiling():
        warnings.warn(
            "`past_key_values` is deprecated since transformers 5.24: pass the key/value cache as `cache`.",
            FutureWarning,
            stacklevel=3,
        )
    return cache if cache is not None else past_key_values


class GPTHFPreTrainedModel(PreTrainedModel):
    config_class = GPTHFConfig
    config: GPTHFConfig
    base_model_prefix = "transformer"
    supports_gradient_checkpointing = True
    _no_split_modules = ["GPTHFBlock"]
    _skip_keys_device_placement = [_CACHE]
    _supports_sdpa = True
    _supports_flash_attn = True
    _supports_flex_attn = True
    _supports_attention_backend = True
    _can_compile_fullgraph = True

    # Modules a task adds on top of the pre-trained body (not pre-trained themselves): fine-tuning gives their
    # parameters the head learning rate (`GPTTrainer`, `--head_lr_multiplier`).
    task_head_modules: tuple[str, ...] = ()

    def save_pretrained(self, save_directory, *args, **kwargs):
        # every head in config.auto_map, so a folder copied to the Hub answers to all Auto classes under
        # trust_remote_code=True, not only to the class that happened to be saved
        self.config.auto_map = {**auto_map(), **(getattr(self.config, "auto_map", None) or {})}
        return super().save_pretrained(save_directory, *args, **kwargs)

    @torch.no_grad()
    def _init_weights(self, module):
        """N(0, initializer_range) for weights, zero biases; GPT-2 layout scales residual projections by 1/sqrt(2L)."""
        std = self.config.initializer_range
        if self.config.pre_norm and getattr(module, "is_residual_projection", False):
            # Two residual branches per block add up over depth: keep the residual stream's variance flat.
            std = std / (2 * self.config.n_layer) ** 0.5
        if isinstance(module, (nn.Linear, nn.Embedding)):
            init.normal_(module.weight, mean=0.0, std=std)
            if getattr(module, "bias", None) is not None:
                init.zeros_(module.bias)
        elif isinstance(module, nn.LayerNorm):
            init.ones_(module.weight)
            init.zeros_(module.bias)


class GPTHFModel(GPTHFPreTrainedModel):
    """The bare decoder: token + learned position embeddings, `n_layer` blocks, and a final LayerNorm if pre-LN."""

    def __init__(self, config: GPTHFConfig):
        super().__init__(config)
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.wpe = nn.Embedding(config.n_positions, config.n_embd)
        self.drop = nn.Dropout(config.embd_pdrop)
        self.h = nn.ModuleList([GPTHFBlock(config, layer_idx=i) for i in range(config.n_layer)])
        # GPT-1 ends on a block's LayerNorm already; GPT-2's pre-LN stream needs one more before the head.
        self.ln_f = nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon) if config.pre_norm else nn.Identity()
        self.gradient_checkpointing = False
        self.post_init()

    def get_input_embeddings(self):
        return self.wte

    def _check_vocabulary(self, input_ids):
        """A clear error for ids outside the embedding table (the embedding lookup's own error is an index error on
        CPU and a device assert on GPU). On CPU it names the offending ids; on an accelerator it is an asynchronous
        device-side assert, so a decoding step does not wait for the device (no host sync)."""
        vocab_size = self.wte.num_embeddings
        advice = "use the model's tokenizer, or resize_token_embeddings after adding tokens."
        if input_ids.device.type != "cpu":
            in_range = ((input_ids >= 0) & (input_ids < vocab_size)).all()
            torch._assert_async(in_range, f"input_ids hold ids outside the vocabulary [0, {vocab_size}); {advice}")
            return
        low, high = int(input_ids.min()), int(input_ids.max())
        if low < 0 or high >= vocab_size:
            raise ValueError(
                f"input_ids hold ids outside the vocabulary [0, {vocab_size}) (min {low}, max {high}); {advice}"
            )

    def _length_advice(self) -> str:
        n = self.config.n_positions
        return (
            f"truncate the input (tokenizer(..., truncation=True, max_length={n}); with TRL, "
            f"SFTConfig(max_length={n})) or use a model with a longer context."
        )

    def _check_positions(self, position_ids):
        """Position ids within the learned positions (rows packed without padding restart them per document, so a
        joined row may be longer than the context). Host-sync free on accelerators, as `_check_vocabulary`."""
        if torch.compiler.is_compiling() or not position_ids.numel():
            return
        if position_ids.device.type != "cpu":
            torch._assert_async(
                (position_ids < self.config.n_positions).all(),
                f"position ids reach n_positions={self.config.n_positions}",
            )
            return
        largest = int(position_ids.max())
        if largest >= self.config.n_positions:
            raise ValueError(
                f"Position {largest} is beyond n_positions={self.config.n_positions} (positions 0.."
                f"{self.config.n_positions - 1}); {self._length_advice()}"
            )

    def set_input_embeddings(self, new_embeddings):
        self.wte = new_embeddings

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        past_key_values: Cache | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        cache: Cache | None = None,
        **kwargs,
    ) -> BaseModelOutputWithPast:
        r"""past_key_values / cache: the key/value cache, under either name (transformers renamed it in 5.24)."""
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("Pass exactly one of input_ids or inputs_embeds.")
        if inputs_embeds is None:
            if input_ids.ndim != 2:
                raise ValueError(f"input_ids must be (batch, seq), got shape {tuple(input_ids.shape)}.")
            if not torch.compiler.is_compiling() and input_ids.numel():
                self._check_vocabulary(input_ids)
            inputs_embeds = self.wte(input_ids)
        cache = _one_cache(past_key_values, cache)
        use_cache = self.config.use_cache if use_cache is None else use_cache
        if self.gradient_checkpointing and self.training and torch.is_grad_enabled():
            # the backward replay of a block would write its keys and values into the cache a second time
            use_cache, cache = False, None
        if use_cache and cache is None:
            cache = DynamicCache(config=self.config)
        output_attentions = self.config.output_attentions if output_attentions is None else output_attentions
        if output_hidden_states is None:
            output_hidden_states = self.config.output_hidden_states

        seq_length = inputs_embeds.shape[1]
        if position_ids is not None:  # given (generate, TRL's padding-free packing, continuous batching)
            self._check_positions(position_ids)  # the largest position counts, not the (joined) row's length
        else:
            past_length = cache.get_seq_length() if cache is not None else 0
            if not torch.compiler.is_compiling() and past_length + seq_length > self.config.n_positions:
                raise ValueError(
                    f"Sequence length {past_length + seq_length} (past {past_length} + new {seq_length}) "
                    f"exceeds n_positions={self.config.n_positions}; {self._length_advice()}"
                )
            if attention_mask is not None and attention_mask.ndim == 2:
                # Count real tokens only, so a left-padded row gets the same positions as the unpadded row.
                position_ids = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)[:, -seq_length:]
            else:
                position_ids = torch.arange(past_length, past_length + seq_length, device=inputs_embeds.device)[None]

        causal_mask = create_causal_mask(
            config=self.config,
            inputs_embeds=inputs_embeds,
            attention_mask=attention_mask,
            position_ids=position_ids,
            **{_MASK_CACHE: cache},
        )
        hidden_states = self.drop(inputs_embeds + self.wpe(position_ids))  # (B, T, C)
        all_hidden_states, all_attentions = [], []
        for block in self.h:
            all_hidden_states.append(hidden_states)
            hidden_states, attn_weights = block(hidden_states, causal_mask, cache, position_ids=position_ids, **kwargs)
            all_attentions.append(attn_weights)
        hidden_states = self.ln_f(hidden_states)
        all_hidden_states.append(hidden_states)  # the last entry is what the heads read (after ln_f for pre-LN)
        return BaseModelOutputWithPast(
            last_hidden_state=hidden_states,
            hidden_states=tuple(all_hidden_states) if output_hidden_states else None,
            attentions=tuple(all_attentions) if output_attentions else None,
            **{_CACHE: cache if use_cache else None},
        )


class GPTHFForCausalLM(GPTHFPreTrainedModel, GenerationMixin):
    """Decoder + language-modelling head tied to the token embedding."""

    _tied_weights_keys = {"lm_head.weight": "transformer.wte.weight"}

    def __init__(self, config: GPTHFConfig):
        super().__init__(config)
        self.transformer = GPTHFModel(config)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.post_init()

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        past_key_values: Cache | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
        use_cache: bool | None = None,
        logits_to_keep: int | torch.Tensor = 0,
        skip_logits: bool = False,
        cache: Cache | None = None,
        **kwargs,
    ) -> CausalLMOutputWithPast:
        r"""skip_logits: return only the loss, computed without the (B, T, V) logits (see `causal_lm_loss`); gpt_hf's
        Trainer passes it while training. Off by default: clients such as TRL read `logits` next to the loss.
        past_key_values / cache: the key/value cache, under either name (transformers renamed it in 5.24)."""
        outputs = self.transformer(
            input_ids,
            cache=_one_cache(past_key_values, cache),
            attention_mask=attention_mask,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            use_cache=use_cache,
            **kwargs,
        )
        hidden_states = outputs.last_hidden_state
        if skip_logits and labels is None:
            raise ValueError("skip_logits=True returns only the loss, so it needs labels.")
        logits = loss = None
        if skip_logits:  # the fused path: at the paper's size the logits alone are 5.3 GB for a batch of 64 x 512
            loss = causal_lm_loss(hidden_states, self.lm_head.weight, labels, kwargs.get("num_items_in_batch"))
        else:
            # Only the last positions' logits are needed while generating: skip the (B, T, V) projection of the rest.
            keep = slice(-logits_to_keep, None) if isinstance(logits_to_keep, int) else logits_to_keep
            logits = self.lm_head(hidden_states[:, keep, :])
            if labels is not None:
                loss = self.loss_function(logits, labels, vocab_size=self.config.vocab_size, **kwargs)
        return CausalLMOutputWithPast(
            loss=loss,
            logits=logits,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
            **{_CACHE: getattr(outputs, _CACHE)},
        )


@dataclass
class GPTHFTaskOutput(ModelOutput):
    """Output of the task heads. `loss = task_loss + aux_lm_weight * lm_loss` (the paper's L3 = L2 + lambda * L1)."""

    loss: torch.Tensor | None = None
    task_loss: torch.Tensor | None = None
    lm_loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    hidden_states: tuple[torch.Tensor, ...] | None = None
    attentions: tuple[torch.Tensor, ...] | None = None


def _batch_shape(input_ids, inputs_embeds) -> tuple[int, ...]:
    """The dims in front of the sequence dim: (B,) for (B, T) input, (B, K) for (B, K, T)."""
    if input_ids is not None:
        return tuple(input_ids.shape[:-1])
    if inputs_embeds is not None:
        return tuple(inputs_embeds.shape[:-2])
    raise ValueError("Pass input_ids (or inputs_embeds).")


def _last_index(flags: torch.Tensor) -> torch.Tensor:
    """Index of the last True along the last dim of a (N, T) bool tensor; -1 where a row has none."""
    positions = torch.arange(flags.shape[-1], device=flags.device)
    return torch.where(flags, positions, -1).amax(-1)


def _masked_mean(hidden_states: torch.Tensor, attention_mask: torch.Tensor | None) -> torch.Tensor:
    """(N, T, C) -> (N, C): the mean over each row's real tokens (pads left or right), every position without a mask."""
    if attention_mask is None:
        return hidden_states.mean(1)
    weights = attention_mask.to(hidden_states.dtype).unsqueeze(-1)  # (N, T, 1)
    return (hidden_states * weights).sum(1) / weights.sum(1).clamp(min=1.0)


class GPTHFTaskModel(GPTHFPreTrainedModel):
    """Shared body of the task heads: decoder, tied LM head (auxiliary loss), and extract-token pooling."""

    _tied_weights_keys = {"lm_head.weight": "transformer.wte.weight"}
    task_head_modules = ("score",)
    # The task and LM losses are means over their own items, so the Trainer must do the gradient-accumulation
    # scaling (it would skip it for a model that normalises by `num_items_in_batch` itself).
    accepts_loss_kwargs = False

    def __init__(self, config: GPTHFConfig, num_outputs: int):
        super().__init__(config)
        self.transformer = GPTHFModel(config)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.dropout = nn.Dropout(config.classifier_dropout)
        self.score = nn.Linear(config.n_embd * CLASSIFIER_POOLINGS[config.classifier_pooling], num_outputs)
        self.post_init()

    def _encode_and_pool(self, input_ids, attention_mask, inputs_embeds, lm_targets, labels, kwargs):
        """Flatten (B, K, T) inputs to (B*K, T), run the decoder, and pool each row (`config.classifier_pooling`: at
        its extract token, the mean over its real tokens, or both).

        Returns pooled (B*K, C) ((B*K, 2C) for both), the auxiliary LM loss (when training with labels and
        aux_lm_weight > 0, else None) and the decoder outputs.
        """

        def flat(t, trailing):  # (..., T, *trailing) -> (N, T, *trailing)
            return None if t is None else t.reshape(-1, *t.shape[t.ndim - 1 - trailing :])

        input_ids, attention_mask, lm_targets = flat(input_ids, 0), flat(attention_mask, 0), flat(lm_targets, 0)
        inputs_embeds = flat(inputs_embeds, 1)
        outputs = self.transformer(
            input_ids, attention_mask=attention_mask, inputs_embeds=inputs_embeds, use_cache=False, **kwargs
        )
        hidden_states = outputs.last_hidden_state  # (N, T, C)

        pooling = self.config.classifier_pooling
        parts = []
        if pooling in ("extract", "extract+mean"):
            idx = self._pool_index(input_ids, attention_mask, hidden_states)
            parts.append(hidden_states[torch.arange(hidden_states.shape[0], device=hidden_states.device), idx])
        if pooling in ("mean", "extract+mean"):
            parts.append(_masked_mean(hidden_states, attention_mask))
        pooled = torch.cat(parts, dim=-1) if len(parts) > 1 else parts[0]  # (N, C) or (N, 2C)

        lm_loss = None
        if labels is not None and self.config.aux_lm_weight > 0:
            if lm_targets is None:
                if input_ids is None:
                    raise ValueError("The auxiliary LM loss needs input_ids or lm_targets; or set aux_lm_weight=0.")
                lm_targets = input_ids if attention_mask is None else input_ids.masked_fill(attention_mask == 0, -100)
            lm_loss = causal_lm_loss(hidden_states, self.lm_head.weight, lm_targets)  # no (N, T, V) logits
        return pooled, lm_loss, outputs

    def _pool_index(self, input_ids, attention_mask, hidden_states):
        """Position read by the head: the (last) extract token, else the last real token of each row."""
        config = self.config
        if config.extract_token_id is not None:
            if input_ids is None:
                raise ValueError(
                    f"extract_token_id={config.extract_token_id} is set, so the task heads need input_ids to find it; "
                    "pass input_ids, or set config.extract_token_id=None to pool the last non-pad token."
                )
            is_extract = input_ids == config.extract_token_id
            if attention_mask is not None:
                is_extract = is_extract & attention_mask.bool()
            idx = _last_index(is_extract)
            if torch.compiler.is_compiling():
                return idx
            if idx.device.type != "cpu":  # no host sync on accelerators
                torch._assert_async((idx >= 0).all(), f"a row contains no extract token ({config.extract_token_id})")
            elif bool((idx < 0).any()):
                rows = (idx < 0).nonzero().flatten().tolist()
                raise ValueError(
                    f"Rows {rows[:8]} (of {len(idx)} flattened rows) contain no extract token "
                    f"(extract_token_id={config.extract_token_id}); end every input with it, e.g. with the gpt_hf "
                    "task transforms, and make sure truncation did not cut it off."
                )
            return idx
        if attention_mask is not None:
            return _last_index(attention_mask.bool())
        if config.pad_token_id is not None and input_ids is not None:
            return _last_index(input_ids != config.pad_token_id).clamp(min=0)
        return torch.full((hidden_states.shape[0],), hidden_states.shape[1] - 1, device=hidden_states.device)

    def _combine(self, task_loss, lm_loss, logits, outputs):
        loss = task_loss
        if task_loss is not None and lm_loss is not None:
            loss = task_loss + self.config.aux_lm_weight * lm_loss
        return GPTHFTaskOutput(
            loss=loss,
            task_loss=task_loss,
            lm_loss=lm_loss,
            logits=logits,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
        )


class GPTHFForSequenceClassification(GPTHFTaskModel):
    """Classification / regression head on the extract token (paper section 3.3).

    input_ids (B, T): one sequence per example. input_ids (B, K, T): K orderings of one example (the paper's
    similarity transform uses K=2); their pooled states are summed before the linear layer.
    """

    def __init__(self, config: GPTHFConfig):
        super().__init__(config, num_outputs=config.num_labels)
        self.num_labels = config.num_labels

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        lm_targets: torch.LongTensor | None = None,
        **kwargs,
    ) -> GPTHFTaskOutput:
        batch_shape = _batch_shape(input_ids, inputs_embeds)
        if len(batch_shape) not in (1, 2):
            raise ValueError(
                f"input_ids must be (batch, seq) or (batch, orderings, seq); got leading dims {batch_shape}."
            )
        pooled, lm_loss, outputs = self._encode_and_pool(
            input_ids, attention_mask, inputs_embeds, lm_targets, labels, kwargs
        )
        if len(batch_shape) == 2:
            pooled = pooled.view(*batch_shape, -1).sum(1)  # (B, K, C) -> (B, C): the orderings are summed
        logits = self.score(self.dropout(pooled))  # (B, num_labels)

        task_loss = None
        if labels is not None:
            task_loss = self._task_loss(logits, labels.to(logits.device))
        return self._combine(task_loss, lm_loss, logits, outputs)

    def _task_loss(self, logits, labels):
        """transformers' sequence-classification loss (MSE, cross-entropy or BCE by `config.problem_type`), after
        checks that say what a wrong label looks like."""
        if self.config.problem_type is None:
            # inferred from the first labels and kept in the config, as transformers' own heads do: the saved config
            # then tells pipelines how to read the logits (raw scores, softmax or sigmoid)
            self.config.problem_type = (
                "regression"
                if self.num_labels == 1
                else "single_label_classification"
                if labels.dtype in (torch.long, torch.int)
                else "multi_label_classification"
            )
        problem_type = self.config.problem_type
        if problem_type == "single_label_classification" and labels.dtype.is_floating_point:
            raise TypeError(
                f"single_label_classification expects integer class ids as labels, got dtype {labels.dtype}; "
                "pass torch.long labels, or set problem_type='multi_label_classification' for multi-hot floats."
            )
        if problem_type == "multi_label_classification" and labels.shape != logits.shape:
            raise ValueError(
                f"multi_label_classification expects multi-hot labels of shape {tuple(logits.shape)}, "
                f"got {tuple(labels.shape)}."
            )
        if labels.dtype.is_floating_point:  # scores and multi-hot rows in the logits' dtype (bf16 under autocast)
            labels = labels.to(logits.dtype)
        return self.loss_function(labels, logits, self.config)


class GPTHFForMultipleChoice(GPTHFTaskModel):
    """Multiple choice (paper section 3.3): input_ids (B, C, T), one `[start] context [delim] answer [extract]` row per
    choice; each row's extract state is scored by a linear layer and the scores are softmaxed over the choices."""

    def __init__(self, config: GPTHFConfig):
        super().__init__(config, num_outputs=1)

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
        lm_targets: torch.LongTensor | None = None,
        **kwargs,
    ) -> GPTHFTaskOutput:
        batch_shape = _batch_shape(input_ids, inputs_embeds)
        if len(batch_shape) != 2:
            raise ValueError(
                f"Multiple choice expects input_ids of shape (batch, choices, seq); got leading dims {batch_shape}."
            )
        pooled, lm_loss, outputs = self._encode_and_pool(
            input_ids, attention_mask, inputs_embeds, lm_targets, labels, kwargs
        )
        logits = self.score(self.dropout(pooled)).view(batch_shape)  # (B, choices)
        task_loss = None
        if labels is not None:
            task_loss = F.cross_entropy(logits, labels.to(logits.device).view(-1))
        return self._combine(task_loss, lm_loss, logits, outputs)


@dataclass(frozen=True)
class Head:
    model_class: type[GPTHFPreTrainedModel]
    pipeline_tag: str  # the Hub's name for what the head does


# The one table of heads, by the Auto class each answers to. gpt_hf/__init__ registers them with transformers,
# save_pretrained writes them into config.auto_map, and the Hub card, conversion and fine-tuning look them up here.
HEADS = {
    "AutoModel": Head(GPTHFModel, "feature-extraction"),
    "AutoModelForCausalLM": Head(GPTHFForCausalLM, "text-generation"),
    "AutoModelForSequenceClassification": Head(GPTHFForSequenceClassification, "text-classification"),
    "AutoModelForMultipleChoice": Head(GPTHFForMultipleChoice, "multiple-choice"),
}
for _auto_class, _head in HEADS.items():
    _head.model_class.register_for_auto_class(_auto_class)  # save_pretrained then copies this file beside weights


def auto_map() -> dict[str, str]:
    """config.auto_map for a saved folder: the config and every head, as `module.Class` names."""
    return {
        "AutoConfig": f"configuration_gpt_hf.{GPTHFConfig.__name__}",
        **{auto_class: f"modeling_gpt_hf.{head.model_class.__name__}" for auto_class, head in HEADS.items()},
    }


def head_of(architecture: str) -> tuple[str, Head] | None:
    """(Auto class, head) for a class name as saved in config.architectures; None for a class not in the table."""
    return next(
        ((auto_class, head) for auto_class, head in HEADS.items() if head.model_class.__name__ == architecture), None
    )


__all__ = [
    "HEADS",
    "GPTHFPreTrainedModel",
    "GPTHFModel",
    "GPTHFForCausalLM",
    "GPTHFForSequenceClassification",
    "GPTHFForMultipleChoice",
    "GPTHFTaskOutput",
]
