"""Every script's command line: --help works, a JSON recipe combines with flags (flags win), and a user error is one
clear line with exit code 2 while an unexpected error keeps its traceback."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from gpt_hf.cli import parse_arguments, run_main
from gpt_hf.runs.pretrain_arguments import PretrainDataArguments, PretrainModelArguments, PretrainTrainingArguments

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted((ROOT / "scripts").glob("*.py"))
PRETRAIN_ARGUMENTS = (PretrainModelArguments, PretrainDataArguments, PretrainTrainingArguments)

USER_ERROR_EXIT_CODE = 2  # gpt_hf.errors.UserError.exit_code


def load_script(path: Path):
    spec = importlib.util.spec_from_file_location(f"script_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_there_are_scripts():
    assert {p.stem for p in SCRIPTS} >= {
        "pretrain",
        "finetune",
        "evaluate",
        "generate",
        "train_tokenizer",
        "convert_checkpoint",
        "push_to_hub",
        "ablation",
        "benchmark",
        "demo",
    }


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
    recipe.write_text(
        json.dumps(
            {
                "_comment": "x",
                "config_name": "tiny",
                "output_dir": "from-recipe",
                "max_steps": 100,
                "learning_rate": 0.002,
                "use_cpu": True,
                "train_files": ["a.txt"],
            }
        )
    )
    model, data, training = parse_arguments(
        PRETRAIN_ARGUMENTS, [str(recipe), "--max_steps", "10", "--output_dir", "from-flag"]
    )
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
    from dataclasses import asdict

    from gpt_hf.runs.pretrain_arguments import pretrain_arguments

    for recipe in (ROOT / "scripts" / "configs").glob("*.json"):
        parsed = parse_arguments(PRETRAIN_ARGUMENTS, [str(recipe), "--max_steps", "2", "--use_cpu", "true"])
        assert parsed[2].max_steps == 2
        # a library caller (a study) gets the same arguments without the command line
        built = pretrain_arguments(recipe, max_steps=2, use_cpu=True)
        assert [asdict(a) for a in built] == [asdict(a) for a in parsed], recipe
    with pytest.raises(ValueError, match="tiny.json: Some keys are not used"):
        pretrain_arguments(ROOT / "scripts" / "configs" / "tiny.json", max_stepz=2)


def test_user_error_is_one_line_and_exit_code_2(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "finetune.py"),
            "--model_name_or_path",
            str(tmp_path / "missing-model"),
            "--benchmark",
            "acceptability",
            "--output_dir",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == USER_ERROR_EXIT_CODE
    assert "missing-model does not exist" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()


def test_user_errors_are_decided_by_type_and_bugs_keep_their_traceback(tmp_path, capsys):
    """A `UserError` raised anywhere (a gpt_hf helper, a function defined right here, a script) is one line and its
    exit code; anything else keeps its traceback, also a `TypeError` or `ValueError` raised inside gpt_hf."""
    from dataclasses import dataclass

    from gpt_hf.errors import DataError, HubUploadError

    @dataclass
    class Arguments:
        value: int = 1

    def bad_value(args):
        from gpt_hf.runs.arguments import check_max_length

        return check_max_length(9, 4)  # a user error from a gpt_hf helper

    assert run_main((Arguments,), bad_value, []) == USER_ERROR_EXIT_CODE
    assert "error: --max_length 9 exceeds the model's n_positions=4" in capsys.readouterr().err

    def raised_here(args):  # outside gpt_hf: the type decides, not where the traceback ends
        raise DataError("row 3 is empty")

    assert run_main((Arguments,), raised_here, []) == USER_ERROR_EXIT_CODE
    assert run_main((Arguments,), lambda args: (_ for _ in ()).throw(HubUploadError("offline")), []) == 1

    def bug_in_gpt_hf(args):
        from gpt_hf.runs.arguments import check_max_length

        return check_max_length("9", 4)  # a TypeError raised inside gpt_hf ('>' on str and int): a bug

    with pytest.raises(TypeError, match="not supported between"):
        run_main((Arguments,), bug_in_gpt_hf, [])

    def foreign_value_error(args):
        int("not a number")  # a plain ValueError: unexpected, keeps its traceback

    with pytest.raises(ValueError, match="invalid literal"):
        run_main((Arguments,), foreign_value_error, [])
    assert run_main((Arguments,), lambda args: None, []) == 0
    # transformers' own argument checks (HfArgumentParser / TrainingArguments) are argument errors
    assert (
        run_main(
            PRETRAIN_ARGUMENTS,
            lambda *args: None,
            [
                "--output_dir",
                str(tmp_path),
                "--load_best_model_at_end",
                "true",
                "--eval_strategy",
                "steps",
                "--save_strategy",
                "epoch",
            ],
        )
        == USER_ERROR_EXIT_CODE
    )


def test_document_options_on_every_script_that_reads_text_files():
    """--document_unit / --document_separator come from one dataclass (data.DocumentArguments) and are checked when
    parsed; a separator typed with backslash escapes is read as the characters."""
    _, data, _ = parse_arguments(PRETRAIN_ARGUMENTS, ["--output_dir", "x", "--document_separator", r"\n%\n"])
    assert data.document_separator == "\n%\n" and data.document_options["document_unit"] == "paragraph"
    with pytest.raises(ValueError, match="--document_unit 'chapter' is not one of"):
        parse_arguments(PRETRAIN_ARGUMENTS, ["--output_dir", "x", "--document_unit", "chapter"])
    from gpt_hf.evaluation.evaluate import EvaluationArguments
    from gpt_hf.runs.finetune_arguments import FinetuneDataArguments

    for arguments in (EvaluationArguments, FinetuneDataArguments):
        assert {"document_unit", "document_separator"} <= set(arguments.__dataclass_fields__)
