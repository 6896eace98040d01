"""A run's arguments are resolved once, by a pure function: the user's TrainingArguments and the facts found before
training in, the Trainer's arguments out, the user's object unchanged (a table of cases); the short-run warmup is a
method of the unchanged arguments."""

import pytest

from gpt_hf.runs.arguments import resolve_run_arguments
from gpt_hf.runs.finetune_arguments import FinetuneTrainingArguments, resolve_recipe
from gpt_hf.runs.pretrain_arguments import PretrainTrainingArguments

RECIPE = {"recipe": "scaled", "learning_rate": 3.75e-4, "num_train_epochs": 10, "given": []}

# (arguments class, user's values, facts found before training, expected fields of the Trainer's arguments)
CASES = [
    (
        PretrainTrainingArguments,
        {},
        {"work_dir": "out"},
        {"output_dir": "out", "resume_from_checkpoint": None, "save_total_limit": None, "learning_rate": 2.5e-4},
    ),
    (
        PretrainTrainingArguments,
        {"save_total_limit": 3, "resume_from_checkpoint": "auto"},
        {"work_dir": "out", "resume": "last"},
        {"resume_from_checkpoint": "last", "save_total_limit": None},
    ),
    (
        PretrainTrainingArguments,
        {"output_dir": "out", "overwrite_output_dir": True},
        {"work_dir": ".out.replacing"},
        {"output_dir": ".out.replacing"},
    ),
    (PretrainTrainingArguments, {"enable_jit_checkpoint": True}, {"work_dir": "out"}, {"enable_jit_checkpoint": False}),
    (
        FinetuneTrainingArguments,
        {},
        {"work_dir": "out", "metric": "mcc", "recipe": RECIPE},
        {"metric_for_best_model": "mcc", "greater_is_better": True, "learning_rate": 3.75e-4, "num_train_epochs": 10},
    ),
    (
        FinetuneTrainingArguments,
        {"metric_for_best_model": "loss"},
        {"work_dir": "out", "recipe": RECIPE},
        {"metric_for_best_model": "loss", "greater_is_better": False},
    ),
]


@pytest.mark.parametrize("arguments_class, values, facts, expected", CASES)
def test_run_arguments_are_a_pure_function_of_the_users_arguments_and_the_facts(
    arguments_class, values, facts, expected, tmp_path
):
    args = arguments_class(**{"output_dir": str(tmp_path), "use_cpu": True, "report_to": "none", **values})
    before = args.to_dict()
    run = resolve_run_arguments(args, **facts)
    assert args.to_dict() == before  # the user's arguments are not changed
    for name, value in expected.items():
        assert getattr(run.trainer_args, name) == value, name
    assert run.save_total_limit == args.save_total_limit  # kept for the complete-checkpoint rotation
    assert run.resume == facts.get("resume") and run.recipe == facts.get("recipe")
    assert run.trainer_args is not args


def test_recipe_choice_leaves_the_arguments_unchanged(tmp_path):
    args = FinetuneTrainingArguments(output_dir=str(tmp_path), use_cpu=True, report_to="none")
    before = args.to_dict()
    assert resolve_recipe(args, 128, 300)["num_train_epochs"] == 10
    assert args.to_dict() == before and args.learning_rate is None


@pytest.mark.parametrize(
    "warmup, fraction, steps, expected",
    [
        (2000, 0.1, 100, 10),  # the paper's 2000 steps in a 100-step run: 10 % of it
        (2000, 0.1, 100_000, 2000),  # a long run keeps the paper's warmup
        (2000, 0.0, 100, 2000),  # 0 turns the rule off
        (0.05, 0.1, 100, 5),  # a fraction is a fraction already
    ],
)
def test_short_run_warmup_is_derived_without_changing_the_arguments(warmup, fraction, steps, expected, tmp_path):
    args = PretrainTrainingArguments(
        output_dir=str(tmp_path),
        use_cpu=True,
        report_to="none",
        warmup_steps=warmup,
        short_run_warmup_fraction=fraction,
    )
    assert args.get_warmup_steps(steps) == expected
    assert args.warmup_steps == warmup
