"""Shared tiny fixtures: one tiny config (2 layers, width 32, vocab 99) serves every test."""

import pytest
import torch

import gpt_hf

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


def random_ids(*shape, generator_seed: int = 0, high: int = PAD) -> torch.Tensor:
    """Ordinary (non-special) token ids."""
    generator = torch.Generator().manual_seed(generator_seed)
    return torch.randint(0, high, shape, generator=generator)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
