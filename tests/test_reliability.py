"""Runs that survive the machine: output paths that cannot hold the output (a file in the way, no permission, a disk
that fills), bad labelled rows, defaults that must run, checks that come before any data is read, preemption
(SIGTERM / SIGINT), and quiet logs when all is well. Each family ends in one clear error or a clean stop, leaves
nothing half-written, and resumes."""

import csv
import errno
import importlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import warnings

import pytest
import torch
from safetensors.torch import load_file

import gpt_hf
from gpt_hf.errors import DataError, OutputPathError, RunStopped
from gpt_hf.output.checkpoint_folders import CHECKPOINT_COMPLETE
from gpt_hf.runs.trainer import GPTTrainer

from conftest import ROOT, SCRIPTS, flags, run_pretraining
from test_finetuning import pretrained, prose  # noqa: F401 (a fixture among them)
from test_finetuning import run as run_finetuning

if str(SCRIPTS) not in sys.path:
    sys.path.insert(0, str(SCRIPTS))


def script_main(name: str, argv: list[str]) -> int:
    return importlib.import_module(name).main([str(a) for a in argv])


def error_lines(capsys, caplog) -> list[str]:
    """The `error:` lines the scripts logged: to stderr once a script has set up its logging, else to pytest's
    handler."""
    lines = [line.split("gpt_hf.cli: ", 1)[-1] for line in capsys.readouterr().err.splitlines() if " error: " in line]
    lines += [record.getMessage() for record in caplog.records if record.name == "gpt_hf.cli"]
    caplog.clear()
    return lines


def write_rows(path, rows: list[dict]) -> str:
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return str(path)


def labelled(texts: list[str]) -> list[dict]:
    return [{"sentence": text, "label": ["yes", "no"][i % 2]} for i, text in enumerate(texts)]


@pytest.fixture
def no_data_reads(monkeypatch):
    """Reading data, training a tokenizer or loading weights fails the test: an argument check must come first."""

    def forbidden(*args, **kwargs):
        raise AssertionError("data was read before the arguments were checked")

    import datasets
    import transformers

    from gpt_hf.data import documents as data
    from gpt_hf.evaluation import evaluate  # noqa: F401 (imported before the patches, so later tests read real data)
    from gpt_hf.interop import loading
    from gpt_hf.runs import finetuning, pretraining
    from gpt_hf.studies import data_efficiency
    from gpt_hf.tasks import rows

    scripts = {name: importlib.import_module(name) for name in ("train_tokenizer", "convert_checkpoint")}
    for owner, name in [
        (datasets, "load_dataset"),
        (data, "_load_raw"),
        (data, "load_table_files"),
        (rows, "load_table_files"),
        (finetuning, "load_task_dataset"),
        (data_efficiency, "load_task_dataset"),
        (pretraining, "load_text_dataset"),
        (pretraining, "load_text_stream"),
        (pretraining, "train_tokenizer"),
        (scripts["train_tokenizer"], "train_tokenizer"),
        (scripts["convert_checkpoint"], "convert_checkpoint"),
        (loading, "load_model"),
        (finetuning, "load_model"),
        (transformers.PreTrainedModel, "from_pretrained"),
    ]:
        monkeypatch.setattr(owner, name, forbidden)


# --- output paths ---------------------------------------------------------------------------------------------------


def _cases_below_a_file(corpus, blocked):
    out = blocked / "out"
    common = ["--use_cpu", "--report_to", "none"]
    return {
        "pretrain": ["--train_files", corpus, "--output_dir", out, *common],
        "finetune": [
            "--model_name_or_path",
            blocked.parent / "lm",
            "--train_file",
            blocked.parent / "rows.csv",
            "--task",
            "classification",
            "--output_dir",
            out,
            *common,
        ],
        "train_tokenizer": ["--files", corpus, "--output_dir", out],
        "convert_checkpoint": ["--source", "openai-community/gpt2", "--output_dir", out],
        "data_efficiency": ["--pretrained", blocked.parent / "lm", "--benchmark", "acceptability", "--output_dir", out],
        "figure2": ["--pretrained", blocked.parent / "lm", "--output_dir", out],
        "push_to_hub": ["--model_dir", blocked.parent / "lm", "--repo_id", "me/tiny", "--local_dir", out],
        "evaluate": ["--model_name_or_path", blocked.parent / "lm", "--output_file", out / "results.json"],
        "recipe_grid": ["--pretrained", blocked.parent / "lm", "--plot", out / "grid.png"],
    }


