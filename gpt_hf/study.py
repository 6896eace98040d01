"""The data-efficiency study: does generative pre-training pay off on *your* data, and by how much?

Unlabelled text (or a model already pretrained on it) + a labelled task (your files or a built-in task) ->
fine-tune the pretrained model and the same architecture from random weights (same tokenizer, same recipe) on
`label_counts` training rows each, for several seeds, next to a TF-IDF + logistic-regression baseline on the same
rows and the same test set. Writes `results.csv` (one row per run), `results.md` (mean ± spread per label count),
`accuracy_vs_labels.png`, and ends with a plain verdict: does pre-training help here beyond the seed spread.
"""

import csv
import json
import logging
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from .finetuning import FinetuneDataArguments, FinetuneModelArguments, FinetuneTrainingArguments, finetune, \
    load_task_dataset
from .labels import encode_labels
from .metrics import compute_task_metrics, default_metric
from .saving import atomic_output_dir

logger = logging.getLogger(__name__)

METHODS = ("pre-trained", "from scratch", "TF-IDF + logistic regression")


@dataclass
class StudyArguments:
    output_dir: str = field(metadata={"help": "Folder for results.csv, results.md and accuracy_vs_labels.png."})
    pretrained: str | None = field(
        default=None, metadata={"help": "A gpt_hf model already pretrained on your unlabelled text (its tokenizer "
                                        "and architecture are used for the from-scratch runs too)."})
    pretrain_files: list[str] | None = field(
        default=None, metadata={"help": "Or: unlabelled text files (globs) to pretrain on first, with "
                                        "--pretrain_recipe."})
    pretrain_recipe: str | None = field(
        default=None, metadata={"help": "Pretraining recipe JSON (as scripts/pretrain.py takes), e.g. "
                                        "scripts/configs/tiny.json."})
    label_counts: list[str] = field(
        default_factory=lambda: ["100", "1000", "all"],
        metadata={"help": "Training-set sizes to compare: numbers of labelled rows, or 'all'."})
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2],
                             metadata={"help": "Seeds: each draws its own training rows and initialisation."})
    learning_rate: float | None = field(default=None, metadata={"help": "Default: the fine-tuning recipe's."})
    num_train_epochs: float | None = field(default=None, metadata={"help": "Default: the fine-tuning recipe's."})
    overwrite_output_dir: bool = field(default=False, metadata={"help": "Replace a non-empty output folder."})

    def __post_init__(self):
        if (self.pretrained is None) == (self.pretrain_files is None):
            raise ValueError("Give --pretrained (a pretrained folder) or --pretrain_files (text to pretrain on), "
                             "exactly one.")
        if self.pretrain_files is not None and self.pretrain_recipe is None:
            raise ValueError("--pretrain_files needs --pretrain_recipe (e.g. scripts/configs/tiny.json).")
        for count in self.label_counts:
            if count != "all" and not (count.isdigit() and int(count) > 0):
                raise ValueError(f"--label_counts takes positive numbers or 'all', got {count!r}.")
        if not self.seeds:
            raise ValueError("--seeds needs at least one seed.")


def _training_args(output_dir: Path, seed: int, **recipe) -> FinetuneTrainingArguments:
    """What every fine-tuning run of a study shares: CPU, no logging, the seed for data and weights, one checkpoint."""
    return FinetuneTrainingArguments(output_dir=str(output_dir), use_cpu=True, report_to="none", seed=seed,
                                     data_seed=seed, save_total_limit=1, disable_tqdm=True, overwrite_output_dir=True,
                                     **recipe)


def held_out_score(results: dict) -> float:
    """The test score by the metric that picked the kept checkpoint (the task's own, by default)."""
    return results[f"test_{results['metric_for_best_model']}"]


