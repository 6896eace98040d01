"""The Hub folder: loads without gpt_hf through every Auto class, carries a parseable card, never the token; an
unreachable endpoint fails clearly and keeps the folder."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from huggingface_hub import ModelCard

import gpt_hf
from gpt_hf.data.tokenizer import special_token_ids, train_tokenizer
from gpt_hf.errors import ArgumentError
from gpt_hf.interop.hub import build_hub_folder

from conftest import tiny_config

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "push_to_hub.py"
SECRET = "hf_gpthfTESTtokenNEVERwritten0123456789"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("pretrained")
    tokenizer, _ = train_tokenizer(
        texts=["The parser reads the file.", "A socket closes."] * 20,
        flavour="bytelevel",
        vocab_size=300,
        show_progress=False,
        model_max_length=64,
    )
    torch.manual_seed(0)
    gpt_hf.GPTHFForCausalLM(tiny_config(norm_position="pre", **special_token_ids(tokenizer))).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    (folder / "summary.json").write_text(json.dumps({"eval_loss": 4.5, "eval_perplexity": 90.0, "steps": 10}))
    return folder


LOADER = textwrap.dedent(
    """
    import json, sys, torch
    sys.modules["gpt_hf"] = None  # importing gpt_hf fails in this process
    from transformers import (AutoConfig, AutoModelForCausalLM, AutoModelForMultipleChoice,
                              AutoModelForSequenceClassification, AutoTokenizer)
    folder, out = sys.argv[1], sys.argv[2]
    kw = dict(trust_remote_code=True)
    config = AutoConfig.from_pretrained(folder, **kw)
    tokenizer = AutoTokenizer.from_pretrained(folder, **kw)
    lm = AutoModelForCausalLM.from_pretrained(folder, **kw).eval()
    ids = tokenizer(["The parser reads", "A socket"], return_tensors="pt", padding=True)
    with torch.no_grad():
        result = {
            "config_module": type(config).__module__,
            "ids": ids["input_ids"].tolist(),
            "logits": lm(**ids).logits,
            "greedy": lm.generate(ids["input_ids"][:1], max_new_tokens=8, do_sample=False),
            "heads": [type(AutoModelForSequenceClassification.from_pretrained(folder, num_labels=2, **kw)).__name__,
                      type(AutoModelForMultipleChoice.from_pretrained(folder, **kw)).__name__],
        }
    torch.save(result, out)
    """
)


def test_dry_run_folder_loads_without_gpt_hf_with_identical_outputs(model_dir, tmp_path):
    folder = tmp_path / "hub"
    done = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--model_dir",
            str(model_dir),
            "--repo_id",
            "me/tiny-gpt",
            "--local_dir",
            str(folder),
            "--dry_run",
            "true",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert f"Built {folder}" in done.stdout
    names = {p.name for p in folder.iterdir()}
    assert {
        "model.safetensors",
        "config.json",
        "configuration_gpt_hf.py",
        "modeling_gpt_hf.py",
        "tokenizer.json",
        "tokenizer_config.json",
        "generation_config.json",
        "README.md",
    } <= names
    auto_map = json.loads((folder / "config.json").read_text())["auto_map"]
    assert set(auto_map) == {"AutoConfig", *gpt_hf.HEADS}

    subprocess.run(
        [sys.executable, "-c", LOADER, str(folder), str(tmp_path / "out.pt")],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HOME": str(tmp_path / "hf")},
    )
    remote = torch.load(tmp_path / "out.pt")
    assert remote["config_module"].startswith("transformers_modules")
    assert remote["heads"] == ["GPTHFForSequenceClassification", "GPTHFForMultipleChoice"]
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    original = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    ids = tokenizer(["The parser reads", "A socket"], return_tensors="pt", padding=True)
    assert ids["input_ids"].tolist() == remote["ids"]
    with torch.no_grad():
        torch.testing.assert_close(remote["logits"], original(**ids).logits, atol=1e-5, rtol=1e-5)
        assert torch.equal(remote["greedy"], original.generate(ids["input_ids"][:1], max_new_tokens=8, do_sample=False))


def test_model_card_parses_and_carries_the_results(model_dir, tmp_path):
    folder = build_hub_folder(model_dir, tmp_path / "hub", repo_id="me/tiny-gpt")
    card = ModelCard.load(folder / "README.md")
    assert card.data.library_name == "transformers" and card.data.pipeline_tag == "text-generation"
    assert card.data.license == "apache-2.0" and "gpt_hf" in card.data.tags
    metrics = {result.metric_type: result.metric_value for result in card.data.eval_results}
    assert metrics == {"eval_loss": 4.5, "eval_perplexity": 90.0}
    text = card.text
    for section in (
        "## Architecture",
        "## Training",
        "## Results",
        "## Intended use and limitations",
        "## How to load",
        "trust_remote_code=True",
        "import gpt_hf",
        "| n_layer | 2 |",
    ):
        assert section in text, section


def test_fine_tuned_classifier_exports_with_its_pipeline_tag(model_dir, tmp_path):
    classifier_dir = tmp_path / "classifier"
    model = gpt_hf.GPTHFForSequenceClassification.from_pretrained(model_dir, num_labels=2)
    model.save_pretrained(classifier_dir)
    (classifier_dir / "results.json").write_text(json.dumps({"eval_accuracy": 0.75, "eval_runtime": 1.0}))
    folder = build_hub_folder(classifier_dir, tmp_path / "hub")
    card = ModelCard.load(folder / "README.md")
    assert card.data.pipeline_tag == "text-classification"
    assert {r.metric_type: r.metric_value for r in card.data.eval_results} == {"eval_accuracy": 0.75}
    assert "AutoModelForSequenceClassification.from_pretrained" in card.text


def test_a_tokenizer_that_does_not_fit_the_model_is_refused_not_dropped(model_dir, tmp_path):
    mismatched = tmp_path / "mismatched"
    gpt_hf.GPTHFForCausalLM.from_pretrained(model_dir).save_pretrained(mismatched)
    other, _ = train_tokenizer(
        texts=["Another corpus entirely."] * 20, flavour="bytelevel", vocab_size=280, show_progress=False
    )
    other.save_pretrained(mismatched)
    with pytest.raises(ArgumentError, match="Tokenizer and model config disagree: tokenizer has 28"):
        build_hub_folder(mismatched, tmp_path / "hub")
    assert not (tmp_path / "hub").exists()


def test_unreachable_endpoint_fails_clearly_keeps_the_folder_and_never_writes_the_token(model_dir, tmp_path):
    folder = tmp_path / "hub"
    env = {**os.environ, "HF_TOKEN": SECRET, "HF_HOME": str(tmp_path / "hf")}
    env.pop("HF_HUB_OFFLINE", None)
    done = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--model_dir",
            str(model_dir),
            "--repo_id",
            "me/tiny-gpt",
            "--local_dir",
            str(folder),
            "--endpoint",
            "http://127.0.0.1:9",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 1
    assert "Could not reach http://127.0.0.1:9" in done.stderr and "check your connection" in done.stderr
    assert "rerun the same command to retry" in done.stderr
    assert SECRET not in done.stdout + done.stderr
    assert (folder / "model.safetensors").is_file() and (folder / "README.md").is_file()
    for path in folder.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


def test_bad_arguments():
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--model_dir", "x", "--repo_id", "no-slash"], capture_output=True, text=True
    )
    assert done.returncode == 2 and "--repo_id 'no-slash' is not a Hub repository id" in done.stderr
    with pytest.raises(ValueError, match="is not a model folder"):
        build_hub_folder(ROOT / "docs", ROOT / "never")


@pytest.mark.parametrize(
    "status, message",
    [(401, "check your token"), (403, "check your token"), (503, r"is failing \(HTTP 503\); try again later")],
)
def test_http_errors_say_what_to_check(model_dir, tmp_path, monkeypatch, status, message):
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from gpt_hf.errors import HubUploadError
    from gpt_hf.interop.hub import upload

    class Refuse(BaseHTTPRequestHandler):
        def _answer(self):
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"error": "no"}')

        do_GET = do_POST = do_PUT = do_HEAD = _answer

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Refuse)  # loopback only
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_TOKEN", SECRET)
    try:
        with pytest.raises(HubUploadError, match=message) as err:
            upload(model_dir, "me/tiny-gpt", endpoint=f"http://127.0.0.1:{server.server_port}")
        assert SECRET not in str(err.value)
    finally:
        server.shutdown()
