"""The code copied into every saved model folder keeps to transformers' public API, so a folder downloaded next year
still runs: what it imports, subclasses and reads of transformers, and what it says on a release below the floor.

"Public" here means: a name transformers exports at top level, documents (the output classes) or imports into its
own GPT-2 modeling file on the running release (resolved to absolute modules: the contract transformers keeps with
its model files; CI runs this on the lowest declared release and on the lock), a base class from the documented set
for custom models, and no private attribute but the
documented `config._attn_implementation`. Decoding correctness on every release is in test_modeling.py.
"""

import ast
import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import transformers

import gpt_hf

PACKAGE = Path(gpt_hf.__file__).resolve().parent / "model"  # the files save_pretrained copies into a folder
# What save_pretrained writes beside the weights (the model file and the siblings it imports).
COPIED_FILES = ("configuration_gpt_hf.py", "layers_gpt_hf.py", "modeling_gpt_hf.py")
STANDARD_LIBRARY = {"collections", "dataclasses", "inspect", "warnings"}
# Base classes transformers documents for custom models ("Customizing models", "Adding a model").
DOCUMENTED_BASES = {
    "PreTrainedConfig",
    "PreTrainedModel",
    "GenerationMixin",
    "GradientCheckpointingLayer",
    "ModelOutput",
}
# Modules whose every name is in transformers' reference docs ("Model outputs").
DOCUMENTED_MODULES = {"transformers.modeling_outputs"}
# Underscored names the copied files may read: transformers' attention-interface docs select the function by
# `config._attn_implementation`; `torch._assert_async` is torch's (a device-side check without a host sync).
ALLOWED_PRIVATE_ATTRIBUTES = {"_attn_implementation", "_assert_async"}


def _imports(path: Path) -> list[tuple[str, str]]:
    """(absolute module, name) for every `from X import name` / `import X` of a file, relative imports resolved
    against the file's own package (`models.gpt2` for transformers' file)."""
    package = "transformers.models.gpt2" if "transformers" in path.parts else "gpt_hf"
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(alias.name, "") for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            module = (
                ".".join(base[: len(base) - node.level + 1] + ([node.module] if node.module else []))
                if node.level
                else node.module
            )
            found += [(module, alias.name) for alias in node.names]
    return found


def _gpt2_contract() -> set[tuple[str, str]]:
    gpt2_file = Path(transformers.__file__).parent / "models" / "gpt2" / "modeling_gpt2.py"
    return {(module, name) for module, name in _imports(gpt2_file) if module.startswith("transformers")}


@pytest.mark.parametrize("name", COPIED_FILES)
def test_copied_files_import_only_what_transformers_own_gpt2_imports(name):
    contract = _gpt2_contract()
    top_level = {*dir(transformers), "__version__"}  # transformers' exported names (its lazy module lists them)
    for module, imported in _imports(PACKAGE / name):
        root = module.split(".")[0]
        if root == "gpt_hf":  # a relative sibling import: save_pretrained copies the sibling beside it
            assert f"{module.split('.')[-1]}.py" in COPIED_FILES, f"{name} imports {module}"
        elif root == "transformers":
            public = (
                (module, imported) in contract
                or (module == "transformers" and imported in top_level)
                or module in DOCUMENTED_MODULES
            )
            assert public, (
                f"{name} imports {imported or module} from {module}: neither exported by transformers "
                f"nor imported by its own GPT-2 model file (transformers {transformers.__version__})"
            )
        else:
            assert root == "torch" or root in STANDARD_LIBRARY, f"{name} imports {module}"