@pytest.mark.parametrize(
    "script",
    [
        "pretrain",
        "finetune",
        "train_tokenizer",
        "convert_checkpoint",
        "data_efficiency",
        "figure2",
        "push_to_hub",
        "evaluate",
        "recipe_grid",
    ],
)
def test_an_output_path_below_a_file_is_one_error_line_before_any_work(
    script, corpus, tmp_path, no_data_reads, capsys, caplog
):
    blocked = tmp_path / "a-file"
    blocked.write_text("in the way")
    argv = _cases_below_a_file(corpus, blocked)[script]
    assert script_main(script, argv) == 2
    [line] = error_lines(capsys, caplog)
    assert line.startswith("error: --") and f"is below {blocked}, which is a file" in line, line
    assert blocked.read_text() == "in the way"


def test_a_folder_that_cannot_be_written_is_refused_before_any_work(
    corpus, tmp_path, monkeypatch, no_data_reads, capsys, caplog
):
    from gpt_hf.output import paths as saving

    def refused(*args, **kwargs):  # what a read-only mount or a folder of another user answers (root ignores modes)
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(saving.tempfile, "TemporaryDirectory", refused)
    assert script_main("pretrain", flags(corpus, tmp_path / "out")) == 2
    [line] = error_lines(capsys, caplog)
    assert f"--output_dir {tmp_path / 'out'}: cannot write in {tmp_path} (permission denied)" in line


@pytest.mark.parametrize(
    "failure",
    [
        OSError(errno.ENOSPC, "No space left on device"),
        RuntimeError(
            "[enforce fail at inline_container.cc:672] . unexpected pos 108864 vs 108752"
        ),  # torch's zip writer
    ],
    ids=["enospc", "torch-short-write"],
)
def test_a_disk_that_fills_while_checkpointing_is_one_error_and_the_last_checkpoint_resumes(
    failure, corpus, tmp_path, monkeypatch
):
    out = tmp_path / "run"
    argv = flags(corpus, out, "--max_steps", "8", "--save_steps", "3", "--disable_tqdm", "true")
    real_save = torch.save

    def full_disk(obj, target, *args, **kwargs):
        if "checkpoint-6" in str(target):
            raise failure
        return real_save(obj, target, *args, **kwargs)

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(
        OutputPathError,
        match=rf"while writing checkpoint-6 in {out} \(\d+ MiB free\): free space "
        r"there or choose another --output_dir\. The last complete checkpoint, "
        r"checkpoint-3, is intact",
    ):
        run_pretraining(argv)
    assert not (out / "checkpoint-6").exists()  # the half-written one is gone (it held the space)
    assert (out / "checkpoint-3" / CHECKPOINT_COMPLETE).is_file()
    monkeypatch.undo()
    assert run_pretraining(argv + ["--resume_from_checkpoint", "last"])["steps"] == 8


def test_a_disk_that_fills_while_building_the_hub_folder_keeps_the_earlier_folder(pretrained, tmp_path, monkeypatch):
    from gpt_hf.interop.hub import build_hub_folder

    folder = build_hub_folder(pretrained, tmp_path / "hub", repo_id="me/tiny")
    before = sorted(p.name for p in folder.iterdir())

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(gpt_hf.interop.hub, "write_model_card", full_disk)
    with pytest.raises(OutputPathError, match=rf"no space left on device while writing the output in {folder}"):
        build_hub_folder(pretrained, folder, repo_id="me/tiny", overwrite=True)
    assert sorted(p.name for p in folder.iterdir()) == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".hub.partial")]


# --- labelled rows --------------------------------------------------------------------------------------------------


def test_rows_without_text_are_an_error_unless_dropped_and_leakage_is_counted(pretrained, tmp_path, caplog):
    texts = [" ".join(document.split()[:12]) for document in prose(3, 48)]
    rows = labelled(texts[:40])
    for index in (3, 7, 11):
        rows[index]["sentence"] = "   " if index == 7 else ""
    train = write_rows(tmp_path / "train.csv", rows)
    validation = write_rows(tmp_path / "validation.csv", labelled(texts[40:46] + texts[:2]))  # two repeat train rows
    argv = [
        "--train_file",
        train,
        "--validation_file",
        validation,
        "--task",
        "classification",
        "--text_column",
        "sentence",
        "--num_train_epochs",
        "1",
    ]
    with pytest.raises(
        DataError,
        match=r"3 of 40 rows of the train split have no text: row\(s\) 3, 7, 11 \(0-based, "
        r"header excluded; 3 in all\)\. Fill them in, or pass --drop_empty_rows true",
    ):
        run_finetuning(pretrained, tmp_path / "refused", *argv)
    assert not (tmp_path / "refused").exists()
    with caplog.at_level(logging.WARNING):
        results, _ = run_finetuning(pretrained, tmp_path / "dropped", *argv, "--drop_empty_rows", "true")
    assert results["data_checks"] == {"dropped_empty_rows": {"train": 3}, "overlap_with_train": {"validation": 2}}
    assert json.loads((tmp_path / "dropped" / "results.json").read_text())["data_checks"] == results["data_checks"]
    [warning] = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warning.startswith("2 of 8 validation rows repeat a training row (row(s) 6, 7 (0-based")


