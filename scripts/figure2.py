"""The paper's Figure 2 in small, on the built-in corpus and tasks: (left) fine-tuned accuracy against the number
of pre-trained layers transferred; (right) zero-shot performance against pre-training steps, from the checkpoints
the pretraining run saved. Writes figure2.png, figure2_left.csv, figure2_right.csv.

    python scripts/figure2.py --pretrain_recipe scripts/configs/tiny.json --output_dir docs/figure2
"""

import csv
import sys
from dataclasses import dataclass, field
from pathlib import Path

from gpt_hf.cli import entry_points
from gpt_hf.output.paths import check_output_dir
from gpt_hf.runs.pretrain_arguments import pretrain_arguments
from gpt_hf.runs.pretraining import pretrain
from gpt_hf.studies.figure2 import layer_transfer_curve, plot_figure2, zero_shot_curve


@dataclass
class Figure2Arguments:
    output_dir: str = field(metadata={"help": "Folder for figure2.png and the two CSV files."})
    pretrained: str | None = field(
        default=None,
        metadata={
            "help": "A pretraining output folder that kept its checkpoint-N folders; default: "
            "pretrain now with --pretrain_recipe."
        },
    )
    pretrain_recipe: str = field(default="scripts/configs/tiny.json", metadata={"help": "Pretraining recipe JSON."})
    save_steps: int = field(default=200, metadata={"help": "Checkpoint interval when pretraining here."})
    benchmarks: list[str] = field(
        default_factory=lambda: ["acceptability", "continuation"],
        metadata={"help": "Built-in tasks for the transfer curve."},
    )
    seeds: list[int] = field(default_factory=lambda: [0, 1], metadata={"help": "Fine-tuning seeds."})
    max_train_samples: int = field(default=800, metadata={"help": "Fine-tuning rows per task."})
    max_eval_samples: int = field(default=300, metadata={"help": "Evaluation rows per task (and zero-shot)."})
    learning_rate: float = field(default=5e-4, metadata={"help": "Fine-tuning learning rate."})
    num_train_epochs: float = field(default=2.0, metadata={"help": "Fine-tuning epochs."})
    max_length: int = field(default=64, metadata={"help": "Fine-tuning tokens per row."})
    use_cpu: bool = field(default=False, metadata={"help": "Fine-tune on the CPU even where a GPU is available."})
    overwrite_output_dir: bool = field(
        default=False, metadata={"help": "Replace the runs of an earlier study in a non-empty --output_dir."}
    )

    def __post_init__(self):
        check_output_dir(self.output_dir, self.overwrite_output_dir)  # before any pretraining or fine-tuning


def run(args: Figure2Arguments) -> None:
    output = Path(args.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    pretrained = args.pretrained
    if pretrained is None:
        pretrained = str(output / "pretrained")
        pretrain(
            *pretrain_arguments(
                args.pretrain_recipe,
                output_dir=pretrained,
                save_steps=args.save_steps,
                save_total_limit=None,
                report_to="none",
                overwrite_output_dir=True,
            )
        )
    left = layer_transfer_curve(
        pretrained,
        args.benchmarks,
        args.seeds,
        output / "runs",
        max_train_samples=args.max_train_samples,
        max_eval_samples=args.max_eval_samples,
        max_length=args.max_length,
        use_cpu=args.use_cpu,
        learning_rate=args.learning_rate,
        num_train_epochs=args.num_train_epochs,
    )
    right = zero_shot_curve(pretrained, max_examples=args.max_eval_samples)
    for name, rows in (("figure2_left.csv", left), ("figure2_right.csv", right)):
        with open(output / name, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    plot_figure2(left, right, output / "figure2.png")
    print(f"Wrote {output / 'figure2.png'}")


parse, main = entry_points((Figure2Arguments,), run)

if __name__ == "__main__":
    sys.exit(main())
