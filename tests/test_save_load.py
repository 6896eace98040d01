"""Save / load round trips through the Auto classes, and remote-code loading where gpt_hf cannot be imported."""

import json
import subprocess
import sys
import textwrap

import pytest
import torch
from torch.testing import assert_close
from transformers import (
    AutoModel,
    AutoModelForCausalLM,
    AutoModelForMultipleChoice,
    AutoModelForSequenceClassification,
)

import gpt_hf

from conftest import EXTRACT, START, random_ids, tiny_config

HEADS = [
    (gpt_hf.GPTHFModel, AutoModel, "last_hidden_state"),
    (gpt_hf.GPTHFForCausalLM, AutoModelForCausalLM, "logits"),
    (gpt_hf.GPTHFForSequenceClassification, AutoModelForSequenceClassification, "logits"),
    (gpt_hf.GPTHFForMultipleChoice, AutoModelForMultipleChoice, "logits"),
]


def head_inputs(model_class):
    rows = torch.cat([torch.full((6, 1), START), random_ids(6, 7), torch.full((6, 1), EXTRACT)], dim=1)
    return rows.view(2, 3, 9) if model_class is gpt_hf.GPTHFForMultipleChoice else rows


@pytest.mark.parametrize("model_class, auto_class, field", HEADS)
@pytest.mark.parametrize("norm_position", ["post", "pre"])
def test_round_trip_through_the_auto_class(tmp_path, model_class, auto_class, field, norm_position):
    model = model_class(tiny_config(norm_position=norm_position, num_labels=3)).eval()
    model.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert set(config["auto_map"]) == {"AutoConfig", *gpt_hf.HEADS}  # every head is exposed, whichever was saved
    reloaded = auto_class.from_pretrained(tmp_path).eval()
    assert type(reloaded) is model_class
    ids = head_inputs(model_class)
    with torch.no_grad():
        assert_close(getattr(reloaded(ids), field), getattr(model(ids), field), atol=1e-5, rtol=1e-5)


def test_causal_lm_checkpoint_loads_into_a_task_head(tmp_path):
    lm = gpt_hf.GPTHFForCausalLM(tiny_config()).eval()
    lm.save_pretrained(tmp_path)
    classifier = AutoModelForSequenceClassification.from_pretrained(tmp_path, num_labels=2)
    assert torch.equal(classifier.transformer.wte.weight, lm.transformer.wte.weight)
    assert classifier.lm_head.weight is classifier.transformer.wte.weight


REMOTE_LOADER = textwrap.dedent(
    """
    import sys, torch
    sys.modules["gpt_hf"] = None  # any `import gpt_hf` now raises ImportError
    from transformers import (AutoConfig, AutoModelForCausalLM, AutoModelForMultipleChoice,
                              AutoModelForSequenceClassification)
    folder, ids_path, out_path = sys.argv[1:4]
    ids = torch.load(ids_path)
    config = AutoConfig.from_pretrained(folder, trust_remote_code=True)
    assert type(config).__module__.startswith("transformers_modules"), type(config).__module__
    lm = AutoModelForCausalLM.from_pretrained(folder, trust_remote_code=True).eval()
    assert "gpt_hf" not in sys.modules or sys.modules["gpt_hf"] is None
    with torch.no_grad():
        results = {
            "logits": lm(ids).logits,
            "generated": lm.generate(ids[:1, :4], max_new_tokens=8, do_sample=False),
            "classifier": AutoModelForSequenceClassification.from_pretrained(
                folder, trust_remote_code=True).transformer(ids).last_hidden_state,
            "chooser": AutoModelForMultipleChoice.from_pretrained(
                folder, trust_remote_code=True).transformer(ids).last_hidden_state,
        }
    torch.save(results, out_path)
    """
)


@pytest.mark.parametrize("norm_position", ["post", "pre"])
def test_trust_remote_code_loads_without_gpt_hf(tmp_path, norm_position):
    model = gpt_hf.GPTHFForCausalLM(tiny_config(norm_position=norm_position)).eval()
    folder = tmp_path / "model"
    model.save_pretrained(folder)
    ids = random_ids(2, 10)
    torch.save(ids, tmp_path / "ids.pt")
    script = tmp_path / "load_remote.py"
    script.write_text(REMOTE_LOADER)
    env_home = {"HF_HOME": str(tmp_path / "hf_home"), "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"}
    subprocess.run(
        [sys.executable, str(script), str(folder), str(tmp_path / "ids.pt"), str(tmp_path / "out.pt")],
        check=True,
        env=env_home,
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    results = torch.load(tmp_path / "out.pt")
    with torch.no_grad():
        assert_close(results["logits"], model(ids).logits, atol=1e-5, rtol=1e-5)
        hidden = model.transformer(ids).last_hidden_state
    assert torch.equal(results["generated"], model.generate(ids[:1, :4], max_new_tokens=8, do_sample=False))
    assert_close(results["classifier"], hidden, atol=1e-5, rtol=1e-5)
    assert_close(results["chooser"], hidden, atol=1e-5, rtol=1e-5)
