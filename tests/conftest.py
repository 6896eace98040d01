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
        vocab_size=VOCAB_SIZE, n_positions=64, n_embd=32, n_layer=2, n_head=4,
        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, classifier_dropout=0.0,
        pad_token_id=PAD, start_token_id=START, delimiter_token_id=DELIM, extract_token_id=EXTRACT,
    )
    values.update(overrides)
    return gpt_hf.GPTHFConfig(**values)


def causal_lm(norm_position="post", attn_implementation="sdpa", **overrides) -> gpt_hf.GPTHFForCausalLM:
    """The tiny config as a causal LM in eval mode."""
    config = tiny_config(norm_position=norm_position, **overrides)
    return gpt_hf.GPTHFForCausalLM._from_config(config, attn_implementation=attn_implementation).eval()


def random_ids(*shape, generator_seed: int = 0, high: int = PAD) -> torch.Tensor:
    """Ordinary (non-special) token ids."""
    generator = torch.Generator().manual_seed(generator_seed)
    return torch.randint(0, high, shape, generator=generator)


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
        sentences = [f"the {rng.choice(adjectives)} {rng.choice(nouns)} {rng.choice(verbs)} the {rng.choice(nouns)} ."
                     for _ in range(rng.randint(4, 10))]
        documents.append(" ".join(sentences))
    path = tmp_path_factory.mktemp("corpus") / "grammar.txt"
    path.write_text("\n\n".join(documents), encoding="utf-8")  # paragraphs are documents
    return path


def flags(corpus, output_dir, *extra, overrides=None):
    """scripts/pretrain.py arguments for a tiny run on `corpus` (tokenizer trained on it, blocks of 32)."""
    return ["--train_files", str(corpus), "--output_dir", str(output_dir), "--config_name", "tiny",
            "--config_overrides", json.dumps({"n_positions": 32, **(overrides or {})}),
            "--tokenizer_vocab_size", "300", "--block_size", "32", "--per_device_train_batch_size", "8",
            "--use_cpu", "--report_to", "none", "--logging_steps", "10", "--sample_prompt", "the", *extra]


def run_pretraining(argv):
    """Parse `argv` as scripts/pretrain.py does and pretrain in this process; returns the summary."""
    if str(SCRIPTS) not in sys.path:
        sys.path.insert(0, str(SCRIPTS))
    import pretrain as pretrain_script
    from gpt_hf.pretraining import pretrain

    return pretrain(*pretrain_script.parse(argv))
