"""The shape of the house: wings that import only wings below them, one run lifecycle that pretraining and fine-tuning
plug into, one task family that alone knows task types, label formats, prediction kinds and benchmarks by name, every
head from the one table, and a task type added from outside the package that fine-tunes with no edit to gpt_hf."""

import ast
import json
from pathlib import Path

import pytest
import torch
import transformers

import gpt_hf
from gpt_hf.errors import DataError
from gpt_hf.model.modeling_gpt_hf import HEADS, auto_map
from gpt_hf.runs.trainer import task_head_parameter_names

from conftest import tiny_config
from test_finetuning import finetune_script, pretrained, run, sentiment_rows, write_csv  # noqa: F401 (a fixture)

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
    assert {"gpt_hf.model.configuration_gpt_hf", "gpt_hf.errors"} <= package_imports(
        PACKAGE / "model" / "presets" / "__init__.py"
    )
    assert {"gpt_hf.studies", "gpt_hf.output.plotting", "gpt_hf.runs.finetuning"} <= package_imports(
        PACKAGE / "studies" / "figure2.py"
    )
    assert {"gpt_hf.studies.data_efficiency", "gpt_hf.model.presets"} <= set(MODULES)


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


# The wings, bottom first (docs/architecture.md): a module may import its own wing and any wing listed before it.
# `runs` and `evaluation` are peers: neither imports the other. `errors` is below everything, `cli` above everything.
WING_ORDER = ("errors", "output", "model", "data", "tasks", "interop", ("runs", "evaluation"), "studies", "cli")


def wing_rank(module: str) -> int:
    wing = module.split(".")[1] if "." in module else "gpt_hf"
    for rank, wings in enumerate(WING_ORDER):
        if wing in (wings if isinstance(wings, tuple) else (wings,)):
            return rank
    raise AssertionError(f"{module} is in no wing of WING_ORDER; add its wing there and to docs/architecture.md")


def test_no_module_imports_a_wing_above_its_own():
    upward = []
    for name, path in MODULES.items():
        if name == "gpt_hf":  # the package's face re-exports from every wing
            continue
        for target in package_imports(path):
            if wing_rank(target) > wing_rank(name) or (
                wing_rank(target) == wing_rank(name) and target.split(".")[1] != name.split(".")[1]
            ):
                upward.append(f"{name} imports {target}")
    assert not upward, upward


def test_the_package_top_holds_only_its_face_the_cli_and_the_errors():
    top = sorted(path.name for path in PACKAGE.glob("*.py"))
    assert top == ["__init__.py", "cli.py", "errors.py"], top


# The steps of a run's lifecycle: only runs/lifecycle.py (and the Trainer it builds) may call them.
LIFECYCLE_STEPS = {
    "decide_start",
    "staged_output",
    "resolve_run_arguments",
    "remove_stale_checkpoints",
    "remove_incomplete_checkpoints",
    "checkpoint_to_resume",
    "raise_if_stopped",
    "watching",
    "reported_write_failures",
    "CompleteCheckpointCallback",
    "StopOnSignal",
    "GPTTrainer",
}


