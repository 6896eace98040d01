"""The data-efficiency study end to end on a tiny labelled file: every (label count, seed, method) run, the files it
writes, the baseline on the same rows, and the verdict."""

import csv
import sys

import pytest

from gpt_hf.errors import OutputPathError

from conftest import SCRIPTS
from test_finetuning import pretrained, sentiment_rows, write_csv  # noqa: F401 (a fixture among them)

sys.path.insert(0, str(SCRIPTS))
import data_efficiency  # noqa: E402


def test_study_compares_pretrained_scratch_and_tfidf_and_writes_a_verdict(pretrained, tmp_path):
    train = write_csv(tmp_path / "train.csv", sentiment_rows(48, 0))
    dev = write_csv(tmp_path / "dev.csv", sentiment_rows(16, 1))
    test = write_csv(tmp_path / "test.csv", sentiment_rows(24, 2))
    out = tmp_path / "study"
    study, data = data_efficiency.parse(
        [
            "--pretrained",
            str(pretrained),
            "--task",
            "classification",
            "--train_file",
            train,
            "--validation_file",
            dev,
            "--test_file",
            test,
            "--text_column",
            "sentence",
            "--label_column",
            "sentiment",
            "--label_counts",
            "12",
            "all",
            "--seeds",
            "0",
            "1",
            "--num_train_epochs",
            "1",
            "--learning_rate",
            "1e-3",
            "--output_dir",
            str(out),
        ]
    )
    from gpt_hf.studies.data_efficiency import run_study

    result = run_study(study, data)
    rows = list(csv.DictReader(open(out / "results.csv")))
    assert len(rows) == 2 * 2 * 3  # label counts x seeds x methods
    assert {(int(r["labels"]), r["method"]) for r in rows} == {
        (count, method)
        for count in (12, 48)
        for method in ("pre-trained", "from scratch", "TF-IDF + logistic regression")
    }
    assert all(0.0 <= float(r["score"]) <= 1.0 for r in rows)
    assert (out / "accuracy_vs_labels.png").read_bytes()[:4] == b"\x89PNG"
    table = (out / "results.md").read_text()
    assert "| 12 |" in table and "| 48 |" in table and result["verdict"] in table
    assert result["verdict"].startswith("Verdict (accuracy, pre-trained minus from scratch, ± the paired difference")
    assert " points at 12 labels (" in result["verdict"] and " vs TF-IDF)" in result["verdict"]
    # with every row, both seeds' baselines see the same rows (in another order): the same score
    full = [float(r["score"]) for r in rows if r["method"].startswith("TF-IDF") and r["labels"] == "48"]
    assert len(full) == 2 and full[0] == pytest.approx(full[1], abs=1e-6)


def test_verdict_counts_a_gain_beyond_twice_the_paired_error_and_says_when_the_baseline_wins():
    from gpt_hf.studies.data_efficiency import verdict_line

    def runs(count, method, scores):
        return [{"labels": count, "seed": seed, "method": method, "score": s} for seed, s in enumerate(scores)]

    rows = (
        runs(100, "pre-trained", [0.70, 0.72, 0.68])  # the same +10 on every seed: a sure gain
        + runs(100, "from scratch", [0.60, 0.62, 0.58])
        + runs(100, "TF-IDF + logistic regression", [0.65, 0.66, 0.64])
        + runs(1000, "pre-trained", [0.80, 0.70, 0.90])  # +2 on average, but seed by seed -8 .. +12: no verdict
        + runs(1000, "from scratch", [0.78, 0.78, 0.78])
        + runs(1000, "TF-IDF + logistic regression", [0.85, 0.85, 0.85])
    )
    line = verdict_line(rows, "accuracy")
    assert "helps on this data at some label counts only" in line
    assert "+10.0 ± 0.0 points at 100 labels (+5.0 ± 0.6 vs TF-IDF)" in line
    assert "+2.0 ± 5.8 points at 1000 labels (-5.0 ± 5.8 vs TF-IDF)" in line
    assert line.endswith(
        "scores higher than the pre-trained model at 1000 labels: on this data, at that many labels, "
        "a bag of words is the better pick."
    )


