"""Is the default fine-tuning recipe good at every model size? The default ('scaled') recipe against a learning-rate
grid (everything else the recipe's) and from scratch, on built-in tasks, for each pretrained folder, with a table of
the default's distance to the best of the grid, paired by seed, and a plot (docs/results.md, "Fine-tuning defaults").
"""

import json
import logging
import statistics
from pathlib import Path

from ..errors import DataError
from ..model.configuration_gpt_hf import GPTHFConfig
from ..output.plotting import figure
from ..runs.finetune_arguments import FinetuneDataArguments, FinetuneModelArguments, FinetuneTrainingArguments
from ..runs.finetuning import finetune
from . import held_out_score, study_training_args

logger = logging.getLogger(__name__)

HEAD_LR_MULTIPLIER = FinetuneTrainingArguments.__dataclass_fields__["head_lr_multiplier"].default  # the plot's label


def recipe_grid(
    pretrained: list[str],
    benchmarks: list[str],
    learning_rates: list[float],
    seeds: list[int],
    train_samples: int,
    eval_samples: int,
    work: Path,
    rows_file: Path | None = None,
    *,
    max_length: int = 64,
    use_cpu: bool = False,
) -> list[dict]:
    """Fine-tune every pretrained folder on every built-in task with the default recipe and with each learning rate
    of the grid (everything else the recipe's), and from scratch with the default recipe; one row per run. With
    `rows_file` (JSON lines), runs already recorded there are not run again and new ones are appended as they finish,
    so a grid can be extended with more seeds or learning rates, or resumed after an interruption."""
    finished = {_grid_cell(row): row for row in read_grid_rows(rows_file)} if rows_file else {}
    rows = []
    for folder in pretrained:
        config = GPTHFConfig.from_pretrained(folder)
        size = f"{config.n_layer}x{config.n_embd}"
        variants = [
            ("default", None, False),
            *((f"lr {lr:g}", lr, False) for lr in learning_rates),
            ("default, from scratch", None, True),
        ]
        for benchmark in benchmarks:
            for name, learning_rate, scratch in variants:
                for seed in seeds:
                    cell = (size, benchmark, name, seed, train_samples, eval_samples)
                    if cell in finished:
                        rows.append(finished[cell])
                        continue
                    results = finetune(
                        FinetuneModelArguments(model_name_or_path=folder, from_scratch=scratch),
                        FinetuneDataArguments(
                            benchmark=benchmark,
                            max_train_samples=train_samples,
                            max_eval_samples=eval_samples,
                            max_test_samples=eval_samples,
                            max_length=max_length,
                        ),
                        study_training_args(
                            work / f"{size}-{benchmark}-{name}-{seed}", seed, use_cpu, learning_rate=learning_rate
                        ),
                    )
                    rows.append(
                        {
                            "size": size,
                            "task": benchmark,
                            "variant": name,
                            "seed": seed,
                            "train_samples": train_samples,
                            "eval_samples": eval_samples,
                            "learning_rate": results["recipe"]["learning_rate"],
                            "epochs": results["recipe"]["num_train_epochs"],
                            "score": held_out_score(results),
                        }
                    )
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
            raise DataError(
                f"{rows_file}, line {number}, is not a recipe grid run ({error}): {line[:80]!r}. Give "
                "--rows_file a file written by scripts/recipe_grid.py, or a new path."
            ) from None
    return rows


def _grid_variants(rows: list[dict]) -> dict[tuple, dict[str, dict]]:
    """(size, task) -> variant -> its learning rate, epochs and {seed: score %}; variants in table order: the
    default, the grid by learning rate, from scratch."""
    groups = {key: {} for key in dict.fromkeys((r["size"], r["task"]) for r in rows)}  # in the rows' order
    for row in sorted(
        rows, key=lambda r: (r["variant"].endswith("scratch"), r["variant"] != "default", r["learning_rate"])
    ):
        variant = groups[row["size"], row["task"]].setdefault(
            row["variant"], {"learning_rate": row["learning_rate"], "epochs": row["epochs"], "scores": {}}
        )
        variant["scores"][row["seed"]] = 100 * row["score"]
    return groups


def recipe_table(rows: list[dict]) -> str:
    """Markdown: per (size, task), the mean test score of each variant (default, the grid by learning rate, from
    scratch), and the default's distance to the best of the grid, paired by seed: the best mean of several noisy
    means is optimistic, so the table gives the standard error of the per-seed differences beside it."""
    lines = [
        "| size | task | variant | learning rate | epochs | seeds | test score (%) |",
        "|---|---|---|---|---|---|---|",
    ]
    for (size, task), variants in _grid_variants(rows).items():
        scores = {name: variant["scores"] for name, variant in variants.items()}
        for name, variant in variants.items():
            by_seed = scores[name]
            spread = statistics.stdev(by_seed.values()) if len(by_seed) > 1 else 0.0
            lines.append(
                f"| {size} | {task} | {name} | {variant['learning_rate']:.3g} | {variant['epochs']:g} | "
                f"{len(by_seed)} | {statistics.mean(by_seed.values()):.1f} ± {spread:.1f} |"
            )
        if "default" not in scores:
            continue
        best = max((v for v in scores if not v.endswith("scratch")), key=lambda v: statistics.mean(scores[v].values()))
        seeds = sorted(scores["default"].keys() & scores[best].keys())
        differences = [scores["default"][seed] - scores[best][seed] for seed in seeds]
        error = statistics.stdev(differences) / len(differences) ** 0.5 if len(differences) > 1 else 0.0
        lines.append(
            f"| {size} | {task} | **default − best of grid** ({best}) | | | {len(seeds)} paired | "
            f"**{statistics.mean(differences):+.1f}** ± {error:.1f} s.e. |"
        )
    return "\n".join(lines)


def plot_recipe_grid(rows: list[dict], path: Path, head_lr_multiplier: float = HEAD_LR_MULTIPLIER) -> None:
    """Test score against the learning rate, one line per (size, task), mean ± spread over seeds; the default
    recipe's learning rate starred, from scratch (default recipe) dotted."""
    with figure(path, (8.4, 4)) as axis:
        for (size, task), variants in _grid_variants(rows).items():
            grid = [variant for name, variant in variants.items() if name.startswith("lr ")]
            scores = [list(variant["scores"].values()) for variant in grid]
            line = axis.errorbar(
                [variant["learning_rate"] for variant in grid],
                [statistics.mean(s) for s in scores],
                yerr=[statistics.stdev(s) if len(s) > 1 else 0.0 for s in scores],
                marker="o",
                capsize=3,
                label=f"{size} {task}",
            )
            colour = line[0].get_color()
            if "default" in variants:
                axis.plot(
                    variants["default"]["learning_rate"],
                    statistics.mean(variants["default"]["scores"].values()),
                    marker="*",
                    markersize=16,
                    color=colour,
                    linestyle="none",
                    label=f"{size} default recipe",
                )
            for name, variant in variants.items():
                if name.endswith("scratch"):
                    axis.axhline(
                        statistics.mean(variant["scores"].values()),
                        color=colour,
                        linestyle=":",
                        label=f"{size} from scratch",
                    )
        axis.set_xscale("log")
        axis.set_xlabel(f"fine-tuning learning rate (body; the head x{head_lr_multiplier:g})")
        axis.set_ylabel("test score (%)")
        axis.set_title("The default recipe against a learning-rate grid")
        axis.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
