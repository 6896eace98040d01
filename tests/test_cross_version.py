"""A model folder saved under one transformers release loads through `trust_remote_code=True` (gpt_hf not
importable) and generates the same greedy tokens under another: the folder's copied code is what a user downloads.

The other release is a second Python environment named by `GPT_HF_OTHER_PYTHON` (`make test` sets it to the
lowest-declared-versions environment); without it these tests skip. Both directions run: saved here and loaded there,
saved there and loaded here.
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# absolute (the scripts run in a temporary folder), but not resolved: a virtual environment's python is a symlink
OTHER_PYTHON = os.path.abspath(os.environ["GPT_HF_OTHER_PYTHON"]) if os.environ.get("GPT_HF_OTHER_PYTHON") else None
TESTS = Path(__file__).resolve().parent

SAVE = textwrap.dedent(
    """
    import json, sys, torch, transformers
    sys.path.insert(0, sys.argv[3])  # the tests folder: its one tiny-config helper
    from conftest import decisive_greedy, decisive_lm, random_ids
    torch.manual_seed(0)
    model = decisive_lm(sys.argv[2])
    prompt = random_ids(2, 5)
    tokens = decisive_greedy(model, prompt, max_new_tokens=10)
    model.save_pretrained(sys.argv[1])
    json.dump({"prompt": prompt.tolist(), "tokens": tokens.tolist(), "transformers": transformers.__version__},
              open(sys.argv[1] + "/expected.json", "w"))
    """
)

LOAD = textwrap.dedent(
    """
    import json, sys, torch, transformers
    sys.modules["gpt_hf"] = None  # any `import gpt_hf` now raises ImportError: only the folder's code runs
    from transformers import AutoModelForCausalLM
    expected = json.load(open(sys.argv[1] + "/expected.json"))
    model = AutoModelForCausalLM.from_pretrained(sys.argv[1], trust_remote_code=True).eval()
    prompt = torch.tensor(expected["prompt"])
    with torch.no_grad():
        results = {mode: model.generate(prompt, max_new_tokens=10, do_sample=False, **options).tolist()
                   for mode, options in {"cached": {}, "uncached": {"use_cache": False},
                                         "static": {"cache_implementation": "static"}}.items()}
    print(json.dumps({"results": results, "expected": expected["tokens"], "transformers": transformers.__version__,
                      "saved_with": expected["transformers"]}))
    """
)


def _run(python: str, script: str, *args: str, tmp_path: Path) -> str:
    path = tmp_path / "script.py"
    path.write_text(script)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf_home")}
    done = subprocess.run([python, str(path), *args], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.mark.skipif(
    not OTHER_PYTHON, reason="set GPT_HF_OTHER_PYTHON to a Python with another transformers release (make test does)"
)
@pytest.mark.parametrize("direction", ["saved here, loaded there", "saved there, loaded here"])
@pytest.mark.parametrize("norm_position", ["post", "pre"])
def test_folder_from_one_release_generates_the_same_tokens_under_another(tmp_path, direction, norm_position):
    saver, loader = (
        (sys.executable, OTHER_PYTHON) if direction.startswith("saved here") else (OTHER_PYTHON, sys.executable)
    )
    folder = tmp_path / "model"
    _run(saver, SAVE, str(folder), norm_position, str(TESTS), tmp_path=tmp_path)
    report = json.loads(_run(loader, LOAD, str(folder), tmp_path=tmp_path).splitlines()[-1])
    assert report["transformers"] != report["saved_with"], "both environments have the same transformers release"
    for mode, tokens in report["results"].items():
        assert tokens == report["expected"], (mode, report["saved_with"], report["transformers"])