@pytest.mark.parametrize(
    "argv, match",
    [
        (["--benchmark", "acceptability"], "Give --pretrained .* or --pretrain_files .*, exactly one"),
        (["--benchmark", "acceptability", "--pretrain_files", "x.txt"], "--pretrain_files needs --pretrain_recipe"),
        (["--benchmark", "acceptability", "--pretrained", "x", "--label_counts", "ten"], "positive numbers or 'all'"),
    ],
)
def test_study_arguments_are_checked(tmp_path, argv, match):
    with pytest.raises(ValueError, match=match):
        data_efficiency.parse(argv + ["--output_dir", str(tmp_path / "o")])


def test_recipe_grid_skips_recorded_runs_and_pairs_the_default_with_the_best_by_seed(pretrained, tmp_path, monkeypatch):
    import gpt_hf.studies.recipe_grid as study

    calls = []

    def fake_finetune(model_args, data_args, training_args):  # a known score surface: best at lr 1e-3
        calls.append(
            (model_args.from_scratch, training_args.learning_rate, training_args.seed, data_args.max_train_samples)
        )
        learning_rate = training_args.learning_rate or 5e-4  # the "default"
        score = 0.9 - 100 * abs(learning_rate - 1e-3) + 0.01 * training_args.seed - 0.2 * model_args.from_scratch
        return {
            "recipe": {"learning_rate": learning_rate, "num_train_epochs": 10},
            "metric_for_best_model": "accuracy",
            "test_accuracy": score,
        }

    monkeypatch.setattr(study, "finetune", fake_finetune)
    rows_file = tmp_path / "grid.jsonl"
    grid = ([str(pretrained)], ["acceptability"])
    first = study.recipe_grid(*grid, [1e-3], [0, 1], 300, 300, tmp_path, rows_file)
    assert len(first) == len(calls) == 3 * 2  # (default, lr 1e-3, from scratch) x 2 seeds
    calls.clear()
    rows = study.recipe_grid(*grid, [1e-3, 2e-3], [0, 1, 2], 300, 300, tmp_path, rows_file)
    assert len(rows) == 4 * 3 and len(calls) == 3 + 3  # only seed 2 of the old variants and the new lr ran
    assert {(scratch, lr) for scratch, lr, _, _ in calls} == {(False, None), (False, 1e-3), (True, None), (False, 2e-3)}
    assert study.read_grid_rows(rows_file) == first + [row for row in rows if row not in first]
    calls.clear()
    study.recipe_grid(*grid, [], [0], 100, 300, tmp_path, rows_file)  # other training rows: not the same runs
    assert [train for *_, train in calls] == [100, 100]

    table = study.recipe_table([row for row in study.read_grid_rows(rows_file) if row["train_samples"] == 300])
    lines = table.splitlines()
    assert [line.split(" | ")[2] for line in lines[2:7]] == [
        "default",
        "lr 0.001",
        "lr 0.002",
        "default, from scratch",
        "**default − best of grid** (lr 0.001)",
    ]
    assert "| 3 | 86.0 ± 1.0 |" in lines[2] and "| 3 | 91.0 ± 1.0 |" in lines[3]
    assert lines[6].endswith("| 3 paired | **-5.0** ± 0.0 s.e. |")  # the same 5 points at every seed
    study.plot_recipe_grid(study.read_grid_rows(rows_file), tmp_path / "grid.png")
    assert (tmp_path / "grid.png").read_bytes()[:4] == b"\x89PNG"


def test_recipe_grid_arguments_fail_before_any_run(tmp_path):
    import recipe_grid

    with pytest.raises(OutputPathError, match=r"--plot .*missing/grid.png: its folder .*missing does not exist"):
        recipe_grid.parse(["--pretrained", "x", "--plot", str(tmp_path / "missing" / "grid.png")])
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"size": "2x64", "task": "acceptability"}\n')
    with pytest.raises(ValueError, match=r"rows.jsonl, line 1, is not a recipe grid run \('variant'\)"):
        recipe_grid.parse(["--pretrained", "x", "--rows_file", str(rows)])