def tfidf_baseline(train, test, kind: str, num_labels: int, seed: int) -> float | None:
    """The default metric of TF-IDF (word 1-2 grams) + logistic regression on the rows' text columns; None for tasks
    it does not apply to (multiple choice, regression)."""
    if kind != "classification" or "choices" in train.column_names:
        return None
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    def texts(rows):
        columns = [c for c in ("context", "text", "text_pair") if c in rows.column_names]
        return [" ".join(str(row[c]) for c in columns) for row in rows]

    model = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
                          LogisticRegression(max_iter=2000, random_state=seed))
    model.fit(texts(train), list(train["label"]))
    metrics = compute_task_metrics(kind, model.predict(texts(test)), list(test["label"]), num_labels)
    return metrics[default_metric(kind)]


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
        limits = {"train": data_args.max_train_samples, "validation": data_args.max_eval_samples,
                  "test": data_args.max_eval_samples}
        for split, limit in limits.items():
            if limit:
                raw[split] = raw[split].select(range(min(limit, len(raw[split]))))
        counts = [len(raw["train"]) if c == "all" else min(int(c), len(raw["train"])) for c in study.label_counts]
        counts = sorted(set(counts))
        files = {split: _write_jsonl(raw[split], work / f"{split}.jsonl") for split in ("validation", "test")}
        encoded, labels = encode_labels(raw, data_args.task_type.labels, data_args.problem_type)  # ids, as trained
        metric = default_metric(labels.kind)
        rows = []
        for count in counts:
            for seed in study.seeds:
                train = raw["train"].shuffle(seed=seed).select(range(count))
                train_file = _write_jsonl(train, work / f"train-{count}-{seed}.jsonl")
                for method, scratch in (("pre-trained", False), ("from scratch", True)):
                    score = _finetune_once(pretrained, scratch, train_file, files, data_args, study, seed,
                                           work / "runs" / f"{count}-{seed}-{int(scratch)}")
                    rows.append({"labels": count, "seed": seed, "method": method, "score": score})
                baseline = tfidf_baseline(encoded["train"].shuffle(seed=seed).select(range(count)),
                                          encoded["test"], labels.kind, labels.num_labels, seed)
                if baseline is not None:
                    rows.append({"labels": count, "seed": seed, "method": METHODS[2], "score": baseline})
                logger.info("%d labels, seed %d: %s", count, seed, [f"{r['method']} {r['score']:.3f}"
                                                                    for r in rows[-3:] if r["labels"] == count])
        summary = summarise(rows)
        verdict = verdict_line(summary, metric)
        _write_outputs(work, rows, summary, verdict, metric)
    logger.info(verdict)
    return {"rows": rows, "summary": summary, "verdict": verdict}


def _pretrain(study: StudyArguments, folder: Path) -> str:
    from .cli import parse_arguments
    from .pretraining import PretrainDataArguments, pretrain
    from .training import GPTTrainingArguments, ModelArguments

    arguments = parse_arguments((ModelArguments, PretrainDataArguments, GPTTrainingArguments), [study.pretrain_recipe],
                                train_files=study.pretrain_files, output_dir=str(folder), overwrite_output_dir=True,
                                report_to="none", sample_prompt="")
    pretrain(*arguments)
    return str(folder)


def _finetune_once(pretrained: str, scratch: bool, train_file: str, files: dict, data_args, study, seed: int,
                   output_dir: Path) -> float:
    """One fine-tuning run with the default recipe (or the study's overrides); the test score by the task's metric."""
    inputs = data_args.task_type.inputs  # the study's files hold the normalised columns
    columns = dict(label_column="label", text_pair_column="text_pair" if "text_pair" in inputs else None,
                   context_column="context" if "context" in inputs else None,
                   choice_columns=["choices"] if "choices" in inputs else None)
    recipe = {key: value for key, value in (("learning_rate", study.learning_rate),
                                            ("num_train_epochs", study.num_train_epochs)) if value is not None}
    results = finetune(
        FinetuneModelArguments(model_name_or_path=pretrained, from_scratch=scratch),
        FinetuneDataArguments(task=data_args.task, train_file=train_file, validation_file=files["validation"],
                              test_file=files["test"], max_length=data_args.max_length,
                              problem_type=data_args.problem_type, **columns),
        _training_args(output_dir, seed, **recipe),
    )
    return held_out_score(results)


def summarise(rows: list[dict]) -> dict:
    """{(labels, method): (mean, standard deviation over seeds, runs)}."""
    groups: dict[tuple[int, str], list[float]] = {}
    for row in rows:
        groups.setdefault((row["labels"], row["method"]), []).append(row["score"])
    return {key: (statistics.mean(v), statistics.stdev(v) if len(v) > 1 else 0.0, len(v)) for key, v in groups.items()}


