"""generate() as transformers users call it: every decoding mode gives the same tokens with a cache as without, for
both layouts, with the dynamic and the static cache, compiled or not, on left-padded batches. The models are drawn so
that their next token depends on the context and is never a near tie (`decisive_lm`, `decisive_greedy`): a cache that
loses the context changes the tokens. These are the checks transformers' GenerationTesterMixin makes for a built-in
model (its file is not in transformers' source distribution, so they are written here); they run on the lowest
declared transformers and on the lock (`make test`)."""

import pytest
import torch
from torch.testing import assert_close

from conftest import PAD, decisive_greedy, decisive_lm, random_ids

LAYOUTS = ["post", "pre"]


@pytest.mark.parametrize("attn_implementation", ["eager", "sdpa"])
@pytest.mark.parametrize("norm_position", LAYOUTS)
def test_cached_greedy_decoding_equals_uncached(norm_position, attn_implementation):
    # the dynamic cache generate builds, and the static cache transformers compiles the decode step with
    model = decisive_lm(norm_position, attn_implementation)
    prompt = random_ids(2, 5)
    reference = decisive_greedy(model, prompt, max_new_tokens=12)
    for cache_implementation in (None, "static"):
        generated = model.generate(
            prompt, max_new_tokens=12, do_sample=False, cache_implementation=cache_implementation
        )
        assert torch.equal(generated, reference), cache_implementation


def _left_padded(*rows):
    """Rows of different lengths as one left-padded batch and its attention mask."""
    width = max(row.shape[1] for row in rows)
    batch = torch.cat([torch.cat([torch.full((1, width - row.shape[1]), PAD), row], dim=1) for row in rows])
    mask = torch.cat(
        [
            torch.cat([torch.zeros(1, width - row.shape[1], dtype=torch.long), torch.ones_like(row)], dim=1)
            for row in rows
        ]
    )
    return batch, mask


@pytest.mark.parametrize("cache_implementation", [None, "static"])
@pytest.mark.parametrize("norm_position", LAYOUTS)
def test_left_padded_batch_generates_what_each_row_generates_alone(norm_position, cache_implementation):
    model = decisive_lm(norm_position)
    short, long = random_ids(1, 4, generator_seed=1), random_ids(1, 7, generator_seed=2)
    batch, mask = _left_padded(short, long)
    reference = decisive_greedy(model, batch, max_new_tokens=8, attention_mask=mask, pad_token_id=PAD)
    generated = model.generate(
        batch,
        attention_mask=mask,
        max_new_tokens=8,
        do_sample=False,
        pad_token_id=PAD,
        cache_implementation=cache_implementation,
    )
    assert torch.equal(generated, reference)
    for index, row in enumerate((short, long)):
        alone = model.generate(row, max_new_tokens=8, do_sample=False, cache_implementation=cache_implementation)
        assert torch.equal(generated[index, -alone.shape[1] :], alone[0]), index


@pytest.mark.parametrize("norm_position", LAYOUTS)
def test_compiled_static_cache_decoding_gives_the_uncached_tokens(norm_position):
    from gpt_hf.evaluation.generation import compiled_decoding

    model = decisive_lm(norm_position)
    batch, mask = _left_padded(random_ids(1, 3, generator_seed=3), random_ids(1, 6, generator_seed=4))
    reference = decisive_greedy(model, batch, max_new_tokens=6, attention_mask=mask, pad_token_id=PAD)
    compiled = model.generate(
        batch,
        attention_mask=mask,
        max_new_tokens=6,
        do_sample=False,
        pad_token_id=PAD,
        cache_implementation="static",
        compile_config=compiled_decoding(model, "aot_eager"),
    )
    assert torch.equal(compiled, reference)


@pytest.mark.parametrize("norm_position", LAYOUTS)
def test_left_padded_forward_equals_unpadded_rows(norm_position):
    model = decisive_lm(norm_position)
    short, long = random_ids(1, 4, generator_seed=1), random_ids(1, 7, generator_seed=2)
    batch, mask = _left_padded(short, long)
    with torch.no_grad():
        padded_logits = model(batch, attention_mask=mask).logits
        assert_close(padded_logits[0, 3:], model(short).logits[0], atol=1e-5, rtol=1e-5)
        assert_close(padded_logits[1], model(long).logits[0], atol=1e-5, rtol=1e-5)


