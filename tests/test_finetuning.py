"""scripts/finetune.py end to end for every task type on a tiny model, the head learning rate, the self-labelled
tasks, pipeline use, and errors raised before training."""

import csv
import json
import random
import sys
from pathlib import Path

import pytest
import torch

import gpt_hf
from gpt_hf.data.tokenizer import special_token_ids, train_tokenizer
from gpt_hf.tasks.self_labelled import self_labelled_dataset, split_sentences

from conftest import tiny_config

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import finetune as finetune_script  # noqa: E402

SUBJECTS = ["The parser", "A function", "This module", "The server", "Each thread", "The cache", "A socket"]
VERBS = ["reads", "returns", "closes", "opens", "writes", "checks", "builds"]
OBJECTS = ["the file.", "a new list.", "the next token.", "every request.", "a value.", "the stream.", "the lock."]


def prose(seed: int, documents: int = 40) -> list[str]:
    rng = random.Random(seed)
    return [
        " ".join(f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)}" for _ in range(6))
        for _ in range(documents)
    ]


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory) -> Path:
    """A randomly initialised tiny LM with a gpt_hf tokenizer, saved like a pretraining run."""
    folder = tmp_path_factory.mktemp("pretrained")
    texts = prose(0) + ["red green blue", "good bad fine great awful", "one two three four"] * 10
    tokenizer, _ = train_tokenizer(
        texts=texts, flavour="bytelevel", vocab_size=320, show_progress=False, model_max_length=64
    )
    model = gpt_hf.GPTHFForCausalLM(tiny_config(**special_token_ids(tokenizer)))
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("corpus") / "prose.txt"
    path.write_text("\n\n".join(prose(1, 60)), encoding="utf-8")  # paragraphs are documents
    return path


def write_csv(path: Path, rows: list[dict]) -> str:
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return str(path)


def run(pretrained, output_dir, *extra):
    argv = [
        "--model_name_or_path",
        str(pretrained),
        "--output_dir",
        str(output_dir),
        "--use_cpu",
        "--report_to",
        "none",
        "--num_train_epochs",
        "2",
        "--per_device_train_batch_size",
        "8",
        "--learning_rate",
        "1e-3",
        "--disable_tqdm",
        "true",
        "--logging_steps",
        "2",
        *extra,
    ]
    model_args, data_args, training_args = finetune_script.parse(argv)
    return gpt_hf.runs.finetuning.finetune(model_args, data_args, training_args), training_args


