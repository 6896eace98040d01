"""The studies: experiments made of many fine-tuning (and pretraining) runs, each a module with its outputs.

    data_efficiency   does pre-training pay off on your data: pre-trained vs from scratch vs TF-IDF by label count
    figure2           the paper's Figure 2 in small: layers transferred, zero-shot behaviour during pre-training
    recipe_grid       the default fine-tuning recipe against a learning-rate grid, at each model size

What they share lives here: the fine-tuning arguments every run of a study takes and the score it reads back;
`plotting.figure` draws their PNGs. The scripts in scripts/ parse arguments and call these; the studies never call
back into the command-line layer.
"""

from pathlib import Path

import torch

from ..runs.finetune_arguments import FinetuneTrainingArguments


def study_training_args(output_dir: Path, seed: int, use_cpu: bool = False, **recipe) -> FinetuneTrainingArguments:
    """What every fine-tuning run of a study shares: no logging, the seed for data and weights, one checkpoint; the
    device the Trainer picks (a GPU when there is one) unless `use_cpu`, and pinned memory only where there is an
    accelerator to copy to (torch warns on every run otherwise)."""
    return FinetuneTrainingArguments(
        output_dir=str(output_dir),
        use_cpu=use_cpu,
        dataloader_pin_memory=not use_cpu and torch.accelerator.is_available(),
        report_to="none",
        seed=seed,
        data_seed=seed,
        save_total_limit=1,
        disable_tqdm=True,
        overwrite_output_dir=True,
        **recipe,
    )


def held_out_score(results: dict) -> float:
    """The test score by the metric that picked the kept checkpoint (the task's own, by default)."""
    return results[f"test_{results['metric_for_best_model']}"]
