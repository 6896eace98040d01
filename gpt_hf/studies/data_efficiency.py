"""The data-efficiency study: does generative pre-training pay off on *your* data, and by how much?

Unlabelled text (or a model already pretrained on it) + a labelled task (your files or a built-in task) ->
fine-tune the pretrained model and the same architecture from random weights (same tokenizer, same recipe) on
`label_counts` training rows each, for several seeds, next to a TF-IDF + logistic-regression baseline on the same
rows and the same test set. Writes `results.csv` (one row per run), `results.md` (mean ± standard error per label
count), `accuracy_vs_labels.png`, and ends with a plain verdict: does pre-training help here beyond twice the standard
error of the paired difference, and does the bag-of-words baseline beat it.
"""

import csv
import json
import logging
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ArgumentError
from ..output.paths import atomic_output_dir
from ..output.plotting import figure
from ..runs.finetune_arguments import FinetuneDataArguments, FinetuneModelArguments
from ..runs.finetuning import finetune
from ..runs.pretrain_arguments import pretrain_arguments
from ..runs.pretraining import pretrain
from ..tasks.prediction_kinds import PredictionKind
from ..tasks.rows import load_task_dataset
from . import held_out_score, study_training_args

logger = logging.getLogger(__name__)

METHODS = ("pre-trained", "from scratch", "TF-IDF + logistic regression")


@dataclass
class StudyArguments:
    output_dir: str = field(metadata={"help": "Folder for results.csv, results.md and accuracy_vs_labels.png."})
    pretrained: str | None = field(
        default=None,
        metadata={
            "help": "A gpt_hf model already pretrained on your unlabelled text (its tokenizer "
            "and architecture are used for the from-scratch runs too)."
        },
    )
    pretrain_files: list[str] | None = field(
        default=None,
        metadata={"help": "Or: unlabelled text files (globs) to pretrain on first, with --pretrain_recipe."},
    )
    pretrain_recipe: str | None = field(
        default=None,
        metadata={"help": "Pretraining recipe JSON (as scripts/pretrain.py takes), e.g. scripts/configs/tiny.json."},
    )
    label_counts: list[str] = field(
        default_factory=lambda: ["100", "1000", "all"],
        metadata={"help": "Training-set sizes to compare: numbers of labelled rows, or 'all'."},
    )
    seeds: list[int] = field(
        default_factory=lambda: [0, 1, 2],
        metadata={"help": "Seeds: each draws its own training rows and initialisation."},
    )
    learning_rate: float | None = field(default=None, metadata={"help": "Default: the fine-tuning recipe's."})
    num_train_epochs: float | None = field(default=None, metadata={"help": "Default: the fine-tuning recipe's."})
    overwrite_output_dir: bool = field(default=False, metadata={"help": "Replace a non-empty output folder."})
    use_cpu: bool = field(default=False, metadata={"help": "Train on the CPU even where a GPU is available."})

    def __post_init__(self):
        if (self.pretrained is None) == (self.pretrain_files is None):
            raise ArgumentError(
                "Give --pretrained (a pretrained folder) or --pretrain_files (text to pretrain on), exactly one."
            )
        if self.pretrain_files is not None and self.pretrain_recipe is None:
            raise ArgumentError("--pretrain_files needs --pretrain_recipe (e.g. scripts/configs/tiny.json).")
        for count in self.label_counts:
            if count != "all" and not (count.isdigit() and int(count) > 0):
                raise ArgumentError(f"--label_counts takes positive numbers or 'all', got {count!r}.")
        if not self.seeds:
            raise ArgumentError("--seeds needs at least one seed.")


def tfidf_baseline(train, test, kind: PredictionKind, num_labels: int, seed: int) -> float | None:
    """The default metric of TF-IDF (word 1-2 grams) + logistic regression on the rows' text columns; None for tasks
    it does not apply to (multiple choice, and kinds without a text baseline such as regression)."""
    if not kind.text_baseline or "choices" in train.column_names:
        return None
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    def texts(rows):
        columns = [c for c in ("context", "text", "text_pair") if c in rows.column_names]
        return [" ".join(str(row[c]) for c in columns) for row in rows]

    model = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True), LogisticRegression(max_iter=2000, random_state=seed)
    )
    model.fit(texts(train), list(train["label"]))
    metrics = kind.metrics(model.predict(texts(test)), list(test["label"]), num_labels)
    return metrics[kind.default_metric]


def _write_jsonl(rows, path: Path) -> str:
    with open(path, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row) + "\n")
    return str(path)


