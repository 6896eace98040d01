"""Shared tiny fixtures: one tiny config (2 layers, width 32, vocab 99) serves every test; one small corpus and one
set of flags serve every pretraining run."""

import json
import random
import sys
from pathlib import Path

import pytest
import torch

import gpt_hf

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "scripts"
NO_DROPOUT = {"resid_pdrop": 0.0, "embd_pdrop": 0.0, "attn_pdrop": 0.0}

VOCAB_SIZE = 99
PAD, START, DELIM, EXTRACT = 95, 96, 97, 98  # the task-transform specials sit at the top of the tiny vocab


def tiny_config(**overrides) -> gpt_hf.GPTHFConfig:
    """The one tiny config every test builds on; dropout off so outputs are deterministic."""
    values = dict(
        vocab_size=VOCAB_SIZE,
        n_positions=64,
        n_embd=32,
        n_layer=2,
        n_head=4,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        classifier_dropout=0.0,
        pad_token_id=PAD,
        start_token_id=START,
        delimiter_token_id=DELIM,
        extract_token_id=EXTRACT,
    )
    values.update(overrides)
    return gpt_hf.GPTHFConfig(**values)


def causal_lm(norm_position="post", attn_implementation="sdpa", **overrides) -> gpt_hf.GPTHFForCausalLM:
    """The tiny config as a causal LM in eval mode."""
    config = tiny_config(norm_position=norm_position, **overrides)
    return gpt_hf.GPTHFForCausalLM._from_config(config, attn_implementation=attn_implementation).eval()


def decisive_lm(norm_position="post", attn_implementation="sdpa", **overrides) -> gpt_hf.GPTHFForCausalLM:
    """The tiny causal LM with weights drawn wide (std 0.3 instead of 0.02), so that its next token depends strongly
    on the context: a decoding bug that loses the context changes the tokens, not just the rounding."""
    return causal_lm(norm_position, attn_implementation, initializer_range=0.3, **overrides)


def decisive_greedy(model, prompt, max_new_tokens, min_margin=1e-3, **kwargs) -> torch.Tensor:
    """Greedy tokens without a cache (the reference), after checking that they are no near ties (every step's top-2
    logit margin >= `min_margin`, far above float rounding) and that the context moves the logits, so a test that
    compares other decoding paths against them fails only on a bug."""
    out = model.generate(
        prompt,
        max_new_tokens=max_new_tokens,
        do_sample=False,
        use_cache=False,
        output_scores=True,
        return_dict_in_generate=True,
        **kwargs,
    )
    margins = torch.stack([(top := scores.topk(2, dim=-1).values)[:, 0] - top[:, 1] for scores in out.scores])
    assert margins.min() >= min_margin, f"near tie ({margins.min():.2e}): pick another prompt or seed"
    mask = kwargs.get("attention_mask")
    if mask is not None:  # the prompt's mask, extended over the generated tokens
        mask = torch.cat([mask, mask.new_ones(mask.shape[0], out.sequences.shape[1] - mask.shape[1])], dim=1)
    with torch.no_grad():
        with_context = model(out.sequences, attention_mask=mask).logits[:, -1]
        alone = model(out.sequences[:, -1:]).logits[:, -1]
    assert (with_context - alone).abs().max() > 0.5, "the context hardly matters to this model: the test is weak"
    return out.sequences


def enable_activation_checkpointing(model, **kwargs) -> None:
    """Checkpointing under the name the running transformers uses (5.24 renamed gradient_ to activation_)."""
    enable = getattr(model, "activation_checkpointing_enable", None) or model.gradient_checkpointing_enable
    enable(
        **{
            name.replace("gradient_", "activation_") if enable.__name__.startswith("activation") else name: value
            for name, value in kwargs.items()
        }
    )


def activation_checkpointing_flag() -> str:
    """The TrainingArguments flag that turns checkpointing on, as the running transformers spells it."""
    from dataclasses import fields

    from transformers import TrainingArguments

    names = {field.name for field in fields(TrainingArguments)}
    return "--activation_checkpointing" if "activation_checkpointing" in names else "--gradient_checkpointing"


def random_ids(*shape, generator_seed: int = 0, high: int = PAD) -> torch.Tensor:
    """Ordinary (non-special) token ids."""
    generator = torch.Generator().manual_seed(generator_seed)
    return torch.randint(0, high, shape, generator=generator)


def task_rows(batch, length, seed=0, pad_to=None):
    """`[start] tokens [extract]` rows, optionally right-padded to `pad_to`."""
    body = random_ids(batch, length - 2, generator_seed=seed)
    rows = torch.cat([torch.full((batch, 1), START), body, torch.full((batch, 1), EXTRACT)], dim=1)
    mask = torch.ones_like(rows)
    if pad_to:
        rows = torch.cat([rows, torch.full((batch, pad_to - length), PAD)], dim=1)
        mask = torch.cat([mask, torch.zeros(batch, pad_to - length, dtype=torch.long)], dim=1)
    return rows, mask


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> Path:
    """Documents from a small grammar: learnable structure, so the loss can fall far below unigram entropy."""
    rng = random.Random(0)
    nouns, verbs, adjectives = ["cat", "dog", "bird", "fish", "fox"], ["sees", "likes", "chases"], ["red", "big", "old"]
    documents = []
    for _ in range(150):
        sentences = [
            f"the {rng.choice(adjectives)} {rng.choice(nouns)} {rng.choice(verbs)} the {rng.choice(nouns)} ."
            for _ in range(rng.randint(4, 10))
        ]
        documents.append(" ".join(sentences))
    path = tmp_path_factory.mktemp("corpus") / "grammar.txt"
    path.write_text("\n\n".join(documents), encoding="utf-8")  # paragraphs are documents
    return path


def flags(corpus, output_dir, *extra, overrides=None):
    """scripts/pretrain.py arguments for a tiny run on `corpus` (tokenizer trained on it, blocks of 32)."""
    return [
        "--train_files",
        str(corpus),
        "--output_dir",
        str(output_dir),
        "--config_name",
        "tiny",
        "--config_overrides",
        json.dumps({"n_positions": 32, **(overrides or {})}),
        "--tokenizer_vocab_size",
        "300",
        "--block_size",
        "32",
        "--per_device_train_batch_size",
        "8",
        "--use_cpu",
        "--report_to",
        "none",
        "--logging_steps",
        "10",
        "--sample_prompt",
        "the",
        *extra,
    ]


def run_pretraining(argv):
    """Parse `argv` as scripts/pretrain.py does and pretrain in this process; returns the summary."""
    if str(SCRIPTS) not in sys.path:
        sys.path.insert(0, str(SCRIPTS))
    import pretrain as pretrain_script

    from gpt_hf.runs.pretraining import pretrain

    return pretrain(*pretrain_script.parse(argv))