def sentiment_rows(count: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    words = {"positive": ["good", "great", "fine"], "negative": ["bad", "awful"], "neutral": ["red", "blue"]}
    rows = []
    for _ in range(count):
        label = rng.choice(sorted(words))
        rows.append(
            {
                "sentence": " ".join(rng.choice(words[label]) for _ in range(3)),
                "sentiment": label,
                "score": {"positive": 1.0, "negative": -1.0, "neutral": 0.0}[label],
            }
        )
    return rows


def test_classification_with_string_labels_saves_reloads_and_predicts(pretrained, tmp_path):
    train = write_csv(tmp_path / "train.csv", sentiment_rows(64, 0))
    dev = write_csv(tmp_path / "dev.csv", sentiment_rows(24, 1))
    test = write_csv(tmp_path / "test.csv", sentiment_rows(12, 2))
    out = tmp_path / "clf"
    results, _ = run(
        pretrained,
        out,
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
    )
    assert {"eval_accuracy", "eval_f1", "eval_mcc", "test_accuracy"} <= set(results)
    config = json.loads((out / "config.json").read_text())
    assert config["id2label"] == {"0": "negative", "1": "neutral", "2": "positive"}
    from transformers import AutoModelForSequenceClassification, pipeline

    model = AutoModelForSequenceClassification.from_pretrained(out)
    assert isinstance(model, gpt_hf.GPTHFForSequenceClassification)
    predictions = (out / "predictions_test.tsv").read_text().splitlines()
    assert predictions[0].startswith("index\ttext\tlabel\tprediction\tp_negative") and len(predictions) == 13
    assert predictions[1].split("\t")[3] in {"negative", "neutral", "positive"}
    # the saved tokenizer builds [start] text [extract] itself, so the standard pipeline works
    classifier = pipeline("text-classification", model=str(out), device="cpu")
    assert classifier("good great fine")[0]["label"] in {"negative", "neutral", "positive"}
    card = (out / "README.md").read_text()
    assert "eval_accuracy" in card and "base_model:" not in card  # a local folder is no Hub id: never a base_model
    state = json.loads(max(out.glob("checkpoint-*/trainer_state.json"), key=lambda p: p.stat().st_mtime).read_text())
    logged = [entry for entry in state["log_history"] if "task_loss" in entry]
    assert logged and all("lm_loss" in entry for entry in logged)
    # the kept model is the best by the task's metric (not the loss transformers would pick), and its epoch is told
    assert results["metric_for_best_model"] == "accuracy" and state["best_metric"] == max(
        entry["eval_accuracy"] for entry in state["log_history"] if "eval_accuracy" in entry
    )
    kept = next(entry for entry in state["log_history"] if entry.get("step") == state["best_global_step"])
    assert results["epoch"] == kept["epoch"] and results["trained_epochs"] == 2.0
    assert results["eval_accuracy"] == pytest.approx(state["best_metric"])
    assert f"kept: epoch {kept['epoch']:g}, the best by validation accuracy" in card


def test_kept_epoch_is_the_best_checkpoints_not_the_last():
    from types import SimpleNamespace

    from gpt_hf.runs.finetuning import kept_checkpoint

    state = SimpleNamespace(
        epoch=3.0,
        global_step=30,
        best_global_step=10,
        log_history=[
            {"eval_accuracy": 0.72, "epoch": 1.0, "step": 10},
            {"eval_accuracy": 0.70, "epoch": 2.0, "step": 20},
            {"eval_accuracy": 0.71, "epoch": 3.0, "step": 30},
        ],
    )
    args = SimpleNamespace(load_best_model_at_end=True, metric_for_best_model="accuracy")
    assert kept_checkpoint(state, args) == {
        "epoch": 1.0,
        "kept_step": 10,
        "trained_epochs": 3.0,
        "metric_for_best_model": "accuracy",
    }
    args.load_best_model_at_end = False
    assert kept_checkpoint(state, args)["epoch"] == 3.0


def test_regression_and_multi_label(pretrained, tmp_path):
    rows = sentiment_rows(64, 3)
    train = write_csv(tmp_path / "train.csv", rows)
    results, _ = run(
        pretrained,
        tmp_path / "reg",
        "--task",
        "regression",
        "--train_file",
        train,
        "--text_column",
        "sentence",
        "--label_column",
        "score",
    )
    assert {"eval_pearson", "eval_spearman"} <= set(results)

    multi = [
        {"text": r["sentence"], "tags": [r["sentiment"]] + (["long"] if len(r["sentence"]) > 13 else [])} for r in rows
    ]
    path = tmp_path / "multi.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in multi))
    results, _ = run(
        pretrained, tmp_path / "multi", "--task", "classification", "--train_file", str(path), "--label_column", "tags"
    )
    assert {"eval_exact_match", "eval_f1_micro"} <= set(results)
    config = json.loads((tmp_path / "multi" / "config.json").read_text())
    assert config["problem_type"] == "multi_label_classification" and len(config["id2label"]) == 4


@pytest.mark.parametrize(
    "benchmark, auto_name",
    [
        ("next_sentence", "AutoModelForSequenceClassification"),
        ("same_document", "AutoModelForSequenceClassification"),
        ("continuation", "AutoModelForMultipleChoice"),
        ("acceptability", "AutoModelForSequenceClassification"),
    ],
)
def test_self_labelled_tasks_train_save_reload_and_predict(pretrained, corpus, tmp_path, benchmark, auto_name):
    out = tmp_path / benchmark
    results, _ = run(
        pretrained,
        out,
        "--benchmark",
        benchmark,
        "--corpus_files",
        str(corpus),
        "--max_train_samples",
        "48",
        "--max_eval_samples",
        "16",
        "--num_train_epochs",
        "1",
    )
    assert "eval_accuracy" in results and "test_accuracy" in results
    import transformers

    model = getattr(transformers, auto_name).from_pretrained(out).eval()
    dataset = self_labelled_dataset(benchmark, prose(1, 60))["test"]
    transform = gpt_hf.TaskTransform(transformers.AutoTokenizer.from_pretrained(out), max_length=64)
    example = dataset[0]
    if benchmark == "continuation":
        ids = transform.multiple_choice(example["context"], example["choices"])["input_ids"]
    elif benchmark == "acceptability":
        ids = transform.classification(example["text"])["input_ids"]
    else:
        kind = "entailment" if benchmark == "next_sentence" else "similarity"
        ids = getattr(transform, kind)(example["text"], example["text_pair"])["input_ids"]
    batch = gpt_hf.TaskCollator(model.config.pad_token_id)([{"input_ids": ids}])
    with torch.no_grad():
        logits = model(**batch).logits
    assert logits.shape == (1, 4 if benchmark == "continuation" else 2)


def classifier_and_optimizer(pretrained, tmp_path, **rates):
    """A 3-class head on the tiny model and the optimizer GPTTrainer builds for it with these learning-rate options."""
    from gpt_hf.runs.finetune_arguments import FinetuneTrainingArguments
    from gpt_hf.runs.trainer import GPTTrainer

    args = FinetuneTrainingArguments(
        output_dir=str(tmp_path),
        use_cpu=True,
        report_to="none",
        eval_strategy="no",
        save_strategy="no",
        load_best_model_at_end=False,
        **rates,
    )
    model = gpt_hf.GPTHFForSequenceClassification.from_pretrained(pretrained, num_labels=3)
    return model, GPTTrainer(model=model, args=args).create_optimizer()


def test_head_gets_the_multiplied_learning_rate(pretrained, tmp_path):
    model, optimizer = classifier_and_optimizer(pretrained, tmp_path, learning_rate=1e-4, head_lr_multiplier=10.0)
    names = {id(p): n for n, p in model.named_parameters()}
    for group in optimizer.param_groups:
        group_names = {names[id(p)] for p in group["params"]}
        is_head = all(n.startswith("score.") for n in group_names)
        assert is_head or not any(n.startswith("score.") for n in group_names)
        assert group["lr"] == pytest.approx(1e-3 if is_head else 1e-4)
        assert group["weight_decay"] == (0.0 if all(n.endswith("bias") or ".ln_" in n for n in group_names) else 0.01)
    assert {n for g in optimizer.param_groups for p in g["params"] for n in [names[id(p)]]} == set(names.values())


def test_layer_lr_decay_gives_each_block_its_rate(pretrained, tmp_path):
    from gpt_hf.runs.finetune_arguments import FinetuneTrainingArguments
    from gpt_hf.runs.trainer import parameter_depths

    model, optimizer = classifier_and_optimizer(
        pretrained, tmp_path, learning_rate=1e-3, head_lr_multiplier=10.0, layer_lr_decay=0.5
    )
    n_layer = model.config.n_layer
    wrapper = torch.nn.Module()  # a wrapper's name prefixes (DDP's `module.`) do not change the depths
    wrapper.module = model
    assert parameter_depths(wrapper) == parameter_depths(model)
    rate = {id(p): group["lr"] for group in optimizer.param_groups for p in group["params"]}
    for name, parameter in model.named_parameters():
        if name.startswith("score."):
            expected = 1e-2
        elif ".h." in name:
            expected = 1e-3 * 0.5 ** (n_layer - 1 - int(name.split(".h.")[1].split(".")[0]))
        elif ".wte." in name or ".wpe." in name:
            expected = 1e-3 * 0.5**n_layer
        else:  # the final LayerNorm, at the top
            expected = 1e-3
        assert rate[id(parameter)] == pytest.approx(expected), name
    with pytest.raises(gpt_hf.errors.ArgumentError, match=r"--layer_lr_decay must be in \(0, 1\].*got 1.5"):
        FinetuneTrainingArguments(output_dir=str(tmp_path), layer_lr_decay=1.5)


def test_finetune_recipe_defaults(tmp_path):
    from gpt_hf.runs.finetune_arguments import FinetuneTrainingArguments

    args = FinetuneTrainingArguments(output_dir=str(tmp_path), use_cpu=True, report_to="none")
    assert (args.recipe, args.per_device_train_batch_size, args.warmup_steps, str(args.lr_scheduler_type.value)) == (
        "scaled",
        32,
        0.002,
        "linear",
    )
    from gpt_hf.runs.finetune_arguments import resolve_recipe

    def chosen(width, rows, recipe="scaled", **given):
        values = FinetuneTrainingArguments(
            output_dir=str(tmp_path), use_cpu=True, report_to="none", recipe=recipe, **given
        )
        return resolve_recipe(values, width, rows)

    paper = {"learning_rate": 6.25e-5, "num_train_epochs": 3.0}
    assert chosen(768, 10_000).items() >= paper.items()  # the paper's recipe at the paper's width and data size
    assert chosen(128, 10_000, recipe="paper").items() >= paper.items()
    small = chosen(128, 300)  # 128 wide: 6x the rate; 300 rows at batch 32: 10 steps an epoch -> 10 epochs
    assert small["learning_rate"] == pytest.approx(3.75e-4) and small["num_train_epochs"] == 10
    assert chosen(128, 300, learning_rate=1e-4) == {
        "recipe": "scaled",
        "learning_rate": 1e-4,
        "num_train_epochs": 10,
        "given": ["learning_rate"],
    }
    assert (args.metric_for_best_model, args.greater_is_better) == ("task", True)  # resolved to the task's metric
    model_args, _, _ = finetune_script.parse(
        ["--model_name_or_path", "x", "--benchmark", "acceptability", "--output_dir", str(tmp_path)]
    )
    assert (model_args.aux_lm_weight, model_args.classifier_dropout) == (None, 0.1)  # None: the folder's value


def test_the_folders_aux_lm_weight_is_kept_unless_given(pretrained, tmp_path):
    import shutil

    folder = tmp_path / "pretrained-aux"
    shutil.copytree(pretrained, folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "aux_lm_weight": 0.2}))
    train = write_csv(tmp_path / "train.csv", sentiment_rows(24, 2))
    common = [
        "--task",
        "classification",
        "--train_file",
        train,
        "--text_column",
        "sentence",
        "--label_column",
        "sentiment",
        "--num_train_epochs",
        "1",
    ]
    run(folder, tmp_path / "kept", *common)
    assert json.loads((tmp_path / "kept" / "config.json").read_text())["aux_lm_weight"] == 0.2
    run(folder, tmp_path / "given", *common, "--aux_lm_weight", "0")
    assert json.loads((tmp_path / "given" / "config.json").read_text())["aux_lm_weight"] == 0.0


