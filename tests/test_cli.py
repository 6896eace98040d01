"""Every script's command line: --help works, a JSON recipe combines with flags (flags win), and a user error is one
clear line with exit code 2 while an unexpected error keeps its traceback."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from gpt_hf.cli import USER_ERROR_EXIT_CODE, parse_arguments, run_main
from gpt_hf.pretraining import PretrainDataArguments
from gpt_hf.training import GPTTrainingArguments, ModelArguments

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted((ROOT / "scripts").glob("*.py"))
PRETRAIN_ARGUMENTS = (ModelArguments, PretrainDataArguments, GPTTrainingArguments)


def load_script(path: Path):
    spec = importlib.util.spec_from_file_location(f"script_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_there_are_scripts():
    assert {p.stem for p in SCRIPTS} >= {"pretrain", "finetune", "evaluate", "generate", "train_tokenizer",
                                         "convert_checkpoint", "push_to_hub", "ablation", "benchmark", "demo"}


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_every_script_prints_help(script, capsys):
    module = load_script(script)
    with pytest.raises(SystemExit) as exited:
        module.parse(["--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage:") and "--help" in out


def test_recipe_then_flags_override_it(tmp_path):
    recipe = tmp_path / "recipe.json"
    recipe.write_text(json.dumps({"_comment": "x", "config_name": "tiny", "output_dir": "from-recipe",
                                  "max_steps": 100, "learning_rate": 0.002, "use_cpu": True,
                                  "train_files": ["a.txt"]}))
    model, data, training = parse_arguments(PRETRAIN_ARGUMENTS, [str(recipe), "--max_steps", "10",
                                                                 "--output_dir", "from-flag"])
    assert (training.max_steps, training.output_dir, training.learning_rate) == (10, "from-flag", 0.002)
    assert model.config_name == "tiny" and data.train_files == ["a.txt"] and training.use_cpu is True
    # Python callers override the recipe too; flags still win over both
    _, _, training = parse_arguments(PRETRAIN_ARGUMENTS, [str(recipe), "--seed", "7"], max_steps=3)
    assert (training.max_steps, training.seed) == (3, 7)
    recipe.write_text(json.dumps({"output_dir": "x", "max_stepz": 1}))
    with pytest.raises(ValueError, match=r"Unknown argument\(s\) \['max_stepz'\] in the recipe"):
        parse_arguments(PRETRAIN_ARGUMENTS, [str(recipe)])
    recipe.write_text("[1, 2]")
    with pytest.raises(ValueError, match="must hold a JSON object"):
        parse_arguments(PRETRAIN_ARGUMENTS, [str(recipe)])
    with pytest.raises(ValueError, match="does not exist"):
        parse_arguments(PRETRAIN_ARGUMENTS, [str(tmp_path / "missing.json")])


def test_shipped_recipes_parse_with_overrides():
    for recipe in (ROOT / "scripts" / "configs").glob("*.json"):
        _, _, training = parse_arguments(PRETRAIN_ARGUMENTS, [str(recipe), "--max_steps", "2", "--use_cpu", "true"])
        assert training.max_steps == 2


def test_user_error_is_one_line_and_exit_code_2(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "finetune.py"), "--model_name_or_path",
                           str(tmp_path / "missing-model"), "--benchmark", "acceptability", "--output_dir",
                           str(tmp_path / "out")], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert done.returncode == USER_ERROR_EXIT_CODE
    assert "missing-model does not exist" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()


def test_errors_in_the_library_are_user_errors_and_others_keep_their_traceback():
    from dataclasses import dataclass

    @dataclass
    class Arguments:
        value: int = 1

    def bad_value(args):
        from gpt_hf.tasks import fit_lengths

        from gpt_hf.training import check_max_length
        return check_max_length(9, 4) and fit_lengths  # raises in gpt_hf: the user's value

    assert run_main((Arguments,), bad_value, []) == USER_ERROR_EXIT_CODE

    def bug(args):
        raise RuntimeError("a bug")

    with pytest.raises(RuntimeError, match="a bug"):
        run_main((Arguments,), bug, [])

    def foreign_value_error(args):
        int("not a number")  # raised outside gpt_hf's checks: unexpected, keeps its traceback

    with pytest.raises(ValueError, match="invalid literal"):
        run_main((Arguments,), foreign_value_error, [])
    assert run_main((Arguments,), lambda args: None, []) == 0


def test_document_options_on_every_script_that_reads_text_files():
    """--document_unit / --document_separator come from one dataclass (data.DocumentArguments) and are checked when
    parsed; a separator typed with backslash escapes is read as the characters."""
    _, data, _ = parse_arguments(PRETRAIN_ARGUMENTS, ["--output_dir", "x", "--document_separator", r"\n%\n"])
    assert data.document_separator == "\n%\n" and data.document_options["document_unit"] == "paragraph"
    with pytest.raises(ValueError, match="--document_unit 'chapter' is not one of"):
        parse_arguments(PRETRAIN_ARGUMENTS, ["--output_dir", "x", "--document_unit", "chapter"])
    from gpt_hf.evaluation import EvaluationArguments
    from gpt_hf.finetuning import FinetuneDataArguments

    for arguments in (EvaluationArguments, FinetuneDataArguments):
        assert {"document_unit", "document_separator"} <= set(arguments.__dataclass_fields__)
