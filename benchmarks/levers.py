"""Fine-tuning levers against the default recipe, on the rows of a data-efficiency study (docs/results.md,
"Levers tried"). Each variant fine-tunes the pre-trained model on the study's own training rows (train-N-SEED.jsonl),
validation and test files, seed by seed, so its score pairs with the study's default run and TF-IDF baseline.

    python benchmarks/levers.py run outputs/payoff/topic --benchmark topic --pretrained outputs/demo/pretrained \
        --variants mean layer_decay --labels 100 1000 --seeds 0 1 2 --results outputs/levers.jsonl
    python benchmarks/levers.py table outputs/levers.jsonl outputs/payoff

`run` appends one JSON line per fine-tuning run; `table` pairs them with each study's results.csv.
"""

import argparse
import csv
import json
import tempfile
import time
from pathlib import Path

from payoff import mean_and_error  # benchmarks/payoff.py, beside this file

from gpt_hf.runs.finetune_arguments import FinetuneDataArguments
from gpt_hf.studies.data_efficiency import METHODS, finetune_on_study_rows
from gpt_hf.tasks.benchmarks import BENCHMARKS

SCALED_LEARNING_RATE = 3.75e-4  # the scaled recipe's at the tiny recipe's width 128 (6.25e-5 x 768 / 128)

# name: (what it changes, model arguments, training arguments)
VARIANTS = {
    "default": ("the default recipe (a control: reproduces the study's run)", {}, {}),
    "lr_x3": ("body learning rate x3", {}, {"learning_rate": 3 * SCALED_LEARNING_RATE}),
    "lr_x3_10_epochs": (
        "body learning rate x3, 10 epochs",
        {},
        {"learning_rate": 3 * SCALED_LEARNING_RATE, "num_train_epochs": 10},
    ),
    "reinit_top_block": ("the last block re-initialised (Zhang et al. 2021)", {"transfer_layers": 3}, {}),
    "no_aux_lm": ("no auxiliary LM loss", {"aux_lm_weight": 0.0}, {}),
    "mean_pooling": ("the head reads the mean of the token states", {"classifier_pooling": "mean"}, {}),
    "extract_and_mean": (
        "the head reads the extract state and the mean, concatenated",
        {"classifier_pooling": "extract+mean"},
        {},
    ),
    "task_adaptive": (
        "continued LM training on the task's training texts first (Gururangan et al. 2020): --pretrained names the "
        "adapted model (benchmarks/levers.sh)",
        {},
        {},
    ),
    "longer_pretraining": (
        "the tiny recipe pretrained 1,800 steps instead of 1,200 (1.5x the time): --pretrained names it",
        {},
        {},
    ),
    "paper_recipe": ("--recipe paper: lr 6.25e-5, 3 epochs", {}, {"recipe": "paper"}),
    "layer_decay": (
        "layer-wise rates (ULMFiT): top block at lr x3, x0.6 per block below",
        {},
        {"learning_rate": 3 * SCALED_LEARNING_RATE, "layer_lr_decay": 0.6},
    ),
}


def run(args) -> None:
    folder = Path(args.study)
    data_args = FinetuneDataArguments(benchmark=args.benchmark, max_length=args.max_length)  # task and problem type
    files = {split: str(folder / f"{split}.jsonl") for split in ("validation", "test")}
    for variant in args.variants:
        _, model_options, recipe = VARIANTS[variant]
        for count in args.labels:
            for seed in args.seeds:
                with tempfile.TemporaryDirectory() as scratch:
                    start = time.perf_counter()
                    score = finetune_on_study_rows(
                        args.pretrained,
                        str(folder / f"train-{count}-{seed}.jsonl"),
                        files,
                        data_args,
                        seed,
                        Path(scratch) / "run",
                        use_cpu=True,
                        model_options=model_options,
                        **recipe,
                    )
                    seconds = time.perf_counter() - start
                row = {
                    "study": args.name or folder.name,
                    "variant": variant,
                    "labels": count,
                    "seed": seed,
                    "score": score,
                    "seconds": round(seconds, 1),
                }
                with open(args.results, "a", encoding="utf-8") as handle:
                    handle.write(json.dumps(row) + "\n")


def table(args) -> None:
    rows = [json.loads(line) for line in open(args.results, encoding="utf-8")]
    studies = {}
    for study in {row["study"] for row in rows}:
        with open(Path(args.studies) / study / "results.csv", newline="", encoding="utf-8") as handle:
            for line in csv.DictReader(handle):
                studies[(study, line["method"], int(line["labels"]), int(line["seed"]))] = float(line["score"])
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault((row["study"], row["variant"], row["labels"]), []).append(row)
    print("| study | variant | labels | seeds | accuracy | − default | − TF-IDF |")
    print("|---|---|---|---|---|---|---|")
    for (study, variant, count), runs in sorted(groups.items()):
        default = [r["score"] - studies[(study, METHODS[0], count, r["seed"])] for r in runs]
        tfidf = [r["score"] - studies[(study, METHODS[2], count, r["seed"])] for r in runs]
        print(
            f"| {study} | {variant} | {count} | {len(runs)} | {mean_and_error([r['score'] for r in runs]).lstrip('+')} "
            f"| {mean_and_error(default)} | {mean_and_error(tfidf)} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    runner = commands.add_parser("run", help="Fine-tune the variants on a study's rows.")
    runner.add_argument("study", help="A data-efficiency study's output folder (benchmarks/payoff.sh).")
    runner.add_argument("--benchmark", required=True, choices=sorted(BENCHMARKS))
    runner.add_argument("--pretrained", required=True, help="The study's pretrained model folder.")
    runner.add_argument("--name", help="The study's name in the results (default: the folder's).")
    runner.add_argument("--variants", nargs="+", choices=sorted(VARIANTS), required=True)
    runner.add_argument("--labels", nargs="+", type=int, default=[100, 1000])
    runner.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    runner.add_argument("--max_length", type=int, default=64)
    runner.add_argument("--results", required=True, help="JSON-lines file the runs are appended to.")
    tabler = commands.add_parser("table", help="Pair the runs with their studies' results.csv.")
    tabler.add_argument("results")
    tabler.add_argument("studies", help="The folder holding the study folders (outputs/payoff).")
    args = parser.parse_args()
    run(args) if args.command == "run" else table(args)


if __name__ == "__main__":
    main()
