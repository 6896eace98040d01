"""Is the default fine-tuning recipe good at every model size? The default ('scaled') recipe against a learning-rate
grid (everything else the recipe's) and from scratch, on built-in tasks, for each pretrained folder; prints a
Markdown table with the default's distance to the best of the grid (docs/results.md, "Fine-tuning defaults").

    python scripts/recipe_grid.py --pretrained outputs/tiny-pretrained outputs/small-pretrained --seeds 0 1
    # with --rows_file, finished runs are kept and skipped: add seeds later, and the table covers them all
    python scripts/recipe_grid.py --pretrained outputs/tiny-pretrained --seeds 2 3 --rows_file grid.jsonl
"""

import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from gpt_hf.cli import entry_points
from gpt_hf.output.paths import check_writable_file
from gpt_hf.studies.recipe_grid import plot_recipe_grid, read_grid_rows, recipe_grid, recipe_table


@dataclass
class RecipeGridArguments:
    pretrained: list[str] = field(metadata={"help": "Pretrained folders, one per model size."})
    benchmarks: list[str] = field(
        default_factory=lambda: ["acceptability", "continuation"], metadata={"help": "Built-in tasks."}
    )
    learning_rates: list[float] = field(
        default_factory=lambda: [6.25e-5, 2.5e-4, 1e-3, 4e-3],
        metadata={"help": "The grid (the paper's 6.25e-5 first)."},
    )
    seeds: list[int] = field(default_factory=lambda: [0, 1], metadata={"help": "Fine-tuning seeds."})
    train_samples: int = field(default=300, metadata={"help": "Labelled training rows (few labels)."})
    eval_samples: int = field(default=300, metadata={"help": "Validation and test rows."})
    rows_file: str | None = field(
        default=None,
        metadata={
            "help": "JSON lines of finished runs: runs recorded there are not run again, new ones "
            "are appended as they finish, and the table covers every run in the file."
        },
    )
    plot: str | None = field(default=None, metadata={"help": "Also draw score against learning rate (a PNG path)."})
    max_length: int = field(default=64, metadata={"help": "Fine-tuning tokens per row."})
    use_cpu: bool = field(default=False, metadata={"help": "Fine-tune on the CPU even where a GPU is available."})

    def __post_init__(self):  # before hours of fine-tuning, not after
        for name in ("rows_file", "plot"):
            if getattr(self, name) is not None:
                check_writable_file(getattr(self, name), f"--{name}")
        if self.rows_file:
            read_grid_rows(Path(self.rows_file))  # a file that is not a grid's fails now


def run(args: RecipeGridArguments) -> None:
    with tempfile.TemporaryDirectory() as work:
        rows = recipe_grid(
            args.pretrained,
            args.benchmarks,
            args.learning_rates,
            args.seeds,
            args.train_samples,
            args.eval_samples,
            Path(work),
            Path(args.rows_file) if args.rows_file else None,
            max_length=args.max_length,
            use_cpu=args.use_cpu,
        )
    rows = read_grid_rows(Path(args.rows_file)) if args.rows_file else rows
    print(recipe_table(rows))
    if args.plot:
        plot_recipe_grid(rows, Path(args.plot))


parse, main = entry_points((RecipeGridArguments,), run)

if __name__ == "__main__":
    sys.exit(main())
