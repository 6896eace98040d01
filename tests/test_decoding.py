"""The decoding fast paths (gpt_hf/decoding_gpt_hf.py): the key/value cache that grows in place and the LM head's
small-batch orientation give the same results as transformers' DynamicLayer and nn.Linear, in every generate mode."""

import pytest
import torch
from torch.nn import functional as F
from torch.testing import assert_close
from transformers.cache_utils import DynamicCache, DynamicLayer

from gpt_hf import decoding_gpt_hf, modeling_gpt_hf
from gpt_hf.decoding_gpt_hf import GPTHFVocabHead, GrowingCacheLayer

from conftest import PAD, causal_lm, random_ids


GENERATE_MODES = {
    "greedy": dict(do_sample=False),
    "sampling": dict(do_sample=True, top_k=20),
    "beam search": dict(do_sample=False, num_beams=3, num_return_sequences=2),  # reorders the cache every step
    "prompt lookup": dict(do_sample=False, prompt_lookup_num_tokens=3),  # crops the cache after rejected drafts
    "repetition penalty": dict(do_sample=False, repetition_penalty=1.3),
}


@pytest.mark.parametrize("mode", GENERATE_MODES)
def test_generate_equals_the_concatenating_cache(mode, monkeypatch):
    model = causal_lm("pre")
    prompt = torch.cat([torch.full((1, 3), PAD), random_ids(1, 5, generator_seed=1)], dim=1)
    prompt = torch.cat([prompt, random_ids(1, 8, generator_seed=2)])  # one left-padded row, one full row
    mask = torch.ones_like(prompt)
    mask[0, :3] = 0
    if mode == "prompt lookup":  # assisted decoding runs one row at a time
        prompt, mask = torch.cat([prompt[1:, :4], prompt[1:, :4], prompt[1:, :4]], dim=1), None
    kwargs = dict(max_new_tokens=20, pad_token_id=PAD, output_scores=True, return_dict_in_generate=True,
                  attention_mask=mask, **GENERATE_MODES[mode])

    def generate():
        torch.manual_seed(0)
        return model.generate(prompt, **kwargs)

    growing = generate()
    with monkeypatch.context() as patch:
        patch.setattr(modeling_gpt_hf, "grow_in_place", lambda cache, max_length: None)
        plain = generate()
    assert torch.equal(growing.sequences, plain.sequences)
    for a, b in zip(growing.scores, plain.scores):
        assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_generate_and_cached_forward_use_growing_layers():
    model = causal_lm("pre")
    out = model(random_ids(2, 5), use_cache=True)
    assert all(type(layer) is GrowingCacheLayer for layer in out.past_key_values.layers)
    user_cache = DynamicCache(config=model.config)  # a cache the user made: upgraded while it is empty
    model(random_ids(2, 5), past_key_values=user_cache, use_cache=True)
    assert all(type(layer) is GrowingCacheLayer for layer in user_cache.layers)
    lazy_cache = DynamicCache()  # layers created on first update
    model(random_ids(2, 5), past_key_values=lazy_cache, use_cache=True)
    assert all(type(layer) is GrowingCacheLayer for layer in lazy_cache.layers)


def test_filled_cache_layers_are_left_alone():
    model = causal_lm("pre")
    cache = DynamicCache(config=model.config)
    key = torch.randn(1, 4, 3, 8)
    for index in range(model.config.n_layer):
        cache.update(key, key, index)  # plain DynamicLayers holding data
    model(random_ids(1, 2), past_key_values=cache, use_cache=True)
    assert all(type(layer) is DynamicLayer for layer in cache.layers)
    assert cache.get_seq_length() == 5


def test_long_decoding_across_capacity_growth_matches_the_full_forward():
    model = causal_lm("pre", n_positions=200)
    ids = random_ids(2, 160)
    with torch.no_grad():
        full = model(ids).logits
        out = model(ids[:, :10], use_cache=True)
        steps = [out.logits]
        layer = out.past_key_values.layers[0]
        pointers = {layer.keys.data_ptr()}
        for t in range(10, 160):
            out = model(ids[:, t : t + 1], past_key_values=out.past_key_values, use_cache=True)
            steps.append(out.logits)
            pointers.add(layer.keys.data_ptr())
    assert_close(torch.cat(steps, dim=1), full, atol=1e-5, rtol=1e-5)
    # 64 -> 128 -> 200 (capped at n_positions): three buffers in 160 positions, not one per token
    assert len(pointers) == 3 and layer._key_buffer.shape[-2] == 200


def test_layer_adopts_tensors_that_replaced_its_views():
    layer, reference = GrowingCacheLayer(max_length=100), DynamicLayer()
    for step in range(3):
        states = torch.randn(3, 2, 4 if step == 0 else 1, 8)
        for cache in (layer, reference):
            cache.update(states, 2 * states)
    beam = torch.tensor([2, 0, 0])
    for cache in (layer, reference):
        cache.reorder_cache(beam)  # a new tensor replaces the view: the next update copies it into a buffer
        cache.crop(-2)  # a view of it
        cache.update(torch.ones(3, 2, 1, 8), torch.zeros(3, 2, 1, 8))
    assert torch.equal(layer.keys, reference.keys) and torch.equal(layer.values, reference.values)
    layer.batch_select_indices(torch.tensor([1]))
    reference.batch_select_indices(torch.tensor([1]))
    for cache in (layer, reference):
        cache.update(torch.full((1, 2, 1, 8), 5.0), torch.full((1, 2, 1, 8), 6.0))
    assert torch.equal(layer.keys, reference.keys) and torch.equal(layer.values, reference.values)
    layer.reset()
    assert layer.get_seq_length() == 0 and layer._key_buffer is None


def test_cache_that_autograd_needs_falls_back_to_concatenation():
    model = causal_lm("pre").train()
    ids = random_ids(2, 12)
    first = model(ids[:, :6], use_cache=True)
    rest = model(ids[:, 6:], past_key_values=first.past_key_values, use_cache=True)
    (first.logits.sum() + rest.logits.sum()).backward()  # an in-place buffer write would break this backward
    reference = causal_lm("pre").train()
    reference.load_state_dict(model.state_dict())
    reference(ids).logits.sum().backward()
    for (name, a), b in zip(reference.named_parameters(), model.parameters()):
        assert_close(b.grad, a.grad, atol=1e-5, rtol=1e-4, msg=name)


@pytest.mark.parametrize("rows", [1, 2, 8, decoding_gpt_hf._VOCAB_HEAD_ROWS[-1], 40])
def test_vocab_head_equals_the_linear_layer(rows):
    head = GPTHFVocabHead(32, 99, bias=False)
    hidden = torch.randn(rows, 1, 32, requires_grad=True)
    logits = head(hidden)
    assert logits.shape == (rows, 1, 99) and logits.is_contiguous()
    assert_close(logits, F.linear(hidden, head.weight), atol=1e-6, rtol=1e-5)
    logits.sum().backward()
    assert_close(head.weight.grad, hidden.detach().reshape(rows, 32).sum(0).expand(99, 32), atol=1e-5, rtol=1e-5)


def test_model_lm_head_is_the_vocab_head_tied_to_the_embedding():
    model = causal_lm("pre")
    assert isinstance(model.lm_head, GPTHFVocabHead) and model.lm_head.weight is model.transformer.wte.weight
