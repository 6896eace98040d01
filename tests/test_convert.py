"""Parity with transformers' own GPT-1 / GPT-2 after conversion (random weights, fp32), and the converter's errors."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from torch.testing import assert_close
from transformers import (
    AutoModelForCausalLM,
    GPT2Config,
    GPT2LMHeadModel,
    GPT2Model,
    OpenAIGPTConfig,
    OpenAIGPTDoubleHeadsModel,
    OpenAIGPTLMHeadModel,
    OpenAIGPTModel,
)

import gpt_hf
from gpt_hf.interop.convert import convert_checkpoint

from conftest import random_ids

SIZES = dict(vocab_size=99, n_positions=64, n_embd=32, n_layer=2, n_head=4)
SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "convert_checkpoint.py"


def source_model(kind: str):
    if kind == "openai-gpt":
        return OpenAIGPTLMHeadModel(OpenAIGPTConfig(**SIZES)).eval()
    return GPT2LMHeadModel(GPT2Config(**SIZES, bos_token_id=0, eos_token_id=0)).eval()


@pytest.mark.parametrize("kind, layout", [("openai-gpt", "post"), ("gpt2", "pre")])
def test_logits_and_greedy_tokens_match_transformers(kind, layout):
    source = source_model(kind)
    model = convert_checkpoint(source)
    assert model.config.norm_position == layout
    ids = random_ids(3, 20)
    with torch.no_grad():
        expected, actual = source(ids).logits, model(ids).logits
    assert (expected - actual).abs().max().item() <= 1e-5
    prompt = ids[:1, :4]
    assert torch.equal(
        model.generate(prompt, max_new_tokens=16, do_sample=False),
        source.generate(prompt, max_new_tokens=16, do_sample=False, pad_token_id=0),
    )


@pytest.mark.parametrize("kind", ["openai-gpt", "gpt2"])
def test_eager_attention_also_matches(kind):
    source = source_model(kind)
    converted = convert_checkpoint(source)
    eager = gpt_hf.GPTHFForCausalLM._from_config(converted.config, attn_implementation="eager").eval()
    eager.load_state_dict(converted.state_dict())
    ids = random_ids(2, 16)
    with torch.no_grad():
        assert_close(eager(ids).logits, source(ids).logits, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("source_class, config_class", [(OpenAIGPTModel, OpenAIGPTConfig), (GPT2Model, GPT2Config)])
def test_bare_models_convert_to_the_base_model(source_class, config_class):
    source = source_class(config_class(**SIZES)).eval()
    model = convert_checkpoint(source, head="base")
    assert isinstance(model, gpt_hf.GPTHFModel)
    ids = random_ids(2, 10)
    with torch.no_grad():
        assert_close(model(ids).last_hidden_state, source(ids).last_hidden_state, atol=1e-5, rtol=1e-5)


def test_double_heads_model_keeps_its_multiple_choice_head():
    source = OpenAIGPTDoubleHeadsModel(OpenAIGPTConfig(**SIZES)).eval()
    model = convert_checkpoint(source, head="multiple-choice")
    choices = random_ids(2, 3, 12)
    with torch.no_grad():
        expected = source(choices, mc_token_ids=torch.full((2, 3), 11)).mc_logits
        assert_close(model(choices).logits, expected, atol=1e-5, rtol=1e-5)  # no extract id: last token pooled


def test_multiple_choice_from_a_plain_lm_checkpoint_is_refused():
    with pytest.raises(ValueError, match="needs a DoubleHeadsModel checkpoint"):
        convert_checkpoint(source_model("openai-gpt"), head="multiple-choice")


def test_folder_with_safetensors_and_with_bin_weights(tmp_path):
    source = source_model("gpt2")
    source.save_pretrained(tmp_path / "st")
    ids = random_ids(1, 8)
    with torch.no_grad():
        expected = source(ids).logits
        assert_close(convert_checkpoint(tmp_path / "st")(ids).logits, expected, atol=1e-5, rtol=1e-5)
    # an old-style pickle checkpoint is read with torch.load(weights_only=True)
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "config.json").write_text((tmp_path / "st" / "config.json").read_text())
    torch.save(load_file(str(tmp_path / "st" / "model.safetensors")), tmp_path / "bin" / "pytorch_model.bin")
    with torch.no_grad():
        assert_close(convert_checkpoint(tmp_path / "bin")(ids).logits, expected, atol=1e-5, rtol=1e-5)


def test_mismatched_checkpoint_lists_the_keys(tmp_path):
    state = source_model("gpt2").state_dict()
    state.pop("transformer.h.1.mlp.c_fc.bias")
    state["transformer.h.0.extra.weight"] = torch.zeros(2)
    state["transformer.wpe.weight"] = torch.zeros(10, 32)
    config = GPT2Config(**SIZES, bos_token_id=0, eos_token_id=0)
    model = GPT2LMHeadModel(config)
    model.state_dict = lambda: state  # a checkpoint that does not match its own config
    with pytest.raises(ValueError) as err:
        convert_checkpoint(model)
    message = str(err.value)
    assert "missing keys ['transformer.h.1.mlp.c_fc.bias']" in message
    assert "unexpected keys ['transformer.h.0.extra.weight']" in message
    assert "transformer.wpe.weight: checkpoint (10, 32) vs model (64, 32)" in message


def test_unsupported_sources_are_refused(tmp_path):
    with pytest.raises(ValueError, match="Cannot convert model_type='llama'"):
        gpt_hf.interop.convert.convert_config({"model_type": "llama"})
    with pytest.raises(ValueError, match="add_cross_attention=True"):
        gpt_hf.interop.convert.convert_config({"model_type": "gpt2", "add_cross_attention": True})
    with pytest.raises(ValueError, match="has no config.json"):
        convert_checkpoint(tmp_path)


def test_convert_script_end_to_end(tmp_path):
    source = source_model("openai-gpt")
    source.save_pretrained(tmp_path / "openai")
    out = tmp_path / "converted"
    subprocess.run(
        [sys.executable, str(SCRIPT), "--source", str(tmp_path / "openai"), "--output_dir", str(out)],
        check=True,
        capture_output=True,
        text=True,
    )
    assert {"config.json", "model.safetensors", "modeling_gpt_hf.py", "configuration_gpt_hf.py"} <= {
        p.name for p in out.iterdir()
    }
    reloaded = AutoModelForCausalLM.from_pretrained(out)
    ids = random_ids(2, 12)
    with torch.no_grad():
        assert_close(reloaded(ids).logits, source(ids).logits, atol=1e-5, rtol=1e-5)
    # a second run refuses to overwrite and leaves the folder intact
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--source", str(tmp_path / "openai"), "--output_dir", str(out)],
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0 and "is not empty; pass --overwrite_output_dir" in result.stderr
    assert (out / "model.safetensors").is_file()
