"""What makes gpt_hf's decoding step cheaper than transformers' defaults, with the same results:

1. `GrowingCacheLayer`, the key/value cache layer gpt_hf decodes with instead of transformers' `DynamicLayer`.
`DynamicLayer.update` concatenates the whole cache with each new token (`torch.cat`), so decoding S tokens copies
O(S^2) key/value entries per layer and allocates a fresh buffer every step (batch-8 decoding on CPU: 1.04x faster
without it at 144 tokens, 1.14x at 496; docs/benchmarks.md). `GrowingCacheLayer` writes new positions into spare
capacity and returns views (B, nh, :S, hs) of its buffers; capacity doubles when full (capped at the model's
context), so each position is copied O(1) times. Everything else — the `Cache` API, beam-search reordering,
cropping, batch selection, offloading — is `DynamicLayer`'s: those replace `keys` / `values` with new tensors, and
the next update adopts them into a fresh buffer.

2. `GPTHFVocabHead`, the LM head: on CPU, for the few rows of a batched decoding step, the faster of the two
orientations of the same matrix product (equal up to float rounding).

Remote-code safe: imports only torch and transformers (save_pretrained copies it beside `modeling_gpt_hf.py`).
"""

from functools import partial

import torch
from torch import nn
from transformers.cache_utils import Cache, DynamicCache, DynamicLayer

# Rows (batch x new tokens) for which the LM head uses the (W h^T)^T orientation on CPU (see GPTHFVocabHead).
_VOCAB_HEAD_ROWS = range(2, 33)


class GPTHFVocabHead(nn.Linear):
    """The LM head (an nn.Linear: same weights, hooks, PEFT and quantisation as ever). On CPU with 2-32 rows — a
    batched decoding step — it computes (W h^T)^T instead of h W^T: the same product, but MKL's kernel for that
    orientation ran 1.2-2.6x faster there (vocab 8192 x 384 and 40,478 x 768, weights out of cache, 2 threads, AMD
    EPYC), and not faster at 1 row, which keeps h W^T."""

    def forward(self, hidden_states):
        rows = hidden_states.numel() // hidden_states.shape[-1]
        if hidden_states.device.type != "cpu" or rows not in _VOCAB_HEAD_ROWS or self.bias is not None:
            return super().forward(hidden_states)
        logits = torch.mm(self.weight, hidden_states.reshape(rows, -1).T).T  # (V, rows) -> (rows, V)
        return logits.contiguous().view(*hidden_states.shape[:-1], -1)


_MIN_CAPACITY = 64  # positions a cache layer allocates at first


class GrowingCacheLayer(DynamicLayer):
    """A `DynamicLayer` whose `update` writes into spare capacity instead of concatenating (module docstring)."""

    def __init__(self, max_length: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.max_length = max_length  # the model's context: capacity never grows past it
        self._key_buffer = self._value_buffer = None

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs):
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        if _tracing() or (torch.is_grad_enabled() and (key_states.requires_grad or value_states.requires_grad)):
            # in-place writes into a buffer autograd has saved would fail in backward; compiled and exported graphs
            # decode with transformers' static cache anyway
            return super().update(key_states, value_states, *args, **kwargs)
        start = self.get_seq_length()
        end = start + key_states.shape[-2]
        if not self._owns_cache(key_states, end):
            self._reallocate(key_states, value_states, start, end)
        self._key_buffer[..., start:end, :].copy_(key_states)
        self._value_buffer[..., start:end, :].copy_(value_states)
        self.keys = self._key_buffer[..., :end, :]  # (B, nh, S, hs) views
        self.values = self._value_buffer[..., :end, :]
        return self.keys, self.values

    def _owns_cache(self, key_states: torch.Tensor, end: int) -> bool:
        """Whether `keys` is still a view of this layer's buffer (not replaced by a reorder, crop to a copy, batch
        selection or offload) and the buffer matches the new states and has room for `end` positions."""
        buffer = self._key_buffer
        if buffer is None or buffer.shape[-2] < end:
            return False
        if buffer.shape[:-2] != key_states.shape[:-2] or buffer.shape[-1] != key_states.shape[-1]:
            return False
        if buffer.dtype != key_states.dtype or buffer.device != key_states.device:
            return False
        if self.keys.numel() == 0:
            return True
        return (self.keys.data_ptr() == buffer.data_ptr() and self.keys.stride() == buffer.stride()
                and self.values.data_ptr() == self._value_buffer.data_ptr())

    def _reallocate(self, key_states: torch.Tensor, value_states: torch.Tensor, start: int, end: int) -> None:
        capacity = max(2 * end, _MIN_CAPACITY)
        if self.max_length is not None:
            capacity = max(min(capacity, self.max_length), end)
        *batch, _, head_dim = key_states.shape
        # torch.empty: on CPU (Linux) the untouched pages of a large buffer's spare capacity take no memory
        keys = key_states.new_empty((*batch, capacity, head_dim))
        values = value_states.new_empty((*batch, capacity, value_states.shape[-1]))
        if start:
            keys[..., :start, :].copy_(self.keys)
            values[..., :start, :].copy_(self.values)
        self._key_buffer, self._value_buffer = keys, values

    def reset(self) -> None:
        self._key_buffer = self._value_buffer = None
        super().reset()


def _tracing() -> bool:
    return torch.compiler.is_compiling() or torch.jit.is_tracing()


def grow_in_place(cache: Cache | None, max_length: int) -> None:
    """Give a transformers `DynamicCache` (the one `generate` builds, or one a user made) growing layers: only layers
    that hold nothing yet are replaced, so no cached state changes. Offloading caches and other cache types are
    left alone."""
    if type(cache) is not DynamicCache or cache.offloading or _tracing():
        return
    for index, layer in enumerate(cache.layers):
        if type(layer) is DynamicLayer and not layer.is_initialized:
            cache.layers[index] = GrowingCacheLayer(max_length)
    if cache.layer_class_to_replicate is DynamicLayer:  # layers created lazily by `Cache.update`
        cache.layer_class_to_replicate = partial(GrowingCacheLayer, max_length)
