"""The shape of the house: imports flow one way, every head comes from the one table, a task type added from outside
the package fine-tunes with no edit to gpt_hf."""

import ast
import json
from pathlib import Path

import pytest
import torch
import transformers

import gpt_hf
from gpt_hf.modeling_gpt_hf import HEADS, auto_map
from gpt_hf.training import task_head_parameter_names

from conftest import tiny_config
from test_finetuning import pretrained, run, sentiment_rows, write_csv  # noqa: F401 (a fixture among them)

PACKAGE = Path(gpt_hf.__file__).resolve().parent


def module_name(path: Path) -> str:
    """`gpt_hf.studies.figure2` for gpt_hf/studies/figure2.py, `gpt_hf.studies` for its __init__.py."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in PACKAGE.rglob("*.py")}


def package_imports(path: Path) -> set[str]:
    """The gpt_hf modules a file imports, at the top or inside functions: relative imports of any level (`from .x`,
    `from ..x import y`, `from . import x`) resolved against the file's own package, and absolute `gpt_hf.` ones; a
    name that is no module stands for the package (or module) it is imported from."""
    name = module_name(path)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                source = ".".join(base + (node.module.split(".") if node.module else []))
            elif (node.module or "").split(".")[0] == "gpt_hf":
                source = node.module
            else:
                continue
            for alias in node.names:
                found.add(f"{source}.{alias.name}" if f"{source}.{alias.name}" in MODULES else source)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == "gpt_hf"}
    return found


def test_relative_imports_of_every_level_are_seen_in_every_module():
    """The import graph below sees subpackages and parent-relative imports (`from ..errors import`)."""
    assert {"gpt_hf.configuration_gpt_hf", "gpt_hf.errors"} <= package_imports(PACKAGE / "presets" / "__init__.py")
    assert {"gpt_hf.studies", "gpt_hf.studies.plotting", "gpt_hf.finetuning"} <= package_imports(
        PACKAGE / "studies" / "figure2.py"
    )
    assert {"gpt_hf.studies.data_efficiency", "gpt_hf.presets"} <= set(MODULES)


def test_no_module_imports_a_module_that_imports_it_back():
    graph = {name: package_imports(path) for name, path in MODULES.items()}
    unknown = sorted({target for targets in graph.values() for target in targets} - set(MODULES))
    assert not unknown, f"imports of modules that do not exist: {unknown}"
    # the package's __init__ imports half the package: a library module must not import it
    importing_init = sorted(name for name, targets in graph.items() if "gpt_hf" in targets)
    assert not importing_init, f"{importing_init} import from gpt_hf/__init__.py"

    def reaches(start, goal, seen=()):
        return any(n == goal or (n not in seen and reaches(n, goal, (*seen, n))) for n in graph[start])

    cycles = sorted(name for name in graph if reaches(name, name))
    assert not cycles, f"modules on an import cycle: {cycles} ({ {n: sorted(graph[n]) for n in cycles} })"


def test_the_command_line_layer_is_imported_by_no_library_module():
    importers = sorted(name for name, path in MODULES.items() if "gpt_hf.cli" in package_imports(path))
    assert not importers, f"{importers} import gpt_hf.cli (the scripts' layer)"


def test_no_module_changes_training_arguments_after_they_are_resolved():
    """Only run_arguments.resolve_run_arguments writes the Trainer's arguments (on its own copy)."""
    writes = []
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
            for target in targets:
                for part in ast.walk(target) if target is not None else ():
                    if (
                        isinstance(part, ast.Attribute)
                        and isinstance(part.value, ast.Name)
                        and part.value.id in ("training_args", "args")
                        and name != "gpt_hf.run_arguments"
                        and isinstance(part.ctx, ast.Store)
                    ):
                        writes.append(f"{name}:{node.lineno} {part.value.id}.{part.attr}")
    assert not writes, writes


def test_no_module_branches_on_a_prediction_kinds_name():
    """What a prediction kind means is its row of metrics.PREDICTION_KINDS, not comparisons with its name. (labels.py
    encodes labels by transformers' problem type, whose "regression" is spelled as the kind's name.)"""
    from gpt_hf.metrics import PREDICTION_KINDS

    branches = []
    for name, path in MODULES.items():
        if name == "gpt_hf.labels":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Compare):
                for side in (node.left, *node.comparators):
                    if isinstance(side, ast.Constant) and side.value in PREDICTION_KINDS:
                        branches.append(f"{name}:{node.lineno} {side.value!r}")
    assert not branches, branches


