"""What a run writes is a record of that run: nothing finished is replaced unless the user asks on the command line,
every fact in a model card, summary.json and results.json is the value the run used (data by name, the resolved
schedule, counts), nothing machine-local goes into a saved folder, and the outputs a user needs are there
(predictions with their inputs and probabilities, per-class scores, loss curves)."""

import csv
import json
import logging
from pathlib import Path

import pytest
from huggingface_hub import ModelCard
from huggingface_hub.repocard_data import model_index_to_eval_results
from test_reliability import error_lines, script_main

from gpt_hf.errors import ArgumentError
from gpt_hf.interop.hub import build_hub_folder

from conftest import ROOT, flags, run_pretraining
from test_finetuning import pretrained, run, sentiment_rows, write_csv  # noqa: F401 (a fixture among them)

TEXT_SUFFIXES = {".md", ".json", ".txt", ".tsv", ".py", ".csv", ".jinja"}


def absolute_paths_in(folder: Path, *forbidden: str) -> list[str]:
    """Text files of `folder` (not its checkpoints) that mention an absolute path of this machine."""
    hits = []
    for path in folder.rglob("*"):
        if path.is_file() and path.suffix in TEXT_SUFFIXES and not any(p.startswith("checkpoint-") for p in path.parts):
            text = path.read_text(encoding="utf-8", errors="replace")
            hits += [f"{path.name}: {needle}" for needle in forbidden if needle in text]
    return hits


def check_card(path: Path) -> ModelCard:
    """The card parses with huggingface_hub's own metadata classes, offline, and its model-index round-trips."""
    card = ModelCard.load(path)
    data = card.data.to_dict()
    if data.get("model-index"):
        name, results = model_index_to_eval_results(data["model-index"])
        assert results and all(result.metric_value is not None for result in results)
    return card


# --- nothing finished is replaced silently ---------------------------------------------------------------------------


def test_no_shipped_recipe_replaces_an_output_folder():
    for recipe in sorted((ROOT / "scripts" / "configs").glob("*.json")):
        assert "overwrite_output_dir" not in json.loads(recipe.read_text()), recipe


def test_a_recipe_that_sets_overwrite_output_dir_is_refused(corpus, tmp_path, capsys, caplog):
    recipe = tmp_path / "recipe.json"
    recipe.write_text(json.dumps({"max_steps": 4, "overwrite_output_dir": True}))
    assert script_main("pretrain", [recipe, *flags(corpus, tmp_path / "run")]) == 2
    assert "a recipe may not replace an existing output folder" in " ".join(error_lines(capsys, caplog))
    with pytest.raises(ArgumentError, match="sets overwrite_output_dir"):
        from gpt_hf.runs.pretrain_arguments import pretrain_arguments

        pretrain_arguments(recipe, output_dir=str(tmp_path / "run"))


def test_a_finished_run_is_kept_unless_the_command_line_asks_and_then_a_warning_names_it(corpus, tmp_path, caplog):
    out = tmp_path / "run"
    run_pretraining(flags(corpus, out, "--max_steps", "6"))
    before = (out / "model.safetensors").read_bytes()
    with pytest.raises(ArgumentError, match="not empty; pass --overwrite_output_dir"):
        run_pretraining(flags(corpus, out, "--max_steps", "2"))
    assert (out / "model.safetensors").read_bytes() == before
    with caplog.at_level(logging.WARNING, logger="gpt_hf.runs.lifecycle"):
        run_pretraining(flags(corpus, out, "--max_steps", "2", "--overwrite_output_dir"))
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("holds a finished pretraining run (steps 6, written " in message for message in warned), warned
    assert any(message.startswith(f"Replaced {out} (a finished pretraining run (steps 6") for message in warned)
    assert json.loads((out / "summary.json").read_text())["steps"] == 2


# --- true records ---------------------------------------------------------------------------------------------------


