"""Export back to transformers' own GPT-2 / GPT-1 format (convert_checkpoint.py --to gpt2 / openai-gpt): the
exported folder loads with the built-in classes without trust_remote_code, gives the same logits and greedy tokens,
and the round trip gpt2 -> gpt_hf -> gpt2 is the identity; configs a built-in cannot express are refused by name."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, GPT2Config, GPT2LMHeadModel

import gpt_hf
from gpt_hf.data.tokenizer import special_token_ids, train_tokenizer
from gpt_hf.errors import ArgumentError
from gpt_hf.interop.convert import convert_checkpoint, export_folder, export_model

from conftest import decisive_lm, random_ids, tiny_config

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "convert_checkpoint.py"
BUILT_IN = {"pre": ("gpt2", "GPT2LMHeadModel"), "post": ("openai-gpt", "OpenAIGPTLMHeadModel")}


@pytest.fixture(scope="module")
def tokenizer():
    texts = ["The parser reads the file and returns a new list.", "Each thread checks the lock."] * 30
    return train_tokenizer(texts=texts, flavour="bytelevel", vocab_size=300, show_progress=False)[0]


@pytest.mark.parametrize("layout", ["pre", "post"])
def test_exported_folder_loads_as_the_built_in_without_remote_code_and_decodes_the_same(layout, tokenizer, tmp_path):
    model = decisive_lm(
        layout,
        **{k: v for k, v in special_token_ids(tokenizer).items() if k != "vocab_size"},
        vocab_size=len(tokenizer),
    )
    model.save_pretrained(tmp_path / "gpt_hf")
    tokenizer.save_pretrained(tmp_path / "gpt_hf")
    target, class_name = BUILT_IN[layout]
    done = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--source",
            str(tmp_path / "gpt_hf"),
            "--to",
            target,
            "--output_dir",
            str(tmp_path / "exported"),
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    config = json.loads((tmp_path / "exported" / "config.json").read_text())
    assert config["architectures"] == [class_name] and "auto_map" not in config
    assert config["n_ctx"] == model.config.n_positions  # the old name llama.cpp's converter reads
    assert not list((tmp_path / "exported").glob("*.py"))  # no custom code travels with it
    built_in = AutoModelForCausalLM.from_pretrained(tmp_path / "exported").eval()  # no trust_remote_code
    assert type(built_in).__name__ == class_name
    ids = random_ids(2, 12, high=len(tokenizer) - 5)
    with torch.no_grad():
        assert (built_in(ids).logits - model(ids).logits).abs().max() <= 1e-5
    prompt = ids[:1, :5]
    assert torch.equal(
        built_in.generate(prompt, max_new_tokens=10, do_sample=False, use_cache=False),
        model.generate(prompt, max_new_tokens=10, do_sample=False),
    )
    exported_tokenizer = AutoTokenizer.from_pretrained(tmp_path / "exported")  # generic fast tokenizer, no code
    text = "The parser reads <|endoftext|> a list, and each thread checks the lock twice."
    assert exported_tokenizer(text)["input_ids"] == tokenizer(text)["input_ids"]


def test_round_trip_gpt2_to_gpt_hf_to_gpt2_is_the_identity():
    source = GPT2LMHeadModel(
        GPT2Config(
            vocab_size=99,
            n_positions=64,
            n_embd=32,
            n_layer=2,
            n_head=4,
            n_inner=48,
            activation_function="gelu_new",
            bos_token_id=0,
            eos_token_id=0,
        )
    ).eval()
    back = export_model(convert_checkpoint(source), "gpt2")
    expected, actual = source.state_dict(), back.state_dict()
    assert expected.keys() == actual.keys()
    for key in expected:
        assert torch.equal(actual[key], expected[key]), key
    for field in ("n_inner", "activation_function", "layer_norm_epsilon", "n_positions", "eos_token_id"):
        assert getattr(back.config, field) == getattr(source.config, field), field


def test_an_untied_head_and_a_task_head_export_their_weights(tokenizer, tmp_path, caplog):
    untied = gpt_hf.GPTHFForCausalLM(tiny_config(norm_position="pre", tie_word_embeddings=False)).eval()
    ids = random_ids(2, 8)
    with torch.no_grad():
        assert (export_model(untied, "gpt2")(ids).logits - untied(ids).logits).abs().max() <= 1e-5
    classifier = gpt_hf.GPTHFForSequenceClassification(tiny_config(num_labels=3)).eval()
    lm = export_model(classifier, "openai-gpt")
    with torch.no_grad():
        hidden = classifier.transformer(ids).last_hidden_state
        assert (lm(ids).logits - classifier.lm_head(hidden)).abs().max() <= 1e-5
    assert "only the body and the LM head are exported, not the task head score" in caplog.text


@pytest.mark.parametrize(
    "change, target, match",
    [
        (
            dict(norm_position="post"),
            "gpt2",
            r"norm_position='post': gpt2 is pre-LN; this model exports as --to "
            r"openai-gpt",
        ),
        (dict(activation_function="gelu_fast"), "openai-gpt", r"activation_function='gelu_fast': openai-gpt has only"),
        (dict(n_inner=48), "openai-gpt", r"n_inner=48: openai-gpt's feed-forward is always 4 \* n_embd \(128\)"),
    ],
)
def test_a_config_the_built_in_cannot_express_is_refused_by_name(change, target, match, tmp_path):
    model = gpt_hf.GPTHFForCausalLM(tiny_config(**{"norm_position": "post", **change}))
    with pytest.raises(ArgumentError, match=match):
        export_model(model, target)
    model.save_pretrained(tmp_path / "model")
    with pytest.raises(ArgumentError, match=match):
        export_folder(tmp_path / "model", tmp_path / "out", target)
    assert not (tmp_path / "out").exists()
