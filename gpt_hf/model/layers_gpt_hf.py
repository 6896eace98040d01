"""The layers of a gpt_hf decoder: attention, MLP and the block (pre- or post-LN), and the causal-LM loss that never
materialises the logits. A sibling of `modeling_gpt_hf.py`, copied with it into every saved folder (remote code):
imports only torch, transformers and the sibling configuration module.

Shapes: B batch, T new tokens, S = past + T keys, C = n_embd, nh heads, hs = C // nh head size, V vocab.
"""

from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.checkpoint import checkpoint
from transformers.activations import ACT2FN
from transformers.cache_utils import Cache
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

from .configuration_gpt_hf import GPTHFConfig

# Activations with a fused PyTorch kernel. "gelu_new" is the tanh approximation written out in Python in transformers
# (eight elementwise kernels); F.gelu(approximate="tanh") computes the same function in one.
_FUSED_ACTIVATIONS = {
    "gelu_new": lambda: nn.GELU(approximate="tanh"),
    "gelu_pytorch_tanh": lambda: nn.GELU(approximate="tanh"),
    "gelu": lambda: nn.GELU(),
    "relu": nn.ReLU,
}


# The chunked loss buys memory, not speed (a 2-core CPU step: 21 % slower with it at width 128 / vocab 4096, 10 % faster
# to 3 % slower at 384 / 8192): used once the fp32 logits take this much (gpt1 preset, batch 8 x 512: 663 MB).
_CHUNKED_LOSS_MIN_LOGITS_BYTES = 2**28


def causal_lm_loss(hidden_states, lm_head_weight, labels, num_items_in_batch=None, ignore_index: int = -100):
    """The causal-LM loss (position t predicts label t+1) from hidden states (..., T, C) and the head's (V, C) weight,
    without materialising the (..., T, V) logits or their gradient: torch's chunked `linear_cross_entropy` (torch >=
    2.13) computes them block by block. Same value and gradients as `ForCausalLMLoss(lm_head(hidden_states), labels)`,
    including the `num_items_in_batch` normalisation the Trainer uses with gradient accumulation."""
    targets = F.pad(labels, (0, 1), value=ignore_index)[..., 1:].to(hidden_states.device)  # (..., T), shifted
    hidden = hidden_states.reshape(-1, hidden_states.shape[-1])  # (N, C)
    weight = lm_head_weight.to(hidden.dtype) if torch.is_autocast_enabled(hidden.device.type) else lm_head_weight
    if hasattr(F, "linear_cross_entropy") and 4 * hidden.shape[0] * weight.shape[0] >= _CHUNKED_LOSS_MIN_LOGITS_BYTES:
        # under torch.compile the op needs allow_retain_graph (it warns, and breaks the graph, otherwise)
        options = nn.LinearCrossEntropyOptions(allow_retain_graph=torch.compiler.is_compiling())
        loss = F.linear_cross_entropy(
            hidden, weight, targets.reshape(-1), ignore_index=ignore_index, reduction="sum", options=options
        )
    else:  # small logits (or torch < 2.13): the plain path
        logits = F.linear(hidden, weight).float()
        loss = F.cross_entropy(logits, targets.reshape(-1), ignore_index=ignore_index, reduction="sum")
    if num_items_in_batch is None:
        num_items_in_batch = (targets != ignore_index).sum()
    if torch.is_tensor(num_items_in_batch):
        num_items_in_batch = num_items_in_batch.to(loss.device)
    return loss / num_items_in_batch


_STORED_ATTENTION_BUDGET = 2**30  # bytes of attention tensors a CPU training step keeps before recomputing them


def eager_attention_forward(module, query, key, value, attention_mask, scaling, dropout=0.0, **kwargs):
    """Reference attention: softmax(q k^T * scaling + mask) v. q (B, nh, T, hs), k/v (B, nh, S, hs)."""
    attn_weights = torch.matmul(query, key.transpose(-1, -2)) * scaling  # (B, nh, T, S)
    if attention_mask is not None:
        attn_weights = attn_weights + attention_mask
    attn_weights = F.softmax(attn_weights, dim=-1, dtype=torch.float32).to(value.dtype)
    attn_weights = F.dropout(attn_weights, p=dropout, training=module.training)
    attn_output = torch.matmul(attn_weights, value).transpose(1, 2)  # (B, T, nh, hs)
    return attn_output, attn_weights