GENERATE_MODES = {
    "greedy": dict(do_sample=False),
    "sampling": dict(do_sample=True, top_k=20),
    "beam search": dict(do_sample=False, num_beams=3, num_return_sequences=2),  # reorders the cache every step
    # crops the cache after rejected drafts (transformers 5.4's prompt lookup needs an eos id)
    "prompt lookup": dict(do_sample=False, prompt_lookup_num_tokens=3, eos_token_id=PAD),
    "repetition penalty": dict(do_sample=False, repetition_penalty=1.3),
}


@pytest.mark.parametrize("mode", GENERATE_MODES)
@pytest.mark.parametrize("norm_position", LAYOUTS)
def test_every_decoding_mode_gives_the_same_result_with_and_without_the_cache(norm_position, mode):
    model = decisive_lm(norm_position)
    batch, mask = _left_padded(random_ids(1, 5, generator_seed=1), random_ids(1, 8, generator_seed=2))
    if mode == "prompt lookup":  # assisted decoding runs one row at a time; a repeated prompt gives drafts to accept
        batch, mask = torch.cat([batch[1:, :4]] * 3, dim=1), None
    kwargs = dict(
        max_new_tokens=16,
        pad_token_id=PAD,
        output_scores=True,
        return_dict_in_generate=True,
        attention_mask=mask,
        **GENERATE_MODES[mode],
    )

    def generate(use_cache):
        torch.manual_seed(0)
        options = kwargs if use_cache else {k: v for k, v in kwargs.items() if k != "prompt_lookup_num_tokens"}
        return model.generate(batch, use_cache=use_cache, **options)  # assisted decoding needs a cache: plain greedy

    cached, uncached = generate(True), generate(False)
    assert torch.equal(cached.sequences, uncached.sequences)
    for a, b in zip(cached.scores, uncached.scores):
        assert_close(a, b, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("norm_position", LAYOUTS)
def test_generate_from_inputs_embeds_equals_generate_from_ids(norm_position):
    model = decisive_lm(norm_position)
    prompt = random_ids(2, 5)
    reference = decisive_greedy(model, prompt, max_new_tokens=8)
    from_embeds = model.generate(inputs_embeds=model.get_input_embeddings()(prompt), max_new_tokens=8, do_sample=False)
    assert torch.equal(from_embeds, reference[:, prompt.shape[1] :])  # only the new tokens come back


@pytest.mark.parametrize("norm_position", LAYOUTS)
def test_generate_continues_from_a_returned_cache(norm_position):
    from gpt_hf.model.modeling_gpt_hf import _CACHE as CACHE

    model = decisive_lm(norm_position)
    prompt = random_ids(2, 5)
    reference = decisive_greedy(model, prompt, max_new_tokens=10)
    first = model.generate(prompt, max_new_tokens=4, do_sample=False, return_dict_in_generate=True)
    rest = model.generate(first.sequences, max_new_tokens=6, do_sample=False, **{CACHE: getattr(first, CACHE)})
    assert torch.equal(rest, reference)


def test_dict_outputs_hold_one_step_of_scores_attentions_and_hidden_states_per_new_token():
    model = decisive_lm("pre", attn_implementation="eager")
    prompt = random_ids(2, 5)
    out = model.generate(
        prompt,
        max_new_tokens=4,
        do_sample=False,
        return_dict_in_generate=True,
        output_scores=True,
        output_logits=True,
        output_attentions=True,
        output_hidden_states=True,
    )
    assert len(out.scores) == len(out.logits) == len(out.attentions) == len(out.hidden_states) == 4
    assert out.scores[0].shape == (2, 99)
    assert out.attentions[0][0].shape == (2, 4, 5, 5) and out.attentions[1][0].shape == (2, 4, 1, 6)  # cached step
    assert len(out.hidden_states[0]) == 3 and out.hidden_states[1][-1].shape == (2, 1, 32)