def run_study(study: StudyArguments, data_args: FinetuneDataArguments) -> dict:
    """Run every (label count, seed, method); returns {"rows": [...], "summary": {...}, "verdict": str}."""
    output = Path(study.output_dir)
    with atomic_output_dir(output, study.overwrite_output_dir) as work:
        pretrained = study.pretrained or _pretrain(study, work / "pretrained")
        raw, _ = load_task_dataset(data_args, seed=study.seeds[0])  # normalised columns, checked
        if "test" not in raw:  # score on held-out rows the fine-tuning never sees
            split = raw["validation"].train_test_split(test_size=0.5, seed=study.seeds[0])
            raw["validation"], raw["test"] = split["train"], split["test"]
        limits = {
            "train": data_args.max_train_samples,
            "validation": data_args.max_eval_samples,
            "test": data_args.max_test_samples,
        }
        for split, limit in limits.items():
            if limit:
                raw[split] = raw[split].select(range(min(limit, len(raw[split]))))
        counts = [len(raw["train"]) if c == "all" else min(int(c), len(raw["train"])) for c in study.label_counts]
        counts = sorted(set(counts))
        files = {split: _write_jsonl(raw[split], work / f"{split}.jsonl") for split in ("validation", "test")}
        encoded, labels = data_args.task_type.label_format.encode(raw, data_args.problem_type)  # ids, as trained
        metric = labels.kind.default_metric
        recipe = {  # the study's overrides of the fine-tuning recipe
            key: value
            for key, value in (("learning_rate", study.learning_rate), ("num_train_epochs", study.num_train_epochs))
            if value is not None
        }
        rows = []
        for count in counts:
            for seed in study.seeds:
                train = raw["train"].shuffle(seed=seed).select(range(count))
                train_file = _write_jsonl(train, work / f"train-{count}-{seed}.jsonl")
                for method, scratch in (("pre-trained", False), ("from scratch", True)):
                    score = finetune_on_study_rows(
                        pretrained,
                        train_file,
                        files,
                        data_args,
                        seed,
                        work / "runs" / f"{count}-{seed}-{int(scratch)}",
                        use_cpu=study.use_cpu,
                        model_options={"from_scratch": scratch},
                        **recipe,
                    )
                    rows.append({"labels": count, "seed": seed, "method": method, "score": score})
                baseline = tfidf_baseline(
                    encoded["train"].shuffle(seed=seed).select(range(count)),
                    encoded["test"],
                    labels.kind,
                    labels.num_labels,
                    seed,
                )
                if baseline is not None:
                    rows.append({"labels": count, "seed": seed, "method": METHODS[2], "score": baseline})
                logger.info(
                    "%d labels, seed %d: %s",
                    count,
                    seed,
                    [f"{r['method']} {r['score']:.3f}" for r in rows[-3:] if r["labels"] == count],
                )
        summary = summarise(rows)
        verdict = verdict_line(rows, metric)
        _write_outputs(work, rows, summary, verdict, metric)
    logger.info(verdict)
    return {"rows": rows, "summary": summary, "verdict": verdict}


def _pretrain(study: StudyArguments, folder: Path) -> str:
    pretrain(
        *pretrain_arguments(
            study.pretrain_recipe,
            train_files=study.pretrain_files,
            output_dir=str(folder),
            overwrite_output_dir=True,
            report_to="none",
            sample_prompt="",
        )
    )
    return str(folder)


def finetune_on_study_rows(
    pretrained: str,
    train_file: str,
    files: dict,
    data_args,
    seed: int,
    output_dir: Path,
    *,
    use_cpu: bool = False,
    model_options: dict | None = None,
    **recipe,
) -> float:
    """One fine-tuning run on a study's files (normalised columns: `train_file`, `files['validation']`,
    `files['test']`) with the default recipe, or `recipe`'s training arguments and `model_options`' model arguments
    on top; the test score by the task's metric. benchmarks/levers.py runs its variants through it too."""
    inputs = data_args.task_type.inputs
    columns = dict(
        label_column="label",
        text_pair_column="text_pair" if "text_pair" in inputs else None,
        context_column="context" if "context" in inputs else None,
        choice_columns=["choices"] if "choices" in inputs else None,
    )
    results = finetune(
        FinetuneModelArguments(model_name_or_path=pretrained, **(model_options or {})),
        FinetuneDataArguments(
            task=data_args.task,
            train_file=train_file,
            validation_file=files["validation"],
            test_file=files["test"],
            max_length=data_args.max_length,
            problem_type=data_args.problem_type,
            **columns,
        ),
        study_training_args(output_dir, seed, use_cpu, **recipe),
    )
    return held_out_score(results)