def verdict_line(summary: dict, metric: str) -> str:
    """Per label count, pre-trained minus from-scratch in points, called a gain only when it exceeds the sum of the
    two seed spreads (standard deviations)."""
    parts, helps = [], []
    for count in sorted({labels for labels, _ in summary}):
        pre, scratch = summary[(count, METHODS[0])], summary[(count, METHODS[1])]
        gain, spread = 100 * (pre[0] - scratch[0]), 100 * (pre[1] + scratch[1])
        helps.append(gain > spread)
        baseline = summary.get((count, METHODS[2]))
        versus = f", {100 * (pre[0] - baseline[0]):+.1f} vs TF-IDF" if baseline else ""
        parts.append(f"{gain:+.1f} points at {count} labels (seed spread {spread:.1f}{versus})")
    if all(helps):
        head = "Pre-training helps on this data at every label count"
    elif any(helps):
        head = "Pre-training helps on this data at some label counts only"
    else:
        head = "Pre-training does not help on this data beyond the seed spread"
    return f"Verdict ({metric}, pre-trained minus from scratch): {head}: " + "; ".join(parts) + "."


def _write_outputs(folder: Path, rows: list[dict], summary: dict, verdict: str, metric: str) -> None:
    with open(folder / "results.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["labels", "seed", "method", "score"])
        writer.writeheader()
        writer.writerows(rows)
    methods = [m for m in METHODS if any(method == m for _, method in summary)]
    counts = sorted({labels for labels, _ in summary})
    lines = [f"| labels | " + " | ".join(f"{m} ({metric}, %)" for m in methods) + " |",
             "|---|" + "---|" * len(methods)]
    for count in counts:
        cells = [f"{100 * summary[(count, m)][0]:.1f} ± {100 * summary[(count, m)][1]:.1f}"
                 if (count, m) in summary else "n/a" for m in methods]
        lines.append(f"| {count} | " + " | ".join(cells) + " |")
    (folder / "results.md").write_text("\n".join(lines) + f"\n\n{verdict}\n", encoding="utf-8")
    plot_scores(summary, methods, counts, metric, folder / "accuracy_vs_labels.png")


def plot_scores(summary: dict, methods: list[str], counts: list[int], metric: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(5.5, 3.8))
    for method in methods:
        points = [(c, *summary[(c, method)][:2]) for c in counts if (c, method) in summary]
        axes.errorbar([p[0] for p in points], [100 * p[1] for p in points], yerr=[100 * p[2] for p in points],
                      marker="o", capsize=3, label=method)
    axes.set_xscale("log")
    axes.set_xlabel("labelled training rows")
    axes.set_ylabel(f"test {metric} (%)")
    axes.set_title("Pre-training vs labels alone")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


# --- the paper's Figure 2, in small --------------------------------------------------------------------------------


def layer_transfer_curve(pretrained: str, benchmarks: list[str], seeds: list[int], work: Path,
                         **recipe) -> list[dict]:
    """Figure 2 (left): test metric of fine-tuning with the embeddings and the first n blocks transferred (the rest
    re-initialised), for n = 0 … n_layer, on built-in tasks; one row per (task, n, seed)."""
    from .configuration_gpt_hf import GPTHFConfig

    n_layer = GPTHFConfig.from_pretrained(pretrained).n_layer
    rows = []
    for benchmark in benchmarks:
        for layers in range(n_layer + 1):
            for seed in seeds:
                results = finetune(
                    FinetuneModelArguments(model_name_or_path=pretrained, transfer_layers=layers),
                    FinetuneDataArguments(benchmark=benchmark, **{k: v for k, v in recipe.items() if k in (
                        "max_train_samples", "max_eval_samples", "max_length")}),
                    _training_args(work / f"{benchmark}-{layers}-{seed}", seed, **{
                        k: v for k, v in recipe.items() if k in ("learning_rate", "num_train_epochs")}))
                rows.append({"task": benchmark, "layers": layers, "seed": seed, "score": held_out_score(results)})
                logger.info("Figure 2 left: %s, %d layers, seed %d: %.3f", benchmark, layers, seed, rows[-1]["score"])
    return rows


def zero_shot_curve(pretrained: str, max_examples: int = 300) -> list[dict]:
    """Figure 2 (right): zero-shot performance of the checkpoints a pretraining run saved, by step (step 0: the
    same architecture at its random initialisation); one row per (step, measure)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    from .checkpoints import checkpoint_step, complete_checkpoints
    from .evaluation import EvaluationArguments, run_evaluation

    checkpoints = complete_checkpoints(pretrained)
    if not checkpoints:
        raise ValueError(f"{pretrained} holds no complete checkpoint-N folder; pretrain with --save_steps and no "
                         "--save_total_limit to keep the checkpoints along the way.")
    tokenizer = AutoTokenizer.from_pretrained(pretrained)
    args = EvaluationArguments(model_name_or_path=pretrained, num_fewshot=[0], max_examples=max_examples)
    rows = []
    torch.manual_seed(0)
    initial = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(checkpoints[0]))
    for step, model in [(0, initial), *((checkpoint_step(c), c) for c in checkpoints)]:
        if not isinstance(model, torch.nn.Module):
            model = AutoModelForCausalLM.from_pretrained(model)
        results = run_evaluation(model.eval(), tokenizer, args)
        rows += [{"step": step, "measure": "continuation (0-shot acc_norm)",
                  "score": results["continuation/0-shot"]["acc_norm"]},
                 {"step": step, "measure": "acceptability (GPT-1 threshold heuristic)",
                  "score": results["acceptability/gpt1_threshold_zero_shot"]["acc"]},
                 {"step": step, "measure": "acceptability (0-shot yes/no)", "score": results["acceptability/0-shot"]["acc"]},
                 {"step": step, "measure": "validation perplexity", "score": results["perplexity"]["perplexity"]}]
        logger.info("Figure 2 right: step %d: %s", step, {r["measure"]: round(r["score"], 3) for r in rows[-4:]})
    return rows


def plot_figure2(transfer: list[dict], zero_shot: list[dict], path: Path) -> None:
    """Both panels side by side, as in the paper (means over seeds on the left)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    for task in dict.fromkeys(r["task"] for r in transfer):
        layers = sorted({r["layers"] for r in transfer if r["task"] == task})
        means = [100 * statistics.mean(r["score"] for r in transfer if r["task"] == task and r["layers"] == n)
                 for n in layers]
        left.plot(layers, means, marker="o", label=task)
    left.set_xlabel("pre-trained layers transferred")
    left.set_ylabel("fine-tuned test accuracy (%)")
    left.set_title("Transfer: embeddings + first n layers")
    left.legend()
    for measure in dict.fromkeys(r["measure"] for r in zero_shot if "perplexity" not in r["measure"]):
        points = [(r["step"], 100 * r["score"]) for r in zero_shot if r["measure"] == measure]
        right.plot(*zip(*points), marker="o", label=measure)
    right.set_xlabel("pre-training steps")
    right.set_ylabel("zero-shot accuracy (%)")
    right.set_title("Zero-shot behaviour during pre-training")
    right.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


# --- the default fine-tuning recipe against a learning-rate grid ------------------------------------------------------


def recipe_grid(pretrained: list[str], benchmarks: list[str], learning_rates: list[float], seeds: list[int],
                train_samples: int, eval_samples: int, work: Path, rows_file: Path | None = None) -> list[dict]:
    """Fine-tune every pretrained folder on every built-in task with the default recipe and with each learning rate
    of the grid (everything else the recipe's), and from scratch with the default recipe; one row per run. With
    `rows_file` (JSON lines), runs already recorded there are not run again and new ones are appended as they finish,
    so a grid can be extended with more seeds or learning rates, or resumed after an interruption."""
    from .configuration_gpt_hf import GPTHFConfig

    finished = {_grid_cell(row): row for row in read_grid_rows(rows_file)} if rows_file else {}
    rows = []
    for folder in pretrained:
        config = GPTHFConfig.from_pretrained(folder)
        size = f"{config.n_layer}x{config.n_embd}"
        variants = [("default", None, False), *((f"lr {lr:g}", lr, False) for lr in learning_rates),
                    ("default, from scratch", None, True)]
        for benchmark in benchmarks:
            for name, learning_rate, scratch in variants:
                for seed in seeds:
                    cell = (size, benchmark, name, seed, train_samples, eval_samples)
                    if cell in finished:
                        rows.append(finished[cell])
                        continue
                    results = finetune(
                        FinetuneModelArguments(model_name_or_path=folder, from_scratch=scratch),
                        FinetuneDataArguments(benchmark=benchmark, max_train_samples=train_samples,
                                              max_eval_samples=eval_samples, max_length=64),
                        _training_args(work / f"{size}-{benchmark}-{name}-{seed}", seed,
                                       learning_rate=learning_rate))
                    rows.append({"size": size, "task": benchmark, "variant": name, "seed": seed,
                                 "train_samples": train_samples, "eval_samples": eval_samples,
                                 "learning_rate": results["recipe"]["learning_rate"],
                                 "epochs": results["recipe"]["num_train_epochs"],
                                 "score": held_out_score(results)})
                    logger.info("Recipe grid: %s", rows[-1])
                    if rows_file:
                        with open(rows_file, "a") as file:
                            file.write(json.dumps(rows[-1]) + "\n")
    return rows


def _grid_cell(row: dict) -> tuple:
    return row["size"], row["task"], row["variant"], row["seed"], row["train_samples"], row["eval_samples"]


def read_grid_rows(rows_file: Path) -> list[dict]:
    """The runs recorded in a recipe grid's rows file (none if it does not exist yet)."""
    if not Path(rows_file).exists():
        return []
    rows = []
    for number, line in enumerate(Path(rows_file).read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
            _grid_cell(rows[-1])
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(f"{rows_file}, line {number}, is not a recipe grid run ({error}): {line[:80]!r}. Give "
                             "--rows_file a file written by scripts/recipe_grid.py, or a new path.") from None
    return rows


def _grid_variants(rows: list[dict]) -> dict[tuple, dict[str, dict]]:
    """(size, task) -> variant -> its learning rate, epochs and {seed: score %}; variants in table order: the
    default, the grid by learning rate, from scratch."""
    groups = {key: {} for key in dict.fromkeys((r["size"], r["task"]) for r in rows)}  # in the rows' order
    for row in sorted(rows, key=lambda r: (r["variant"].endswith("scratch"), r["variant"] != "default",
                                           r["learning_rate"])):
        variant = groups[row["size"], row["task"]].setdefault(
            row["variant"], {"learning_rate": row["learning_rate"], "epochs": row["epochs"], "scores": {}})
        variant["scores"][row["seed"]] = 100 * row["score"]
    return groups


def recipe_table(rows: list[dict]) -> str:
    """Markdown: per (size, task), the mean test score of each variant (default, the grid by learning rate, from
    scratch), and the default's distance to the best of the grid, paired by seed: the best mean of several noisy
    means is optimistic, so the table gives the standard error of the per-seed differences beside it."""
    lines = ["| size | task | variant | learning rate | epochs | seeds | test score (%) |",
             "|---|---|---|---|---|---|---|"]
    for (size, task), variants in _grid_variants(rows).items():
        scores = {name: variant["scores"] for name, variant in variants.items()}
        for name, variant in variants.items():
            by_seed = scores[name]
            spread = statistics.stdev(by_seed.values()) if len(by_seed) > 1 else 0.0
            lines.append(f"| {size} | {task} | {name} | {variant['learning_rate']:.3g} | {variant['epochs']:g} | "
                         f"{len(by_seed)} | {statistics.mean(by_seed.values()):.1f} ± {spread:.1f} |")
        if "default" not in scores:
            continue
        best = max((v for v in scores if not v.endswith("scratch")), key=lambda v: statistics.mean(scores[v].values()))
        seeds = sorted(scores["default"].keys() & scores[best].keys())
        differences = [scores["default"][seed] - scores[best][seed] for seed in seeds]
        error = statistics.stdev(differences) / len(differences) ** 0.5 if len(differences) > 1 else 0.0
        lines.append(f"| {size} | {task} | **default − best of grid** ({best}) | | | {len(seeds)} paired | "
                     f"**{statistics.mean(differences):+.1f}** ± {error:.1f} s.e. |")
    return "\n".join(lines)


def plot_recipe_grid(rows: list[dict], path: Path) -> None:
    """Test score against the learning rate, one line per (size, task), mean ± spread over seeds; the default
    recipe's learning rate starred, from scratch (default recipe) dotted."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(8.4, 4))
    for (size, task), variants in _grid_variants(rows).items():
        grid = [variant for name, variant in variants.items() if name.startswith("lr ")]
        scores = [list(variant["scores"].values()) for variant in grid]
        line = axis.errorbar([variant["learning_rate"] for variant in grid], [statistics.mean(s) for s in scores],
                             yerr=[statistics.stdev(s) if len(s) > 1 else 0.0 for s in scores],
                             marker="o", capsize=3, label=f"{size} {task}")
        colour = line[0].get_color()
        if "default" in variants:
            axis.plot(variants["default"]["learning_rate"], statistics.mean(variants["default"]["scores"].values()),
                      marker="*", markersize=16, color=colour, linestyle="none", label=f"{size} default recipe")
        for name, variant in variants.items():
            if name.endswith("scratch"):
                axis.axhline(statistics.mean(variant["scores"].values()), color=colour, linestyle=":",
                             label=f"{size} from scratch")
    axis.set_xscale("log")
    axis.set_xlabel("fine-tuning learning rate (body; the head x10)")
    axis.set_ylabel("test score (%)")
    axis.set_title("The default recipe against a learning-rate grid")
    axis.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