def test_every_head_is_registered_and_saved_from_the_one_table(tmp_path):
    config = tiny_config()
    for auto_name, head in HEADS.items():
        assert getattr(transformers, auto_name).from_config(config).__class__ is head.model_class
    head = HEADS["AutoModelForSequenceClassification"]
    head.model_class(config).save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())["auto_map"]
    assert saved == auto_map() and set(saved) == {"AutoConfig", *HEADS}
    for name in ("modeling_gpt_hf.py", "layers_gpt_hf.py", "configuration_gpt_hf.py"):  # the remote code
        assert (tmp_path / name).is_file(), name


def test_head_parameters_come_from_the_models_declaration_also_when_wrapped():
    model = gpt_hf.GPTHFForSequenceClassification(tiny_config(num_labels=2))
    assert task_head_parameter_names(model) == {"score.weight", "score.bias"}
    assert task_head_parameter_names(gpt_hf.GPTHFForCausalLM(tiny_config())) == set()

    class Wrapper(torch.nn.Module):  # DDP's shape: the model under `.module`, names prefixed
        def __init__(self, module):
            super().__init__()
            self.module = module

    assert task_head_parameter_names(Wrapper(model)) == {"module.score.weight", "module.score.bias"}

    class Renamed(torch.nn.Module):  # a head under another name, declared by the model
        task_head_modules = ("classifier",)

        def __init__(self):
            super().__init__()
            self.body, self.classifier = torch.nn.Linear(2, 2), torch.nn.Linear(2, 1)

    assert task_head_parameter_names(Renamed()) == {"classifier.weight", "classifier.bias"}


def test_a_task_type_registered_from_outside_fine_tunes_end_to_end(pretrained, tmp_path):
    """A new task type (question first, then the passage, as an entailment-style pair) with its own check: one
    register call, and scripts/finetune.py trains, evaluates, predicts and writes the card with it."""
    from gpt_hf.task_types import TASK_TYPES, TaskType, register_task_type

    checked = []

    def check(raw):
        checked.append(sorted(raw))
        if any(not question.endswith("?") for question in raw["train"]["text_pair"]):
            raise ValueError("every question must end with '?'")

    register_task_type(
        TaskType(
            "question_first",
            inputs=("text", "text_pair"),
            check=check,
            transform=lambda transform, passages, questions: transform.entailment(questions, passages),
        )
    )
    try:
        rows = [{**row, "question": "is it good?"} for row in sentiment_rows(48, 5)]
        train = write_csv(tmp_path / "train.csv", rows)
        test = write_csv(tmp_path / "test.csv", rows[:6])
        out = tmp_path / "custom"
        results, _ = run(
            pretrained,
            out,
            "--task",
            "question_first",
            "--train_file",
            train,
            "--test_file",
            test,
            "--text_column",
            "sentence",
            "--text_pair_column",
            "question",
            "--label_column",
            "sentiment",
        )
        assert checked == [["test", "train", "validation"]]
        assert {"eval_accuracy", "test_accuracy"} <= set(results)
        assert len((out / "predictions_test.tsv").read_text().splitlines()) == 7
        assert "pipeline_tag: text-classification" in (out / "README.md").read_text()
        model = transformers.AutoModelForSequenceClassification.from_pretrained(out)
        assert model.config.id2label == {0: "negative", 1: "neutral", 2: "positive"}

        bad = write_csv(tmp_path / "bad.csv", [{**row, "question": "no mark"} for row in rows])
        with pytest.raises(ValueError, match="must end with"):
            run(
                pretrained,
                tmp_path / "bad",
                "--task",
                "question_first",
                "--train_file",
                bad,
                "--text_column",
                "sentence",
                "--text_pair_column",
                "question",
                "--label_column",
                "sentiment",
            )
        assert not (tmp_path / "bad").exists()
    finally:
        TASK_TYPES.pop("question_first", None)


def test_task_type_specs_are_checked_when_built():
    from gpt_hf.task_types import TaskType, register_task_type

    with pytest.raises(ValueError, match="auto_class 'AutoModelForTokenClassification' is not one of"):
        TaskType("tagging", ("text",), lambda t, x: x, auto_class="AutoModelForTokenClassification")
    with pytest.raises(ValueError, match=r"inputs \('passage',\) must be"):
        TaskType("reading", ("passage",), lambda t, x: x)
    with pytest.raises(ValueError, match="already registered"):
        register_task_type(TaskType("classification", ("text",), lambda t, x: x))
