import json

import pytest
import torch
from transformers import AutoConfig

import gpt_hf
from gpt_hf import GPTHFConfig, config_from_preset

from conftest import tiny_config


def test_defaults_are_the_gpt1_paper_model():
    config = GPTHFConfig()
    assert (config.n_layer, config.n_embd, config.n_head, config.n_positions) == (12, 768, 12, 512)
    assert config.inner_dim == 3072 and config.vocab_size == 40478
    assert config.activation_function == "gelu_new" and config.norm_position == "post"
    assert config.resid_pdrop == config.embd_pdrop == config.attn_pdrop == config.classifier_dropout == 0.1
    assert config.layer_norm_epsilon == 1e-5 and config.initializer_range == 0.02
    assert config.tie_word_embeddings is True and config.aux_lm_weight == 0.5


def test_standard_attribute_names_map_to_gpt_names():
    config = tiny_config()
    assert (config.hidden_size, config.num_hidden_layers, config.num_attention_heads) == (32, 2, 4)
    assert config.max_position_embeddings == 64
    assert GPTHFConfig(hidden_size=64, num_attention_heads=8).n_embd == 64


def test_n_inner_none_means_four_times_width():
    assert tiny_config(n_inner=None).inner_dim == 128
    assert tiny_config(n_inner=48).inner_dim == 48


@pytest.mark.parametrize(
    "overrides, match",
    [
        (dict(n_embd=30, n_head=4), r"n_embd \(30\) must be divisible by n_head \(4\)"),
        (dict(activation_function="swishy"), r"Unknown activation_function 'swishy'"),
        (dict(resid_pdrop=-0.1), r"resid_pdrop must be a probability in \[0, 1\), got -0.1"),
        (dict(attn_pdrop=1.5), r"attn_pdrop must be a probability"),
        (dict(norm_position="middle"), r"norm_position must be 'post' \(GPT-1\) or 'pre' \(GPT-2\), got 'middle'"),
        (dict(n_layer=0), r"n_layer must be positive, got 0"),
        (dict(extract_token_id=500), r"extract_token_id=500 is not an id in the vocabulary \[0, 99\)"),
        (dict(aux_lm_weight=-1.0), r"aux_lm_weight must be >= 0"),
        (dict(n_inner=0), r"n_inner must be a positive int or None"),
    ],
)
def test_bad_values_raise_value_error_naming_them(overrides, match):
    with pytest.raises(ValueError, match=match):
        tiny_config(**overrides)


def test_non_integer_size_is_a_type_error():
    with pytest.raises(TypeError, match=r"n_embd must be an int, got '32'"):
        tiny_config(n_embd="32")


def test_config_mutated_into_a_bad_state_fails_at_save(tmp_path):
    config = tiny_config()
    config.n_head = 5
    with pytest.raises(ValueError, match="divisible"):
        config.save_pretrained(tmp_path)


def test_round_trip_through_auto_config(tmp_path):
    config = tiny_config(norm_position="pre", aux_lm_weight=0.25)
    config.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["model_type"] == "gpt_hf" and saved["auto_map"]["AutoConfig"].endswith("GPTHFConfig")
    loaded = AutoConfig.from_pretrained(tmp_path)
    assert isinstance(loaded, GPTHFConfig)
    without_path = lambda c: {k: v for k, v in c.to_dict().items() if k != "_name_or_path"}  # noqa: E731
    assert without_path(loaded) == without_path(config)


@pytest.mark.parametrize(
    "name, layers, width, heads, norm, params_millions",
    [
        ("gpt1", 12, 768, 12, "post", 116.5),
        ("gpt2-small", 12, 768, 12, "pre", 124.4),
        ("gpt2-medium", 24, 1024, 16, "pre", 354.8),
    ],
)
def test_presets_match_the_published_models(name, layers, width, heads, norm, params_millions):
    config = config_from_preset(name)
    assert (config.n_layer, config.n_embd, config.n_head, config.norm_position) == (layers, width, heads, norm)
    with torch.device("meta"):  # count parameters without allocating them
        model = gpt_hf.GPTHFModel(config)
    assert sum(p.numel() for p in model.parameters()) / 1e6 == pytest.approx(params_millions, abs=0.1)


def test_tiny_preset_and_overrides():
    config = config_from_preset("tiny", n_layer=3)
    assert (config.n_layer, config.n_embd) == (3, 32)
    assert set(gpt_hf.PRESETS) >= {"gpt1", "gpt2-small", "gpt2-medium", "tiny"}


def test_unknown_preset_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"Unknown preset 'gpt5'; choose one of .*gpt1"):
        config_from_preset("gpt5")
