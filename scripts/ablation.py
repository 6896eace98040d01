"""Table 5 of the paper on the built-in self-labelled tasks: pretrained vs no pre-training vs no auxiliary LM loss,
same fine-tuning budget, several seeds; prints a Markdown table of test accuracy (mean ± std).

    python scripts/pretrain.py scripts/configs/tiny.json          # the pretrained tiny model (outputs/tiny-pretrained)
    python scripts/ablation.py --pretrained outputs/tiny-pretrained --seeds 0 1 2
"""

import statistics
import sys
import tempfile
from dataclasses import dataclass, field

from gpt_hf.cli import entry_points
from gpt_hf.runs.finetune_arguments import FinetuneDataArguments, FinetuneModelArguments, FinetuneTrainingArguments
from gpt_hf.runs.finetuning import finetune
from gpt_hf.tasks.self_labelled import BUILDERS

VARIANTS = {
    "pretrained (aux LM 0.5)": dict(from_scratch=False, aux_lm_weight=0.5),
    "no pre-training": dict(from_scratch=True, aux_lm_weight=0.5),
    "pretrained, no aux LM": dict(from_scratch=False, aux_lm_weight=0.0),
}


@dataclass
class AblationArguments:
    pretrained: str = field(default="outputs/tiny-pretrained", metadata={"help": "Pretrained gpt_hf folder."})
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2], metadata={"help": "Fine-tuning seeds."})
    tasks: list[str] = field(default_factory=lambda: list(BUILDERS), metadata={"help": "Self-labelled tasks."})
    train_samples: int = field(default=800, metadata={"help": "Training examples per task (same for every run)."})
    eval_samples: int = field(default=300, metadata={"help": "Test examples per task."})
    max_length: int = field(default=64, metadata={"help": "Tokens per row."})
    epochs: float = field(default=2.0, metadata={"help": "Fine-tuning epochs."})
    learning_rate: float = field(default=5e-4, metadata={"help": "Body learning rate (head x10)."})


def run(args: AblationArguments) -> None:
    scores: dict[tuple[str, str], list[float]] = {}
    for task in args.tasks:
        for variant, options in VARIANTS.items():
            for seed in args.seeds:
                with tempfile.TemporaryDirectory() as output_dir:
                    results = finetune(
                        FinetuneModelArguments(model_name_or_path=args.pretrained, **options),
                        FinetuneDataArguments(
                            benchmark=task,
                            max_train_samples=args.train_samples,
                            max_eval_samples=args.eval_samples,
                            max_test_samples=args.eval_samples,
                            max_length=args.max_length,
                        ),
                        FinetuneTrainingArguments(
                            output_dir=output_dir,
                            use_cpu=True,
                            report_to="none",
                            seed=seed,
                            data_seed=seed,
                            num_train_epochs=args.epochs,
                            learning_rate=args.learning_rate,
                            eval_strategy="no",
                            save_strategy="no",
                            load_best_model_at_end=False,
                            disable_tqdm=True,
                        ),
                    )
                scores.setdefault((task, variant), []).append(results["test_accuracy"])
                print(f"{task:14s} {variant:26s} seed {seed}: test accuracy {results['test_accuracy']:.4f}", flush=True)
    header = "| variant | " + " | ".join(f"{task} ({BUILDERS[task].task_type})" for task in args.tasks) + " |"
    print("\n" + header + "\n|" + "---|" * (len(args.tasks) + 1))
    for variant in VARIANTS:
        cells = []
        for task in args.tasks:
            values = [100 * v for v in scores[(task, variant)]]
            spread = statistics.stdev(values) if len(values) > 1 else 0.0
            cells.append(f"{statistics.mean(values):.1f} ± {spread:.1f}")
        print(f"| {variant} | " + " | ".join(cells) + " |")


parse, main = entry_points((AblationArguments,), run)

if __name__ == "__main__":
    sys.exit(main())