def test_pooling_and_layer_rates_are_used_saved_and_stated(pretrained, tmp_path):
    train = write_csv(tmp_path / "train.csv", sentiment_rows(32, 3))
    test = write_csv(tmp_path / "test.csv", sentiment_rows(8, 4))
    out = tmp_path / "pooled"
    flags = ["--task", "classification", "--train_file", train, "--test_file", test, "--text_column", "sentence"]
    results, _ = run(
        pretrained,
        out,
        *flags,
        "--label_column",
        "sentiment",
        "--classifier_pooling",
        "extract+mean",
        "--layer_lr_decay",
        "0.5",
    )
    config = json.loads((out / "config.json").read_text())
    assert config["classifier_pooling"] == "extract+mean"
    from transformers import AutoModelForSequenceClassification, pipeline

    model = AutoModelForSequenceClassification.from_pretrained(out)
    assert model.score.in_features == 2 * model.config.n_embd
    assert pipeline("text-classification", model=str(out), device="cpu")("good bad")[0]["label"] in {
        "negative",
        "neutral",
        "positive",
    }
    record = results["run"]
    assert record["schedule"]["layer_lr_decay"] == 0.5
    card = (out / "README.md").read_text()
    assert "the head reads the extract token's state and the mean of the row's token states" in card
    assert "each block below the last x0.5" in card
    run(pretrained, tmp_path / "paper", *flags, "--label_column", "sentiment", "--num_train_epochs", "1")
    card = (tmp_path / "paper" / "README.md").read_text()  # the folder's pooling: the paper's extract token
    assert "the head reads the extract token's state (the paper)" in card and "each block below" not in card
    with pytest.raises(gpt_hf.errors.ArgumentError, match=r"--classifier_pooling must be one of .*got 'max'"):
        run(pretrained, tmp_path / "bad", *flags, "--label_column", "sentiment", "--classifier_pooling", "max")