def called_names(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            function = node.func
            names.add(function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", None))
    return names


@pytest.mark.parametrize("run", ["pretraining", "finetuning"])
def test_the_runs_plug_into_the_one_lifecycle_instead_of_calling_its_steps(run):
    path = PACKAGE / "runs" / f"{run}.py"
    own_steps = sorted(called_names(path) & LIFECYCLE_STEPS)
    assert not own_steps, f"{run} calls lifecycle steps itself: {own_steps}; let TrainerRun do them"
    assert {"TrainerRun", "folder", "trainer", "train", "save_final"} <= called_names(path)


def test_only_the_task_family_branches_on_task_label_kind_or_benchmark_names():
    """What a task type, label format, prediction kind or benchmark means is its row of the task family's tables, not
    comparisons with (or `in` tests on) its name elsewhere. Inside the family, only the tables' own modules look names
    up."""
    from gpt_hf.tasks.benchmarks import BENCHMARKS
    from gpt_hf.tasks.labels import LABEL_FORMATS
    from gpt_hf.tasks.prediction_kinds import PREDICTION_KINDS
    from gpt_hf.tasks.types import TASK_TYPES

    names = set(BENCHMARKS) | set(LABEL_FORMATS) | set(PREDICTION_KINDS) | set(TASK_TYPES)
    # transformers' problem types are not ours to rename; "regression" is both a problem type and a task type
    names -= {"regression"}
    branches = []
    for name, path in MODULES.items():
        if name.startswith("gpt_hf.tasks"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Compare):
                for side in (node.left, *node.comparators):
                    if isinstance(side, ast.Constant) and side.value in names:
                        branches.append(f"{name}:{node.lineno} {side.value!r}")
    assert not branches, branches


def test_the_command_line_layer_is_imported_by_no_library_module():
    importers = sorted(name for name, path in MODULES.items() if "gpt_hf.cli" in package_imports(path))
    assert not importers, f"{importers} import gpt_hf.cli (the scripts' layer)"


def test_no_module_changes_training_arguments_after_they_are_resolved():
    """Only runs.arguments.resolve_run_arguments writes the Trainer's arguments (on its own copy)."""
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
                        and name != "gpt_hf.runs.arguments"
                        and isinstance(part.ctx, ast.Store)
                    ):
                        writes.append(f"{name}:{node.lineno} {part.value.id}.{part.attr}")
    assert not writes, writes


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


def test_a_task_type_registered_from_outside_fine_tunes_end_to_end(pretrained, tmp_path, capsys):
    """A new task type (question first, then the passage, as an entailment-style pair) with its own check: one
    register call, and scripts/finetune.py trains, evaluates, predicts and writes the card with it."""
    from gpt_hf.tasks.types import TASK_TYPES, TaskType, register_task_type

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
        bad_flags = ["--task", "question_first", "--train_file", bad, "--text_column", "sentence"]
        bad_flags += ["--text_pair_column", "question", "--label_column", "sentiment"]
        with pytest.raises(DataError, match="Task type 'question_first': every question must end with"):
            run(pretrained, tmp_path / "bad", *bad_flags)
        # through the command line, the extension's plain ValueError is one `error:` line and exit code 2
        capsys.readouterr()
        code = finetune_script.main(
            ["--model_name_or_path", str(pretrained), "--output_dir", str(tmp_path / "bad")] + bad_flags
        )
        errors = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
        assert code == 2 and len(errors) == 1, errors
        assert errors[0].endswith("error: Task type 'question_first': every question must end with '?'")
        assert not (tmp_path / "bad").exists()
    finally:
        TASK_TYPES.pop("question_first", None)


def test_task_type_specs_are_checked_when_built():
    from gpt_hf.tasks.types import TaskType, register_task_type

    with pytest.raises(ValueError, match="auto_class 'AutoModelForTokenClassification' is not one of"):
        TaskType("tagging", ("text",), lambda t, x: x, auto_class="AutoModelForTokenClassification")
    with pytest.raises(ValueError, match=r"inputs \('passage',\) must be"):
        TaskType("reading", ("passage",), lambda t, x: x)
    with pytest.raises(ValueError, match="already registered"):
        register_task_type(TaskType("classification", ("text",), lambda t, x: x))


def test_the_package_top_exports_every_wings_entry_point():
    """`gpt_hf.<name>` for every public name: the model's now, the wings' on first use (a rename in a wing that is
    not carried to the package top fails here)."""
    for name in gpt_hf.__all__:
        assert getattr(gpt_hf, name) is not None, name
    assert gpt_hf.pretrain.__module__ == "gpt_hf.runs.pretraining"
    with pytest.raises(AttributeError, match="no attribute 'pretrian'"):
        gpt_hf.pretrian  # noqa: B018