def summarise(rows: list[dict]) -> dict:
    """{(labels, method): (mean, standard error of the mean over seeds, runs)}."""
    groups: dict[tuple[int, str], list[float]] = {}
    for row in rows:
        groups.setdefault((row["labels"], row["method"]), []).append(row["score"])
    return {key: (statistics.mean(v), _standard_error(v), len(v)) for key, v in groups.items()}


def _standard_error(values: list[float]) -> float:
    return statistics.stdev(values) / len(values) ** 0.5 if len(values) > 1 else 0.0


def paired_differences(rows: list[dict], count: int, first: str, second: str) -> list[float]:
    """`first` minus `second` at `count` labels, seed by seed (both saw the same training rows and test set)."""
    by_seed = {(row["method"], row["seed"]): row["score"] for row in rows if row["labels"] == count}
    seeds = sorted({seed for method, seed in by_seed if method == first})
    return [by_seed[(first, seed)] - by_seed[(second, seed)] for seed in seeds if (second, seed) in by_seed]


def verdict_line(rows: list[dict], metric: str) -> str:
    """Per label count, pre-trained minus from scratch and minus the TF-IDF baseline in points, each with the
    standard error of the paired difference (seed by seed); a gain counts when it exceeds twice that error, and a
    baseline that scores higher than the pre-trained model is said so."""
    parts, helps, baseline_wins = [], [], []
    for count in sorted({row["labels"] for row in rows}):
        gain = paired_differences(rows, count, METHODS[0], METHODS[1])
        mean, error = 100 * statistics.mean(gain), 100 * _standard_error(gain)
        helps.append(mean > 2 * error)
        part = f"{mean:+.1f} ± {error:.1f} points at {count} labels"
        versus = paired_differences(rows, count, METHODS[0], METHODS[2])
        if versus:
            margin, margin_error = 100 * statistics.mean(versus), 100 * _standard_error(versus)
            part += f" ({margin:+.1f} ± {margin_error:.1f} vs TF-IDF)"
            if margin < 0:
                baseline_wins.append(f"{count} labels")
        parts.append(part)
    if all(helps):
        head = "Pre-training helps on this data at every label count"
    elif any(helps):
        head = "Pre-training helps on this data at some label counts only"
    else:
        head = "Pre-training does not help on this data beyond twice the standard error"
    line = f"Verdict ({metric}, pre-trained minus from scratch, ± the paired difference's standard error): {head}: "
    line += "; ".join(parts) + "."
    if baseline_wins:
        line += (
            f" The TF-IDF + logistic regression baseline scores higher than the pre-trained model at "
            f"{', '.join(baseline_wins)}: on this data, at that many labels, a bag of words is the better pick."
        )
    return line


def _write_outputs(folder: Path, rows: list[dict], summary: dict, verdict: str, metric: str) -> None:
    with open(folder / "results.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["labels", "seed", "method", "score"])
        writer.writeheader()
        writer.writerows(rows)
    methods = [m for m in METHODS if any(method == m for _, method in summary)]
    counts = sorted({labels for labels, _ in summary})
    lines = ["| labels | " + " | ".join(f"{m} ({metric}, %)" for m in methods) + " |", "|---|" + "---|" * len(methods)]
    for count in counts:
        cells = [
            f"{100 * summary[(count, m)][0]:.1f} ± {100 * summary[(count, m)][1]:.1f}"
            if (count, m) in summary
            else "n/a"
            for m in methods
        ]
        lines.append(f"| {count} | " + " | ".join(cells) + " |")
    runs = max(runs for _, _, runs in summary.values())
    lines.append(f"\nMean ± standard error of the mean over {runs} seeds.")
    (folder / "results.md").write_text("\n".join(lines) + f"\n\n{verdict}\n", encoding="utf-8")
    plot_scores(summary, methods, counts, metric, folder / "accuracy_vs_labels.png")


def plot_scores(summary: dict, methods: list[str], counts: list[int], metric: str, path: Path) -> None:
    with figure(path, (5.5, 3.8)) as axes:
        draw_scores(axes, summary, methods, counts, metric, "Pre-training vs labels alone")


def draw_scores(axes, summary: dict, methods, counts, metric: str, title: str) -> None:
    """Each method's test score against the labelled rows (log scale), mean ± standard error over seeds."""
    for method in methods:
        points = [(c, *summary[(c, method)][:2]) for c in counts if (c, method) in summary]
        axes.errorbar(
            [p[0] for p in points],
            [100 * p[1] for p in points],
            yerr=[100 * p[2] for p in points],
            marker="o",
            capsize=3,
            label=method,
        )
    axes.set_xscale("log")
    axes.set_xlabel("labelled training rows")
    axes.set_ylabel(f"test {metric} (%)")
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