def test_self_labelled_splits_share_no_sentence():
    documents = prose(5, 80) + ["The parser reads the file. The parser reads the file. A socket checks a value."]
    data = self_labelled_dataset("next_sentence", documents, seed=3)
    sentences = {split: {s for row in data[split] for s in (row["text"], row["text_pair"])} for split in data}
    assert not sentences["train"] & sentences["test"] and not sentences["train"] & sentences["validation"]
    again = self_labelled_dataset("next_sentence", documents, seed=3)
    assert list(again["test"]["text"]) == list(data["test"]["text"])
    labels = list(data["train"]["label"])
    assert 0.3 < sum(labels) / len(labels) < 0.7
    choice = self_labelled_dataset("continuation", documents, seed=3)["train"][0]
    assert len(choice["choices"]) == 4 and 0 <= choice["label"] < 4
    assert split_sentences("Hello world, it is me. And then we go home now!\n\nshort one.") == [
        "Hello world, it is me.",
        "And then we go home now!",
    ]


@pytest.mark.parametrize(
    "extra, match",
    [
        (["--task", "summarisation", "--train_file", "x.csv"], "Unknown task 'summarisation'"),
        (["--benchmark", "glue-cola"], "Unknown benchmark 'glue-cola'"),
        (
            ["--task", "classification", "--train_file", "{train}", "--label_column", "stars"],
            r"Column\(s\) \['stars'\] not in the train split",
        ),
        (
            [
                "--task",
                "classification",
                "--train_file",
                "{train}",
                "--validation_file",
                "{dev_new_label}",
                "--label_column",
                "label",
            ],
            r"validation split has labels \['surprised'\] that never occur in training",
        ),
        (
            ["--task", "entailment", "--train_file", "{train}", "--text_pair_column", "empty"],
            r"8 of 8 rows of the train split have no text: row\(s\) 0, 1, 2",
        ),
        (
            [
                "--task",
                "multiple_choice",
                "--train_file",
                "{choices}",
                "--context_column",
                "text",
                "--choice_columns",
                "options",
            ],
            r"mixes rows with \[2, 3\] choices",
        ),
        (["--task", "entailment", "--train_file", "{train}"], "needs --text_pair_column"),
        # labels: blank cells, choice indices outside the choices, non-numeric scores, one class only
        (
            ["--task", "classification", "--train_file", "{blank_labels}"],
            r"label column is blank in row\(s\) 2, 5 \(0-based, header excluded; 2 in all\) of the train split",
        ),
        (
            [
                "--task",
                "multiple_choice",
                "--train_file",
                "{choice_out_of_range}",
                "--context_column",
                "text",
                "--choice_columns",
                "options",
            ],
            r"index of the right choice \(0 to 1\); the train split has 2 in row\(s\) 1",
        ),
        (
            [
                "--task",
                "multiple_choice",
                "--train_file",
                "{choice_named}",
                "--context_column",
                "text",
                "--choice_columns",
                "options",
            ],
            r"index of the right choice \(0 to 1\); the train split has 'b'",
        ),
        (
            ["--task", "regression", "--train_file", "{train}"],
            r"Regression labels must be numbers; .* 'happy' in row 0",
        ),
        (["--task", "classification", "--train_file", "{one_class}"], r"1 distinct label\(s\) \['happy'\]"),
        (
            ["--task", "classification", "--train_file", "{train}", "--max_length", "65"],
            r"--max_length 65 exceeds the model's n_positions=64",
        ),
        (
            ["--task", "classification", "--train_file", "{train}", "--problem_type", "ranking"],
            r"--problem_type 'ranking' is not one of",
        ),
        (["--task", "classification", "--train_file", "{empty}"], r"The train file .*empty.csv is empty"),
        (
            ["--task", "classification", "--train_file", "{train}", "--validation_file", "{choices}"],
            r"Data files must share one type",
        ),
        (
            ["--task", "classification", "--train_file", "{train}", "--num_train_epochs", "0"],
            r"--num_train_epochs must be > 0",
        ),
        (
            ["--task", "classification", "--train_file", "{two_rows}"],
            r"Cannot hold out a validation split of 10% from 1 training rows",
        ),
    ],
)
def test_bad_input_is_refused_before_training(pretrained, tmp_path, extra, match):
    files = {
        "train": write_csv(
            tmp_path / "train.csv",
            [{"text": "good", "label": "happy", "empty": ""}, {"text": "bad", "label": "sad", "empty": " "}] * 4,
        ),
        "dev_new_label": write_csv(tmp_path / "dev.csv", [{"text": "wow", "label": "surprised", "empty": ""}]),
    }
    choices = tmp_path / "choices.jsonl"
    choices.write_text(
        "\n".join(json.dumps({"text": "pick", "options": opts, "label": 0}) for opts in (["a", "b"], ["a", "b", "c"]))
    )
    files["choices"] = str(choices)
    files["blank_labels"] = write_csv(
        tmp_path / "blank.csv",
        [
            {"text": t, "label": label}
            for t, label in [("a", 1), ("b", 0), ("c", ""), ("d", 1), ("e", 0), ("f", ""), ("g", 1), ("h", 0)]
        ],
    )
    for name, labels in (("choice_out_of_range", [0, 2, 1]), ("choice_named", [0, "b", 1])):
        path = tmp_path / f"{name}.jsonl"
        path.write_text(
            "\n".join(json.dumps({"text": "pick", "options": ["a", "b"], "label": label}) for label in labels)
        )
        files[name] = str(path)
    files["one_class"] = write_csv(tmp_path / "one.csv", [{"text": "good", "label": "happy"}] * 6)
    (tmp_path / "empty.csv").write_text("")
    files["empty"] = str(tmp_path / "empty.csv")
    files["two_rows"] = write_csv(tmp_path / "two.csv", [{"text": "good", "label": "happy"}])
    extra = [item.format(**files) for item in extra]
    out = tmp_path / "never"
    with pytest.raises(ValueError, match=match):
        run(pretrained, out, *extra)
    assert not out.exists()