class GPTHFAttention(nn.Module):
    """Causal multi-head self-attention with a fused qkv projection, dispatched through transformers' interface."""

    def __init__(self, config: GPTHFConfig, layer_idx: int):
        super().__init__()
        self.config = config
        self.layer_idx = layer_idx
        self.n_head = config.n_head
        self.head_dim = config.n_embd // config.n_head
        self.scaling = self.head_dim**-0.5
        self.is_causal = True  # read by the sdpa / flash integrations
        self.attention_dropout = config.attn_pdrop
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd)
        self.c_proj.is_residual_projection = True  # read by _init_weights
        self.resid_dropout = nn.Dropout(config.resid_pdrop)

    def forward(self, hidden_states, attention_mask=None, cache: Cache | None = None, **kwargs):
        B, T, C = hidden_states.shape
        qkv = self.c_attn(hidden_states).view(B, T, 3, self.n_head, self.head_dim)
        query, key, value = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (B, nh, T, hs)
        if cache is not None:  # kwargs: what a paged cache (continuous batching) fills in for the attention function
            key, value = cache.update(key, value, self.layer_idx, kwargs=kwargs)  # (B, nh, S, hs)

        attention_interface: Callable = ALL_ATTENTION_FUNCTIONS.get_interface(
            self.config._attn_implementation, eager_attention_forward
        )
        dropout = self.attention_dropout if self.training else 0.0
        if (
            dropout > 0
            and query.is_cpu
            and torch.is_grad_enabled()
            and not torch.compiler.is_compiling()
            and self.config.n_layer * 3 * 4 * query.shape[:-1].numel() * key.shape[-2] > _STORED_ATTENTION_BUDGET
        ):
            # On CPU no attention kernel supports dropout: sdpa's math path keeps the scores, probabilities and dropout
            # mask (3 fp32 (B, nh, T, S) per layer) for backward: 3.6 GB at the gpt1 preset, batch 8 x 512. Past the
            # budget, recompute them in backward (same RNG state and result; only q, k, v stay); below it storing is
            # faster (1.09x per step).
            attn_output, attn_weights = checkpoint(
                attention_interface,
                self,
                query,
                key,
                value,
                attention_mask,
                dropout=dropout,
                scaling=self.scaling,
                use_reentrant=False,
                **kwargs,
            )
        else:
            attn_output, attn_weights = attention_interface(
                self, query, key, value, attention_mask, dropout=dropout, scaling=self.scaling, **kwargs
            )
        attn_output = attn_output.reshape(B, T, C)  # (B, T, nh, hs) -> (B, T, C)
        return self.resid_dropout(self.c_proj(attn_output)), attn_weights


class GPTHFMLP(nn.Module):
    def __init__(self, config: GPTHFConfig):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, config.inner_dim)
        self.act = _FUSED_ACTIVATIONS.get(config.activation_function, lambda: ACT2FN[config.activation_function])()
        self.c_proj = nn.Linear(config.inner_dim, config.n_embd)
        self.c_proj.is_residual_projection = True  # read by _init_weights
        self.dropout = nn.Dropout(config.resid_pdrop)

    def forward(self, hidden_states):
        return self.dropout(self.c_proj(self.act(self.c_fc(hidden_states))))


class GPTHFBlock(GradientCheckpointingLayer):
    """One decoder block. Post-LN (GPT-1): x = LN(x + f(x)). Pre-LN (GPT-2): x = x + f(LN(x)).
    Returns the new hidden states and the attention weights (None unless the attention function returns them)."""

    def __init__(self, config: GPTHFConfig, layer_idx: int):
        super().__init__()
        self.pre_norm = config.pre_norm
        self.ln_1 = nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon)
        self.attn = GPTHFAttention(config, layer_idx)
        self.ln_2 = nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon)
        self.mlp = GPTHFMLP(config)

    def forward(self, hidden_states, attention_mask=None, cache=None, **kwargs):
        if self.pre_norm:
            attn_output, attn_weights = self.attn(self.ln_1(hidden_states), attention_mask, cache, **kwargs)
            hidden_states = hidden_states + attn_output
            return hidden_states + self.mlp(self.ln_2(hidden_states)), attn_weights
        attn_output, attn_weights = self.attn(hidden_states, attention_mask, cache, **kwargs)
        hidden_states = self.ln_1(hidden_states + attn_output)
        return self.ln_2(hidden_states + self.mlp(hidden_states)), attn_weights