def test_a_malformed_json_line_is_named_by_file_and_line(pretrained, tmp_path):
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"sentence": "fine", "label": "yes"}\n{"sentence": "cut off", "label": \n{"sentence": "x"}\n')
    with pytest.raises(
        DataError,
        match=rf"{rows}, line 2: not a JSON row \(Expecting value at column 34\); fix or "
        r"remove that line",
    ):
        run_finetuning(
            pretrained,
            tmp_path / "out",
            "--train_file",
            str(rows),
            "--task",
            "classification",
            "--text_column",
            "sentence",
        )
    assert not (tmp_path / "out").exists()


# --- defaults that run, and advice that names the flag --------------------------------------------------------------


@pytest.mark.parametrize("preset", sorted(gpt_hf.PRESETS))
def test_every_preset_pretrains_with_only_its_sizes_overridden(preset, corpus, tmp_path):
    sizes = {} if preset == "tiny" else {"n_layer": 1, "n_embd": 32, "n_head": 2, "n_inner": 64, "n_positions": 32}
    argv = [
        "--config_name",
        preset,
        "--train_files",
        corpus,
        "--output_dir",
        tmp_path / preset,
        "--max_steps",
        "2",
        "--use_cpu",
        "--report_to",
        "none",
        "--disable_tqdm",
        "true",
        "--block_size",
        "32",
    ]
    if sizes:
        argv += ["--config_overrides", json.dumps(sizes)]
    assert run_pretraining([str(a) for a in argv])["steps"] == 2  # the tokenizer fills the preset's vocabulary


def test_a_vocabulary_too_small_for_the_tokenizer_names_the_flags_that_set_it(corpus, tmp_path, no_data_reads):
    argv = [
        "--config_name",
        "tiny",
        "--config_overrides",
        '{"vocab_size": 200}',
        "--train_files",
        str(corpus),
        "--output_dir",
        str(tmp_path / "out"),
        "--use_cpu",
    ]
    with pytest.raises(
        ValueError,
        match=r"The config's vocab_size \(the default of --tokenizer_vocab_size; or set "
        r"\"vocab_size\" in --config_overrides\) 200 is too small for a bytelevel "
        r"tokenizer: .* use at least 261",
    ):
        run_pretraining(argv)


@pytest.mark.parametrize("streaming", [False, True], ids=["map-style", "streaming"])
def test_one_document_per_line_gets_the_same_advice_on_both_paths(streaming, tmp_path):
    verses = tmp_path / "verses.txt"
    verses.write_text("\n".join(f"verse {i} of the one long poem" for i in range(200)))  # no blank line
    argv = ["--train_files", str(verses), "--output_dir", str(tmp_path / "out"), "--use_cpu", "--max_steps", "2"]
    with pytest.raises(
        ValueError,
        match=r"pass --validation_files, give more text, or cut it into smaller documents "
        r"\(--document_unit line, --document_separator\)",
    ):
        run_pretraining(argv + (["--streaming", "true"] if streaming else []))


# --- every check before any long work -------------------------------------------------------------------------------


def test_argument_errors_are_refused_before_any_data_is_read(
    pretrained, corpus, tmp_path, no_data_reads, capsys, caplog
):
    (tmp_path / "empty").mkdir()
    assert script_main("pretrain", flags(corpus, tmp_path / "empty", "--resume_from_checkpoint", "last")) == 2
    assert (
        script_main(
            "finetune",
            [
                "--model_name_or_path",
                pretrained,
                "--train_file",
                tmp_path / "rows.csv",
                "--task",
                "classification",
                "--output_dir",
                tmp_path / "empty",
                "--resume_from_checkpoint",
                "last",
                "--use_cpu",
            ],
        )
        == 2
    )
    assert (
        script_main("pretrain", flags(corpus, tmp_path / "new", "--tokenizer_name_or_path", tmp_path / "no-tokenizer"))
        == 2
    )
    assert script_main("push_to_hub", ["--model_dir", pretrained, "--repo_id", "me/bad name", "--dry_run"]) == 2
    other, _ = gpt_hf.data.tokenizer.train_tokenizer(
        texts=prose(9), flavour="bytelevel", vocab_size=280, show_progress=False
    )
    other.save_pretrained(tmp_path / "other-tokenizer")
    assert (
        script_main(
            "finetune",
            [
                "--model_name_or_path",
                pretrained,
                "--tokenizer_name_or_path",
                tmp_path / "other-tokenizer",
                "--train_file",
                tmp_path / "rows.csv",
                "--task",
                "classification",
                "--output_dir",
                tmp_path / "new",
                "--use_cpu",
            ],
        )
        == 2
    )
    lines = error_lines(capsys, caplog)
    assert [line.split(" ")[1] for line in lines] == [
        "--resume_from_checkpoint",
        "--resume_from_checkpoint",
        "--tokenizer_name_or_path",
        "--repo_id",
        "Tokenizer",
    ], lines
    assert "tokenizer has 280 tokens but config.vocab_size=320" in lines[-1]
    assert "no complete checkpoint in" in lines[0] and "drop the flag to start a new run" in lines[0]


# --- preemption -----------------------------------------------------------------------------------------------------


@pytest.fixture
def signal_at_step(monkeypatch):
    """Deliver a signal to this process during training step `step` (as a scheduler would, mid-run)."""

    def arm(number, step: int):
        original = GPTTrainer.training_step

        def training_step(self, *args, **kwargs):
            if self.state.global_step == step:
                signal.raise_signal(number)
            return original(self, *args, **kwargs)

        monkeypatch.setattr(GPTTrainer, "training_step", training_step)

    return arm


def test_sigterm_during_pretraining_saves_a_complete_checkpoint_and_resumes_exactly(
    corpus, tmp_path, signal_at_step, monkeypatch
):
    # `auto`: a fresh run the first time, a resumed one when the scheduler requeues the same command
    argv = flags(
        corpus,
        tmp_path / "run",
        "--max_steps",
        "10",
        "--save_steps",
        "100",
        "--disable_tqdm",
        "true",
        "--resume_from_checkpoint",
        "auto",
    )
    signal_at_step(signal.SIGTERM, 4)
    with pytest.raises(
        RunStopped,
        match=r"Stopped by SIGTERM at step 5: checkpoint-5 in .* is complete\. Resume: the "
        r"same command with --resume_from_checkpoint last \(or auto\)",
    ) as stopped:
        run_pretraining(argv)
    assert stopped.value.exit_code == 143 and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    assert (tmp_path / "run" / "checkpoint-5" / CHECKPOINT_COMPLETE).is_file()
    assert not (tmp_path / "run" / "model.safetensors").exists()  # stopped: no final model yet
    monkeypatch.undo()
    run_pretraining(argv)
    run_pretraining(
        flags(corpus, tmp_path / "straight", "--max_steps", "10", "--save_steps", "100", "--disable_tqdm", "true")
    )
    resumed, straight = (load_file(tmp_path / name / "model.safetensors") for name in ("run", "straight"))
    for key, value in straight.items():
        torch.testing.assert_close(resumed[key], value, rtol=0, atol=0, msg=key)


def test_a_stopped_run_that_replaces_a_folder_resumes_beside_it_and_swaps_only_at_the_end(
    corpus, tmp_path, signal_at_step, monkeypatch
):
    out = tmp_path / "run"
    out.mkdir()
    (out / "old-result.txt").write_text("the earlier run's")
    argv = flags(
        corpus,
        out,
        "--max_steps",
        "6",
        "--save_steps",
        "100",
        "--disable_tqdm",
        "true",
        "--overwrite_output_dir",
        "true",
    )
    signal_at_step(signal.SIGTERM, 2)
    with pytest.raises(RunStopped, match=r"checkpoint-3 in .*\.run\.replacing is complete"):
        run_pretraining(argv)
    assert sorted(p.name for p in out.iterdir()) == ["old-result.txt"]  # the old folder, as it was
    monkeypatch.undo()
    assert run_pretraining(argv + ["--resume_from_checkpoint", "last"])["steps"] == 6
    assert (out / "model.safetensors").is_file() and not (out / "old-result.txt").exists()
    assert not (tmp_path / ".run.replacing").exists()


def test_sigint_during_fine_tuning_stops_cleanly_and_resumes_exactly(pretrained, tmp_path, signal_at_step, monkeypatch):
    texts = [" ".join(document.split()[:10]) for document in prose(4, 60)]
    train = write_rows(tmp_path / "train.csv", labelled(texts[:48]))
    validation = write_rows(tmp_path / "validation.csv", labelled(texts[48:]))
    argv = [
        "--train_file",
        train,
        "--validation_file",
        validation,
        "--task",
        "classification",
        "--text_column",
        "sentence",
        "--seed",
        "3",
    ]
    signal_at_step(signal.SIGINT, 3)
    with pytest.raises(RunStopped, match="Stopped by SIGINT at step 4") as stopped:
        run_finetuning(pretrained, tmp_path / "run", *argv)
    assert stopped.value.exit_code == 130
    monkeypatch.undo()
    resumed, _ = run_finetuning(pretrained, tmp_path / "run", *argv, "--resume_from_checkpoint", "last")
    straight, _ = run_finetuning(pretrained, tmp_path / "straight", *argv)
    assert resumed["eval_loss"] == straight["eval_loss"]
    first, second = (load_file(tmp_path / name / "model.safetensors") for name in ("run", "straight"))
    for key, value in second.items():
        torch.testing.assert_close(first[key], value, rtol=0, atol=0, msg=key)


def test_sigterm_from_outside_ends_the_script_with_143_and_the_resume_line(corpus, tmp_path):
    argv = [
        sys.executable,
        str(SCRIPTS / "pretrain.py"),
        *flags(
            corpus,
            tmp_path / "run",
            "--max_steps",
            "5000",
            "--save_steps",
            "100000",
            "--logging_steps",
            "1",
            "--disable_tqdm",
            "true",
        ),
    ]
    process = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    watchdog = threading.Timer(300, process.kill)  # a run that ignored the signal fails the test, not the suite
    watchdog.start()
    try:
        lines = []
        for line in process.stdout:  # training has begun once a step is logged
            lines.append(line)
            if "'loss'" in line:
                process.send_signal(signal.SIGTERM)
                break
        lines += process.stdout.readlines()
        code = process.wait()
    finally:
        watchdog.cancel()
    assert code == 143, "".join(lines[-20:])
    [stop] = [line for line in lines if "Stopped by SIGTERM" in line]
    step = int(stop.split("at step ")[1].split(":")[0])
    assert 0 < step < 5000 and "Resume: the same command with --resume_from_checkpoint last (or auto)" in stop
    assert (tmp_path / "run" / f"checkpoint-{step}" / CHECKPOINT_COMPLETE).is_file()


# --- quiet when all is well -----------------------------------------------------------------------------------------


def test_pretrain_resume_fine_tune_and_evaluate_log_no_warning(corpus, tmp_path):
    records = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = records.append
    loggers = [logging.getLogger(name) for name in ("", "transformers", "datasets")]  # transformers': no propagation
    for logger in loggers:
        logger.addHandler(handler)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            lm = tmp_path / "lm"
            common = ["--disable_tqdm", "true", "--save_steps", "3"]
            run_pretraining(flags(corpus, lm, "--max_steps", "4", *common, overrides={"n_positions": 64}))
            run_pretraining(
                flags(
                    corpus,
                    lm,
                    "--max_steps",
                    "6",
                    "--resume_from_checkpoint",
                    "last",
                    *common,
                    overrides={"n_positions": 64},
                )
            )
            texts = [" ".join(document.split()[:10]) for document in prose(6, 40)]
            rows = write_rows(tmp_path / "rows.csv", labelled(texts))
            run_finetuning(
                lm,
                tmp_path / "classifier",
                "--train_file",
                rows,
                "--task",
                "classification",
                "--text_column",
                "sentence",
                "--num_train_epochs",
                "1",
            )
            assert (
                script_main(
                    "evaluate",
                    [
                        "--model_name_or_path",
                        lm,
                        "--perplexity_files",
                        corpus,
                        "--task_file",
                        rows,
                        "--template",
                        "{sentence} Answer:",
                        "--choices",
                        " yes",
                        " no",
                        "--num_fewshot",
                        "0",
                    ],
                )
                == 0
            )
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
    assert [f"{r.name}: {r.getMessage()[:200]}" for r in records] == []
    ours = [w for w in caught if "gpt_hf" in w.filename or "scripts" in w.filename]
    assert [f"{w.filename}:{w.lineno}: {w.message}" for w in ours] == []