def test_csv_string_labels_in_a_column_named_label(pretrained, tmp_path):
    rows = [
        {"text": row["sentence"], "label": {"positive": "pos", "negative": "neg", "neutral": "neu"}[row["sentiment"]]}
        for row in sentiment_rows(60, 3)
    ]
    train = write_csv(tmp_path / "train.csv", rows[:48])
    test = write_csv(tmp_path / "test.csv", [{"text": row["text"]} for row in rows[48:]])  # no labels: predict only
    results, _ = run(
        pretrained,
        tmp_path / "out",
        "--task",
        "classification",
        "--train_file",
        train,
        "--test_file",
        test,
        "--num_train_epochs",
        "1",
    )
    assert "eval_accuracy" in results and not any(key.startswith("test_accuracy") for key in results)
    predictions = (tmp_path / "out" / "predictions_test.tsv").read_text().splitlines()
    assert predictions[0] == "index\ttext\tprediction\tp_neg\tp_neu\tp_pos"  # no gold label in this test file
    assert len(predictions) == 13 and {line.split("\t")[2] for line in predictions[1:]} <= {"pos", "neg", "neu"}


def test_integer_labels_read_as_floats_are_classes_not_scores(pretrained, tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_text("\n".join(json.dumps({"text": t, "label": float(i % 2)}) for i, t in enumerate(prose(4, 24))))
    results, _ = run(
        pretrained, tmp_path / "out", "--task", "classification", "--train_file", str(path), "--num_train_epochs", "1"
    )
    config = json.loads((tmp_path / "out" / "config.json").read_text())
    assert config["problem_type"] == "single_label_classification" and "eval_accuracy" in results


def test_overwriting_replaces_the_folder_instead_of_mixing_runs(pretrained, tmp_path):
    rows = sentiment_rows(40, 5)
    train = write_csv(tmp_path / "train.csv", rows[:32])
    test = write_csv(tmp_path / "test.csv", rows[32:])
    common = [
        "--task",
        "classification",
        "--train_file",
        train,
        "--text_column",
        "sentence",
        "--label_column",
        "sentiment",
        "--num_train_epochs",
        "1",
    ]
    out = tmp_path / "out"
    run(pretrained, out, *common, "--test_file", test)
    assert (out / "predictions_test.tsv").is_file()
    (out / "notes-from-the-first-run.txt").write_text("old")
    run(pretrained, out, *common, "--overwrite_output_dir", "true")  # no test file this time
    assert not (out / "predictions_test.tsv").exists() and not (out / "notes-from-the-first-run.txt").exists()
    assert (out / "results.json").is_file() and (out / "model.safetensors").is_file()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no staging left behind
    # a run that fails leaves the old folder as it was
    with pytest.raises(ValueError, match="is empty"):
        (tmp_path / "empty.csv").write_text("")
        run(pretrained, out, *common[:2], "--train_file", str(tmp_path / "empty.csv"), "--overwrite_output_dir", "true")
    assert (out / "model.safetensors").is_file()


def test_model_and_tokenizer_folders_are_checked_first(pretrained, tmp_path):
    import shutil

    from gpt_hf.data.tokenizer import train_tokenizer

    train = write_csv(tmp_path / "train.csv", sentiment_rows(20, 1))
    common = [
        "--task",
        "classification",
        "--train_file",
        train,
        "--text_column",
        "sentence",
        "--label_column",
        "sentiment",
    ]
    broken = tmp_path / "broken"
    shutil.copytree(pretrained, broken)
    weights = broken / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(ValueError, match=r"broken/model.safetensors is incomplete or corrupt \(its tensors need"):
        run(broken, tmp_path / "out", *common)
    small, _ = train_tokenizer(texts=prose(0), flavour="bytelevel", vocab_size=270, show_progress=False)
    small.save_pretrained(tmp_path / "small-tokenizer")
    with pytest.raises(ValueError, match=r"tokenizer has 270 tokens but config.vocab_size=320: a tokenizer trained"):
        run(pretrained, tmp_path / "out", *common, "--tokenizer_name_or_path", str(tmp_path / "small-tokenizer"))
    with pytest.raises(ValueError, match=r"Model folder /nonexistent/model does not exist"):
        run("/nonexistent/model", tmp_path / "out", *common)
    assert not (tmp_path / "out").exists()


def test_transfer_layers_reinitialises_exactly_the_later_blocks(pretrained):
    import transformers

    from gpt_hf.runs.finetune_arguments import FinetuneModelArguments
    from gpt_hf.runs.finetuning import build_task_model
    from gpt_hf.tasks.prediction_kinds import LabelInfo
    from gpt_hf.tasks.types import TASK_TYPES

    tokenizer = transformers.AutoTokenizer.from_pretrained(pretrained)
    saved = gpt_hf.GPTHFForCausalLM.from_pretrained(pretrained).state_dict()
    labels = LabelInfo(problem_type="single_label_classification", num_labels=2, id2label=None)
    for keep in (0, 1, 2):
        args = FinetuneModelArguments(model_name_or_path=str(pretrained), transfer_layers=keep)
        model = build_task_model(args, TASK_TYPES["classification"], labels, tokenizer)
        for name, value in model.transformer.state_dict().items():
            pretrained_value = saved[f"transformer.{name}"]
            layer = int(name.split(".")[1]) if name.startswith("h.") else None
            if layer is not None and layer >= keep and not name.endswith((".bias", "ln_1.weight", "ln_2.weight")):
                assert not torch.equal(value, pretrained_value), (keep, name)  # re-initialised
            elif layer is None or layer < keep:
                assert torch.equal(value, pretrained_value), (keep, name)  # transferred (embeddings always)
    with pytest.raises(ValueError, match="--transfer_layers 3 exceeds the model's 2 layers; use 0 to 2"):
        build_task_model(
            FinetuneModelArguments(model_name_or_path=str(pretrained), transfer_layers=3),
            TASK_TYPES["classification"],
            labels,
            tokenizer,
        )
    with pytest.raises(ValueError, match="needs pretrained weights"):
        FinetuneModelArguments(model_name_or_path=str(pretrained), transfer_layers=1, from_scratch=True)
