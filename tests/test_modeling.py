"""Behaviour of the model classes as a transformers user sees it: the cache, padding, attention backends,
gradient checkpointing, embeddings, task heads with the auxiliary LM loss, initialisation and errors."""

import warnings

import pytest
import torch
from torch.testing import assert_close

import gpt_hf
from gpt_hf import GPTHFForMultipleChoice, GPTHFForSequenceClassification, GPTHFModel
from gpt_hf.model.modeling_gpt_hf import _CACHE as CACHE

from conftest import (
    DELIM,
    EXTRACT,
    PAD,
    START,
    causal_lm,
    enable_activation_checkpointing,
    random_ids,
    task_rows,
    tiny_config,
)

LAYOUTS = ["post", "pre"]


@pytest.mark.parametrize("norm_position", LAYOUTS)
def test_cached_forward_matches_full_forward(norm_position):
    # the cache returned under the running release's name and passed back under it (generate's way)
    model = causal_lm(norm_position)
    ids = random_ids(2, 10)
    with torch.no_grad():
        full = model(ids).logits
        first = model(ids[:, :6], use_cache=True)
        rest = model(ids[:, 6:], **{CACHE: getattr(first, CACHE)}, use_cache=True).logits
    assert_close(torch.cat([first.logits, rest], dim=1), full, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("norm_position", LAYOUTS)
def test_eager_and_sdpa_agree(norm_position):
    eager = causal_lm(norm_position, attn_implementation="eager")
    sdpa = causal_lm(norm_position, attn_implementation="sdpa")
    sdpa.load_state_dict(eager.state_dict())
    ids = random_ids(3, 12)
    mask = torch.ones_like(ids)
    mask[0, :4] = 0  # exercise the padded-mask path too
    with torch.no_grad():
        assert_close(sdpa(ids).logits, eager(ids).logits, atol=1e-5, rtol=1e-5)
        assert_close(
            sdpa(ids, attention_mask=mask).logits[:, 4:],
            eager(ids, attention_mask=mask).logits[:, 4:],
            atol=1e-5,
            rtol=1e-5,
        )


def test_output_attentions_and_hidden_states_with_eager():
    model = causal_lm("pre", attn_implementation="eager")
    out = model(random_ids(2, 6), output_attentions=True, output_hidden_states=True)
    assert len(out.attentions) == 2 and out.attentions[0].shape == (2, 4, 6, 6)
    assert len(out.hidden_states) == 3 and out.hidden_states[-1].shape == (2, 6, 32)
    assert_close(out.attentions[0].sum(-1), torch.ones(2, 4, 6))


@pytest.mark.parametrize("norm_position", LAYOUTS)
def test_gradient_checkpointing_gives_the_same_gradients(norm_position):
    plain = causal_lm(norm_position).train()
    checkpointed = causal_lm(norm_position).train()
    checkpointed.load_state_dict(plain.state_dict())
    enable_activation_checkpointing(checkpointed, gradient_checkpointing_kwargs={"use_reentrant": False})
    assert all(block.gradient_checkpointing for block in checkpointed.transformer.h)
    ids = random_ids(2, 10)
    for model in (plain, checkpointed):
        model(ids, labels=ids).loss.backward()
    for (name, a), b in zip(plain.named_parameters(), checkpointed.parameters()):
        assert_close(b.grad, a.grad, atol=1e-6, rtol=1e-5, msg=name)


def test_resize_token_embeddings_keeps_lm_head_tied():
    model = causal_lm()
    assert model.lm_head.weight is model.transformer.wte.weight
    model.resize_token_embeddings(120)
    assert model.config.vocab_size == 120
    assert model.lm_head.weight is model.transformer.wte.weight
    assert model.lm_head.weight.shape == (120, 32)
    assert model(torch.tensor([[119, 3, 4]])).logits.shape == (1, 3, 120)


def test_torch_compile_fullgraph_forward():
    model = causal_lm("pre")
    ids = random_ids(2, 8)
    compiled = torch.compile(model, backend="aot_eager", fullgraph=True)
    with torch.no_grad():
        assert_close(compiled(ids).logits, model(ids).logits, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("norm_position", LAYOUTS)
def test_labels_give_the_shifted_next_token_loss(norm_position):
    model = causal_lm(norm_position)
    ids = random_ids(2, 9)
    out = model(ids, labels=ids)
    manual = torch.nn.functional.cross_entropy(out.logits[:, :-1].reshape(-1, 99), ids[:, 1:].reshape(-1))
    assert_close(out.loss, manual)


@pytest.fixture
def chunked_loss(monkeypatch):
    """Make the tiny model take torch's chunked linear_cross_entropy (normally kept for logits of 256 MiB and more);
    count calls."""
    from gpt_hf.model import layers_gpt_hf

    if not hasattr(torch.nn.functional, "linear_cross_entropy"):
        pytest.skip("torch < 2.13 has no linear_cross_entropy: the model takes the plain loss path")
    calls = []
    original = torch.nn.functional.linear_cross_entropy
    monkeypatch.setattr(layers_gpt_hf, "_CHUNKED_LOSS_MIN_LOGITS_BYTES", 0)
    monkeypatch.setattr(
        torch.nn.functional,
        "linear_cross_entropy",
        lambda *args, **kwargs: calls.append(1) or original(*args, **kwargs),
    )
    return calls


@pytest.mark.parametrize("norm_position", LAYOUTS)
def test_fused_lm_loss_equals_the_plain_path_in_value_and_gradients(norm_position, chunked_loss):
    from transformers.loss.loss_utils import ForCausalLMLoss

    model = causal_lm(norm_position).train()  # dropout is off in the tiny config: both passes see the same model
    ids = random_ids(3, 12)
    labels = ids.masked_fill(torch.rand(ids.shape) < 0.2, -100)
    assert model(ids, labels=labels).logits is not None  # by default the logits come back (TRL reads them)
    fused = model(ids, labels=labels, skip_logits=True)  # what gpt_hf's Trainer asks for while training
    assert fused.logits is None
    fused_grads = torch.autograd.grad(fused.loss, list(model.parameters()))
    plain = model(ids, labels=labels, skip_logits=False)
    assert plain.logits.shape == (3, 12, 99)
    reference = ForCausalLMLoss(plain.logits, labels, vocab_size=99)
    assert_close(fused.loss, reference, atol=1e-5, rtol=1e-5)
    for fused_grad, plain_grad in zip(fused_grads, torch.autograd.grad(reference, list(model.parameters()))):
        assert_close(fused_grad, plain_grad, atol=1e-5, rtol=1e-5)
    # the Trainer's gradient-accumulation normalisation
    items = torch.tensor(50)
    assert_close(
        model(ids, labels=labels, num_items_in_batch=items, skip_logits=True).loss,
        ForCausalLMLoss(plain.logits, labels, vocab_size=99, num_items_in_batch=items),
        atol=1e-5,
        rtol=1e-5,
    )
    with pytest.raises(ValueError, match="skip_logits=True returns only the loss, so it needs labels"):
        model(ids, skip_logits=True)
    assert len(chunked_loss) == 2  # the two skip_logits=True calls took the chunked path


def test_fused_aux_lm_loss_gradients_equal_the_plain_path(chunked_loss):
    model = GPTHFForSequenceClassification(tiny_config(num_labels=3, aux_lm_weight=0.5)).train()
    rows, mask = task_rows(4, 8, pad_to=10)
    labels = torch.tensor([0, 2, 1, 0])
    out = model(rows, attention_mask=mask, labels=labels)
    grads = torch.autograd.grad(out.lm_loss, list(model.transformer.parameters()))
    hidden = model.transformer(rows, attention_mask=mask).last_hidden_state
    targets = rows.masked_fill(mask == 0, -100)[:, 1:]
    plain = torch.nn.functional.cross_entropy(model.lm_head(hidden)[:, :-1].reshape(-1, 99), targets.reshape(-1))
    assert_close(out.lm_loss, plain, atol=1e-5, rtol=1e-5)
    for fused_grad, plain_grad in zip(grads, torch.autograd.grad(plain, list(model.transformer.parameters()))):
        assert_close(fused_grad, plain_grad, atol=1e-5, rtol=1e-5)
    assert chunked_loss


def test_initialisation_scales_residual_projections_only_for_pre_ln():
    sizes = dict(n_embd=256, n_head=4, n_layer=8, vocab_size=99, n_positions=64)
    pre = GPTHFModel(gpt_hf.GPTHFConfig(norm_position="pre", **sizes))
    post = GPTHFModel(gpt_hf.GPTHFConfig(norm_position="post", **sizes))
    scaled = 0.02 / (2 * 8) ** 0.5
    for model, proj_std in ((pre, scaled), (post, 0.02)):
        block = model.h[3]
        assert block.attn.c_proj.weight.std().item() == pytest.approx(proj_std, rel=0.03)
        assert block.mlp.c_proj.weight.std().item() == pytest.approx(proj_std, rel=0.03)
        assert block.attn.c_attn.weight.std().item() == pytest.approx(0.02, rel=0.03)
        assert model.wte.weight.std().item() == pytest.approx(0.02, rel=0.03)
        assert torch.all(block.attn.c_attn.bias == 0) and torch.all(block.ln_1.weight == 1)


def test_sequence_longer_than_context_is_a_clear_error():
    model = causal_lm()
    with pytest.raises(ValueError, match=r"Sequence length 65 .* exceeds n_positions=64"):
        model(random_ids(1, 65))
    cache = getattr(model(random_ids(1, 60), use_cache=True), CACHE)
    with pytest.raises(ValueError, match=r"past 60 \+ new 5"):
        model(random_ids(1, 5), cache=cache, use_cache=True)


def test_token_id_outside_the_vocabulary_is_a_clear_error():
    with pytest.raises(ValueError, match=r"ids outside the vocabulary \[0, 99\) \(min 0, max 120\)"):
        causal_lm()(torch.tensor([[0, 5, 120]]))


def test_both_or_neither_input_is_a_clear_error():
    model = causal_lm()
    with pytest.raises(ValueError, match="exactly one of input_ids or inputs_embeds"):
        model()


# --- task heads -------------------------------------------------------------------------------------------------


def test_classification_pools_the_extract_token():
    model = GPTHFForSequenceClassification(tiny_config(num_labels=3)).eval()
    rows, mask = task_rows(2, 8)
    padded, padded_mask = task_rows(2, 8, pad_to=12)
    with torch.no_grad():
        logits = model(rows, attention_mask=mask).logits
        hidden = model.transformer(rows).last_hidden_state
        assert_close(logits, model.score(hidden[:, 7]))
        # right padding after the extract token changes nothing
        assert_close(model(padded, attention_mask=padded_mask).logits, logits, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("pooling", ["mean", "extract+mean"])
def test_classification_pooling_reads_the_mean_of_real_tokens(pooling):
    model = GPTHFForSequenceClassification(tiny_config(num_labels=3, classifier_pooling=pooling)).eval()
    rows, mask = task_rows(2, 8)
    right, right_mask = task_rows(2, 8, pad_to=12)
    left, left_mask = right.roll(4, dims=1), right_mask.roll(4, dims=1)  # the pads moved to the front
    with torch.no_grad():
        logits = model(rows, attention_mask=mask).logits
        hidden = model.transformer(rows).last_hidden_state
        pooled = hidden.mean(1) if pooling == "mean" else torch.cat([hidden[:, 7], hidden.mean(1)], -1)
        assert model.score.in_features == pooled.shape[-1]
        assert_close(logits, model.score(pooled))
        # pads (either side) are not in the mean
        assert_close(model(right, attention_mask=right_mask).logits, logits, atol=1e-5, rtol=1e-5)
        position_ids = (left_mask.cumsum(-1) - 1).clamp(min=0)
        assert_close(
            model(left, attention_mask=left_mask, position_ids=position_ids).logits, logits, atol=1e-5, rtol=1e-5
        )
    chooser = GPTHFForMultipleChoice(tiny_config(classifier_pooling=pooling))
    out = chooser(rows.view(1, 2, 8), attention_mask=mask.view(1, 2, 8), labels=torch.tensor([1]))
    assert out.logits.shape == (1, 2)
    out.loss.backward()


def test_unknown_pooling_is_a_clear_error():
    with pytest.raises(ValueError, match=r"classifier_pooling must be one of .*got 'max'"):
        tiny_config(classifier_pooling="max")


def test_classification_loss_is_task_plus_lambda_times_lm():
    model = GPTHFForSequenceClassification(tiny_config(num_labels=3, aux_lm_weight=0.5))
    rows, mask = task_rows(4, 8, pad_to=10)
    labels = torch.tensor([0, 2, 1, 0])
    out = model(rows, attention_mask=mask, labels=labels)
    assert_close(out.task_loss, torch.nn.functional.cross_entropy(out.logits, labels))
    lm_logits = model.lm_head(model.transformer(rows, attention_mask=mask).last_hidden_state)
    targets = rows.masked_fill(mask == 0, -100)[:, 1:]
    manual_lm = torch.nn.functional.cross_entropy(lm_logits[:, :-1].reshape(-1, 99), targets.reshape(-1))
    assert_close(out.lm_loss, manual_lm)
    assert_close(out.loss, out.task_loss + 0.5 * out.lm_loss)
    out.loss.backward()
    assert model.score.weight.grad is not None and model.transformer.wte.weight.grad.abs().sum() > 0


def test_aux_lm_weight_zero_disables_the_lm_loss():
    model = GPTHFForSequenceClassification(tiny_config(num_labels=2, aux_lm_weight=0.0))
    rows, mask = task_rows(2, 6)
    out = model(rows, attention_mask=mask, labels=torch.tensor([0, 1]))
    assert out.lm_loss is None and torch.equal(out.loss, out.task_loss)


def test_multi_label_and_regression():
    rows, mask = task_rows(3, 7)
    multi = GPTHFForSequenceClassification(tiny_config(num_labels=4, problem_type="multi_label_classification"))
    targets = torch.tensor([[1.0, 0, 1, 0], [0, 0, 0, 1], [1, 1, 1, 1]])
    out = multi(rows, attention_mask=mask, labels=targets)
    assert_close(out.task_loss, torch.nn.functional.binary_cross_entropy_with_logits(out.logits, targets))
    out.loss.backward()

    regression = GPTHFForSequenceClassification(tiny_config(num_labels=1))
    scores = torch.tensor([0.5, 2.0, -1.0])
    out = regression(rows, attention_mask=mask, labels=scores)
    assert regression.config.problem_type == "regression"
    assert_close(out.task_loss, torch.nn.functional.mse_loss(out.logits.squeeze(-1), scores))
    assert out.lm_loss is not None
    out.loss.backward()


def test_similarity_sums_the_two_orderings():
    model = GPTHFForSequenceClassification(tiny_config(num_labels=1)).eval()
    a_b, _ = task_rows(2, 9, seed=1)
    b_a, _ = task_rows(2, 9, seed=2)
    pairs = torch.stack([a_b, b_a], dim=1)  # (B, 2, T)
    with torch.no_grad():
        logits = model(pairs).logits
        pooled = model.transformer(a_b).last_hidden_state[:, -1] + model.transformer(b_a).last_hidden_state[:, -1]
        assert_close(logits, model.score(pooled), atol=1e-5, rtol=1e-5)
        swapped = model(pairs.flip(1)).logits
    assert_close(swapped, logits, atol=1e-5, rtol=1e-5)  # symmetric in the pair, as the paper intends
    out = model(pairs, labels=torch.tensor([0.3, 0.9]))
    assert out.lm_loss is not None
    out.loss.backward()


def test_multiple_choice_scores_each_choice_and_softmaxes():
    model = GPTHFForMultipleChoice(tiny_config())
    rows, mask = task_rows(2 * 3, 8, pad_to=10)
    choices, choice_mask = rows.view(2, 3, 10), mask.view(2, 3, 10)
    labels = torch.tensor([2, 0])
    out = model(choices, attention_mask=choice_mask, labels=labels)
    assert out.logits.shape == (2, 3)
    assert_close(out.task_loss, torch.nn.functional.cross_entropy(out.logits, labels))
    assert_close(out.loss, out.task_loss + 0.5 * out.lm_loss)
    out.loss.backward()
    with torch.no_grad():
        model.eval()
        single = model(choices[:1, 1:2], attention_mask=choice_mask[:1, 1:2]).logits
        assert_close(single[0, 0], model(choices, attention_mask=choice_mask).logits[0, 1], atol=1e-5, rtol=1e-5)


def test_row_without_extract_token_is_a_clear_error():
    model = GPTHFForSequenceClassification(tiny_config(num_labels=2))
    rows, mask = task_rows(3, 6)
    rows[1, -1] = 5
    with pytest.raises(ValueError, match=r"Rows \[1\] .* contain no extract token \(extract_token_id=98\)"):
        model(rows, attention_mask=mask)


def test_extract_token_hidden_by_the_mask_does_not_count():
    model = GPTHFForSequenceClassification(tiny_config(num_labels=2))
    rows, mask = task_rows(1, 6)
    mask[0, -1] = 0
    with pytest.raises(ValueError, match="contain no extract token"):
        model(rows, attention_mask=mask)


def test_without_extract_id_the_last_real_token_is_pooled():
    model = GPTHFForSequenceClassification(tiny_config(num_labels=2, extract_token_id=None)).eval()
    ids = random_ids(1, 6)
    padded = torch.cat([ids, torch.full((1, 3), PAD)], dim=1)
    with torch.no_grad():
        expected = model(ids).logits
        assert_close(model(padded, attention_mask=(padded != PAD).long()).logits, expected, atol=1e-5, rtol=1e-5)
        assert_close(model(padded).logits, expected, atol=1e-5, rtol=1e-5)  # falls back to pad_token_id


def test_task_head_shape_errors():
    classifier = GPTHFForSequenceClassification(tiny_config(num_labels=2))
    with pytest.raises(ValueError, match=r"\(batch, seq\) or \(batch, orderings, seq\)"):
        classifier(torch.zeros(2, 2, 2, 5, dtype=torch.long))
    chooser = GPTHFForMultipleChoice(tiny_config())
    with pytest.raises(ValueError, match=r"\(batch, choices, seq\)"):
        chooser(task_rows(2, 5)[0])
    with pytest.raises(ValueError, match=r"multi-hot labels of shape \(2, 2\), got \(2,\)"):
        classifier(task_rows(2, 5)[0], labels=torch.tensor([0.0, 1.0]))  # float labels: inferred multi-label
    single = GPTHFForSequenceClassification(tiny_config(num_labels=2, problem_type="single_label_classification"))
    with pytest.raises(TypeError, match="expects integer class ids"):
        single(task_rows(2, 5)[0], labels=torch.tensor([0.0, 1.0]))


def test_delimiter_rows_work_for_entailment():
    model = GPTHFForSequenceClassification(tiny_config(num_labels=3))
    premise, hypothesis = random_ids(2, 4, generator_seed=3), random_ids(2, 3, generator_seed=4)
    rows = torch.cat(
        [torch.full((2, 1), START), premise, torch.full((2, 1), DELIM), hypothesis, torch.full((2, 1), EXTRACT)], dim=1
    )
    out = model(rows, labels=torch.tensor([0, 2]))
    out.loss.backward()
    assert out.logits.shape == (2, 3)


def test_bf16_on_a_cpu_without_bf16_instructions_warns_with_the_cost(monkeypatch, caplog, tmp_path):
    from gpt_hf.runs import arguments
    from gpt_hf.runs.pretrain_arguments import PretrainTrainingArguments

    monkeypatch.setattr(arguments, "cpu_has_bf16_instructions", lambda: False)
    with caplog.at_level("WARNING", logger="gpt_hf.runs.arguments"):
        PretrainTrainingArguments(output_dir=str(tmp_path), bf16=True, use_cpu=True, report_to="none")
    assert "about 15x slower than in fp32" in caplog.text
    caplog.clear()
    monkeypatch.setattr(arguments, "cpu_has_bf16_instructions", lambda: True)
    with caplog.at_level("WARNING", logger="gpt_hf.runs.arguments"):
        PretrainTrainingArguments(output_dir=str(tmp_path), bf16=True, use_cpu=True, report_to="none")
    assert "slower" not in caplog.text


@pytest.mark.skipif(not torch.cuda.is_available(), reason="host syncs only exist with an accelerator")
def test_decoding_step_makes_no_host_sync_on_gpu():
    model = causal_lm("pre").cuda().eval()
    ids = random_ids(1, 8).cuda()
    with torch.no_grad():
        past = getattr(model(ids, use_cache=True), CACHE)
        torch.cuda.set_sync_debug_mode("error")  # any device -> host copy raises
        try:
            model(ids[:, -1:], cache=past, use_cache=True)
        finally:
            torch.cuda.set_sync_debug_mode("default")


def test_compiled_training_step_equals_eager(chunked_loss):
    model = causal_lm("pre").train()
    ids = random_ids(2, 16)
    eager = model(ids, labels=ids).loss
    eager_grads = torch.autograd.grad(eager, list(model.parameters()))
    compiled = torch.compile(model, backend="aot_eager", fullgraph=True)
    loss = compiled(ids, labels=ids, skip_logits=True).loss  # the fused LM loss inside one graph
    assert_close(loss, eager, atol=1e-5, rtol=1e-5)
    for grad, expected in zip(torch.autograd.grad(loss, list(model.parameters())), eager_grads):
        assert_close(grad, expected, atol=1e-5, rtol=1e-5)


def test_attention_recomputed_in_backward_on_cpu_gives_the_same_loss_and_gradients(monkeypatch):
    from gpt_hf.model import layers_gpt_hf

    model = causal_lm("pre", attn_pdrop=0.3).train()  # attention dropout on: the recomputed path
    ids = random_ids(2, 16)
    monkeypatch.setattr(layers_gpt_hf, "_STORED_ATTENTION_BUDGET", 0)  # the tiny model's attention is far below

    def loss_and_grads():
        torch.manual_seed(1)
        loss = model(ids, labels=ids).loss
        return loss, torch.autograd.grad(loss, list(model.parameters()))

    recomputed, recomputed_grads = loss_and_grads()
    monkeypatch.setattr(layers_gpt_hf, "checkpoint", lambda fn, *args, use_reentrant, **kwargs: fn(*args, **kwargs))
    stored, stored_grads = loss_and_grads()  # the same dropout masks, kept in memory
    assert_close(recomputed, stored)
    for a, b in zip(recomputed_grads, stored_grads):
        assert_close(a, b)


@pytest.mark.parametrize("budget, recomputed", [(0, True), (2**30, False)])
def test_attention_is_recomputed_only_past_the_stored_attention_budget(monkeypatch, budget, recomputed):
    from gpt_hf.model import layers_gpt_hf

    calls = []
    monkeypatch.setattr(layers_gpt_hf, "_STORED_ATTENTION_BUDGET", budget)
    monkeypatch.setattr(
        layers_gpt_hf, "checkpoint", lambda fn, *args, use_reentrant, **kwargs: calls.append(fn) or fn(*args, **kwargs)
    )
    model = causal_lm("pre", attn_pdrop=0.3).train()
    ids = random_ids(2, 16)
    model(ids, labels=ids).loss.backward()
    assert len(calls) == (model.config.n_layer if recomputed else 0)
    with torch.no_grad():
        model(ids, labels=ids)  # nothing is kept for backward: never recomputed
    assert len(calls) == (model.config.n_layer if recomputed else 0)


def test_the_cache_is_accepted_under_both_names_and_the_old_one_warns_where_deprecated():
    from gpt_hf.model import modeling_gpt_hf

    model = causal_lm("pre")
    ids = random_ids(2, 8)
    with torch.no_grad():
        full = model(ids).logits
        first = getattr(model(ids[:, :5], use_cache=True), CACHE)
        by_new_name = model(ids[:, 5:], cache=first, use_cache=True).logits
        first = getattr(model(ids[:, :5], use_cache=True), CACHE)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            by_old_name = model(ids[:, 5:], past_key_values=first, use_cache=True).logits
    for rest in (by_new_name, by_old_name):
        assert_close(rest, full[:, 5:], atol=1e-5, rtol=1e-5)
    deprecated = [w for w in caught if "`past_key_values` is deprecated" in str(w.message)]
    assert len(deprecated) == (1 if modeling_gpt_hf._CACHE == "cache" else 0)  # 5.24 renamed it; older: the name
    with pytest.raises(ValueError, match="Pass the key/value cache once"):
        model(ids, cache=first, past_key_values=getattr(model(ids[:, :2], use_cache=True), CACHE))