@pytest.mark.parametrize("name", COPIED_FILES)
def test_copied_files_subclass_documented_bases_and_read_no_private_attribute(name):
    tree = ast.parse((PACKAGE / name).read_text(encoding="utf-8"))
    transformers_names = {
        imported for module, imported in _imports(PACKAGE / name) if module.startswith("transformers")
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            for base in node.bases:
                if isinstance(base, ast.Name) and base.id in transformers_names:
                    assert base.id in DOCUMENTED_BASES, f"{name}: {node.name} subclasses transformers' {base.id}"
        elif isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            owner = node.value
            is_own = isinstance(owner, ast.Name) and owner.id in {"self", "cls"}  # the file's own members
            assert is_own or node.attr in ALLOWED_PRIVATE_ATTRIBUTES, (
                f"{name}:{node.lineno} reads the private attribute .{node.attr}"
            )


def test_model_file_on_a_release_below_the_floor_says_which_release_it_needs(monkeypatch):
    """A folder's code loaded by a transformers older than the floor stops with one line naming the fix."""
    monkeypatch.setattr(transformers, "__version__", "5.3.0")
    spec = importlib.util.spec_from_file_location(
        "gpt_hf.model._probe_modeling", PACKAGE / "modeling_gpt_hf.py", submodule_search_locations=None
    )
    module = importlib.util.module_from_spec(spec)
    module.__package__ = "gpt_hf.model"
    with pytest.raises(ImportError, match=r"need transformers>=5\.4,<6; this is transformers 5\.3\.0"):
        spec.loader.exec_module(module)


def test_declared_floor_matches_the_model_files_floor():
    import tomllib

    from gpt_hf.model import modeling_gpt_hf

    pyproject = tomllib.loads((PACKAGE.parents[1] / "pyproject.toml").read_text(encoding="utf-8"))
    floor = ".".join(map(str, modeling_gpt_hf.MIN_TRANSFORMERS))
    assert f"transformers>={floor},<6" in pyproject["project"]["dependencies"]


QUIET_RUN = textwrap.dedent(
    """
    import logging, sys, tempfile, warnings, torch
    sys.path.insert(0, sys.argv[1])
    records = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = records.append
    logging.getLogger("transformers").addHandler(handler)
    warnings.simplefilter("always")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        import gpt_hf
        from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification
        from conftest import PAD, causal_lm, random_ids, task_rows, tiny_config
        for layout in ("post", "pre"):
            model = causal_lm(layout)
            ids = random_ids(2, 6)
            with torch.no_grad():
                first = model(ids[:, :4], use_cache=True)
                model(ids[:, 4:], cache=getattr(first, gpt_hf.model.modeling_gpt_hf._CACHE), use_cache=True)
                mask = torch.ones_like(ids)
                mask[0, :2] = 0
                for cache_implementation in (None, "static"):
                    model.generate(ids, attention_mask=mask, max_new_tokens=4, do_sample=False, pad_token_id=PAD,
                                   cache_implementation=cache_implementation)
            model.train()
            model(ids, labels=ids).loss.backward()
            classifier = gpt_hf.GPTHFForSequenceClassification(tiny_config(norm_position=layout, num_labels=2))
            with tempfile.TemporaryDirectory() as folder:
                model.save_pretrained(folder)
                AutoModelForCausalLM.from_pretrained(folder)
                classifier.save_pretrained(folder)
                classifier = AutoModelForSequenceClassification.from_pretrained(folder)
            rows, row_mask = task_rows(2, 6)
            classifier(rows, attention_mask=row_mask, labels=torch.tensor([0, 1])).loss.backward()
    for record in records:
        print("log:", record.name, record.getMessage())
    for warning in caught:
        print("warning:", warning.category.__name__, warning.filename, warning.message)
    """
)


def test_model_paths_raise_no_warning_on_the_running_release(tmp_path):
    """Forward with a cache, generate (dynamic, static, left-padded), training step, save / load and a task head:
    no transformers log record at WARNING or above and no Python warning (deprecations are handled, not filtered)."""
    script = tmp_path / "quiet.py"
    script.write_text(QUIET_RUN)
    done = subprocess.run(
        [sys.executable, str(script), str(Path(__file__).resolve().parent)],
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "", done.stdout