def test_a_pretraining_card_and_summary_state_what_the_run_used(corpus, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the user's own folder: their text beside it
    (tmp_path / "verses.txt").write_bytes(b"\xef\xbb\xbf" + corpus.read_bytes())  # with a byte-order mark
    summary = run_pretraining(
        flags("verses.txt", "lm", "--max_steps", "20", "--warmup_steps", "2000", "--license", "mit")
    )
    record = summary["run"]
    assert record["data"]["sources"] == ["verses.txt"] and record["data"]["built_in_corpus"] is False
    assert record["schedule"]["warmup_steps"] == 2  # the short-run rule's, not the 2000 asked for
    assert record["schedule"]["lr_scheduler"] == "cosine" and record["schedule"]["steps"] == 20
    assert record["data"]["counts"]["tokens seen"] == summary["tokens_seen"] == 20 * 8 * 32
    card_text = (tmp_path / "lm" / "README.md").read_text()
    card = check_card(tmp_path / "lm" / "README.md")
    assert card.data.license == "mit" and card.data.base_model is None and not card.data.datasets
    assert "built-in corpus" not in card_text and "Data: verses.txt" in card_text
    assert "cosine schedule with 2 warmup steps" in card_text and "SchedulerType" not in card_text
    assert "License: mit (--license)" in card_text
    metrics = {m["type"] for m in card.data.to_dict()["model-index"][0]["results"][0]["metrics"]}
    assert metrics == {"eval_loss", "perplexity"}  # evaluation numbers only: no epochs, runtimes or throughput
    assert (tmp_path / "lm" / "loss_curve.png").stat().st_size > 1000
    assert absolute_paths_in(tmp_path / "lm", str(tmp_path), str(Path.home())) == []
    tokenizer_vocab = json.loads((tmp_path / "lm" / "tokenizer.json").read_text())["model"]["vocab"]
    assert not any("\ufeff" in token or "ï»¿" in token for token in tokenizer_vocab)  # the mark is no text

    hub = build_hub_folder(tmp_path / "lm", tmp_path / "hub", repo_id="me/verses")
    hub_card = check_card(hub / "README.md")
    assert hub_card.data.license == "mit" and "Data: verses.txt" in (hub / "README.md").read_text()
    assert absolute_paths_in(hub, str(tmp_path), str(Path.home())) == []


def test_a_fine_tuning_card_results_and_predictions_state_what_the_run_used(pretrained, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rows = sentiment_rows(90, 3)
    train = write_csv(tmp_path / "train.csv", rows[:70])
    test = write_csv(tmp_path / "test.csv", rows[70:])
    results, _ = run(
        pretrained,
        "clf",
        "--task",
        "classification",
        "--train_file",
        "train.csv",
        "--test_file",
        "test.csv",
        "--text_column",
        "sentence",
        "--label_column",
        "sentiment",
        "--max_eval_samples",
        "5",
        "--max_test_samples",
        "12",
    )
    assert Path(train).is_file() and Path(test).is_file()
    out = tmp_path / "clf"
    assert results["scored_rows"] == {"validation": 5, "test": 12}  # the test split is capped by its own flag
    per_class = results["per_class"]
    assert per_class["split"] == "test" and set(per_class["classes"]) == {"negative", "neutral", "positive"}
    matrix = per_class["confusion_matrix"]
    assert matrix["labels"] == ["negative", "neutral", "positive"] and sum(map(sum, matrix["matrix"])) == 12
    assert (out / "confusion_matrix_test.png").is_file() and (out / "loss_curve.png").is_file()

    with open(out / "predictions_test.tsv", newline="") as handle:
        table = list(csv.DictReader(handle, delimiter="\t"))
    assert len(table) == 12
    assert list(table[0]) == ["index", "text", "label", "prediction", "p_negative", "p_neutral", "p_positive"]
    assert table[0]["text"] == rows[70]["sentence"] and table[0]["label"] == rows[70]["sentiment"]
    assert all(abs(sum(float(row[f"p_{c}"]) for c in ("negative", "neutral", "positive")) - 1) < 1e-4 for row in table)
    assert all(
        max(("negative", "neutral", "positive"), key=lambda c: float(row[f"p_{c}"])) == row["prediction"]
        for row in table
    )

    card_text = (out / "README.md").read_text()
    card = check_card(out / "README.md")
    assert card.data.base_model is None  # a local folder is no Hub id
    assert str(tmp_path) not in card_text and "Initialised from: " in card_text
    assert "macro F1" in card_text  # three classes: the F1 variant is stated
    reported = {m["type"] for m in card.data.to_dict()["model-index"][0]["results"][0]["metrics"]}
    assert "eval_epoch" not in reported and "epoch" not in reported and "test_accuracy" in reported
    assert results["run"]["data"]["sources"] == ["train.csv", "test.csv"]
    assert results["run"]["data"]["counts"] == {"train rows": 63, "validation rows": 5, "test rows": 12}
    assert absolute_paths_in(out, str(tmp_path), str(Path.home())) == []


def test_a_resumed_run_says_where_it_resumed_and_counts_its_own_steps(corpus, tmp_path, caplog):
    out = tmp_path / "run"
    run_pretraining(flags(corpus, out, "--max_steps", "4", "--save_steps", "4"))
    # a longer run continued from the first run's last checkpoint (the folder is kept; its checkpoint resumes)
    with caplog.at_level(logging.INFO, logger="gpt_hf.runs.checkpoints"):
        summary = run_pretraining(
            flags(corpus, out, "--max_steps", "10", "--resume_from_checkpoint", str(out / "checkpoint-4"))
        )
    assert "Resuming from checkpoint-4 (step 4 of 10)." in caplog.text
    assert summary["run"]["resumed_from"] == "checkpoint-4" and summary["run"]["steps_this_process"] == 6
    assert "Resumed from checkpoint-4 (6 steps after it)." in (out / "README.md").read_text()


# --- the command line -------------------------------------------------------------------------------------------


def test_an_unknown_flag_is_one_error_with_the_closest_flag(corpus, tmp_path, capsys, caplog):
    assert script_main("pretrain", [*flags(corpus, tmp_path / "run"), "--max_stpes", "3"]) == 2
    assert error_lines(capsys, caplog) == [
        "error: Unknown flag(s): --max_stpes (did you mean --max_steps?). See --help for the accepted flags."
    ]
    assert not (tmp_path / "run").exists()


def test_resume_help_names_last_and_auto(capsys):
    with pytest.raises(SystemExit):
        script_main("pretrain", ["--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "'last' (the last complete checkpoint" in help_text and "'auto'" in help_text


def test_quiet_defaults_without_an_accelerator_or_a_terminal(tmp_path):
    from gpt_hf.runs.finetune_arguments import FinetuneTrainingArguments

    args = FinetuneTrainingArguments(output_dir=str(tmp_path), use_cpu=True, report_to="none")
    assert args.dataloader_pin_memory is False  # torch warns on every DataLoader otherwise
    assert args.disable_tqdm is True  # pytest's stderr is no terminal: no progress-bar escapes in a log


def test_store_preparation_counts_the_held_out_documents_it_cannot_keep(corpus, tmp_path, caplog):
    from gpt_hf.data.token_store import PrepareArguments, prepare_store

    args = PrepareArguments(
        output_dir=str(tmp_path / "store"),
        train_files=[str(corpus)],
        tokenizer_vocab_size=300,
        validation_split_fraction=0.2,
        max_validation_documents=3,
    )
    with caplog.at_level(logging.INFO, logger="gpt_hf.data.token_store"):
        metadata = prepare_store(args)
    unused = metadata["unused_held_out_documents"]
    assert unused > 0 and metadata["splits"]["validation"]["documents"] == 3
    assert f"{unused:,} held-out documents beyond --max_validation_documents 3 are in neither split" in caplog.text


def test_records_show_paths_relative_or_by_name_and_take_only_hub_ids_as_base_models(tmp_path, monkeypatch):
    from gpt_hf.runs.records import hub_id, shown_path

    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    assert shown_path(tmp_path / "data" / "book.txt") == "data/book.txt"  # below where the command ran
    assert shown_path("/somewhere/else/book.txt") == "book.txt"  # elsewhere: the name alone
    assert shown_path("data/book.txt") == "data/book.txt"
    assert hub_id("openai-community/gpt2") == "openai-community/gpt2"
    assert hub_id(str(tmp_path / "data")) is None and hub_id("data") is None and hub_id(None) is None
