"""The paper's Figure 2 in small, on the built-in corpus and tasks: (left) the fine-tuned test score against the
number of pre-trained layers transferred, (right) zero-shot behaviour against pre-training steps, read from the
checkpoints a pretraining run kept."""

import logging
import statistics
from pathlib import Path

import torch
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

from ..errors import ArgumentError
from ..evaluation.evaluate import EvaluationArguments, run_evaluation
from ..model.configuration_gpt_hf import GPTHFConfig
from ..output.checkpoint_folders import checkpoint_step, complete_checkpoints
from ..output.plotting import figure
from ..runs.finetune_arguments import FinetuneDataArguments, FinetuneModelArguments
from ..runs.finetuning import finetune
from . import held_out_score, study_training_args

logger = logging.getLogger(__name__)


def layer_transfer_curve(
    pretrained: str,
    benchmarks: list[str],
    seeds: list[int],
    work: Path,
    *,
    max_train_samples: int,
    max_eval_samples: int,
    max_length: int,
    use_cpu: bool = False,
    **recipe,
) -> list[dict]:
    """Figure 2 (left): test metric of fine-tuning with the embeddings and the first n blocks transferred (the rest
    re-initialised), for n = 0 … n_layer, on built-in tasks; one row per (task, n, seed). `recipe`: the fine-tuning
    learning rate and epochs (default: the recipe's)."""
    n_layer = GPTHFConfig.from_pretrained(pretrained).n_layer
    rows = []
    for benchmark in benchmarks:
        for layers in range(n_layer + 1):
            for seed in seeds:
                results = finetune(
                    FinetuneModelArguments(model_name_or_path=pretrained, transfer_layers=layers),
                    FinetuneDataArguments(
                        benchmark=benchmark,
                        max_train_samples=max_train_samples,
                        max_eval_samples=max_eval_samples,
                        max_test_samples=max_eval_samples,
                        max_length=max_length,
                    ),
                    study_training_args(work / f"{benchmark}-{layers}-{seed}", seed, use_cpu, **recipe),
                )
                rows.append({"task": benchmark, "layers": layers, "seed": seed, "score": held_out_score(results)})
                logger.info("Figure 2 left: %s, %d layers, seed %d: %.3f", benchmark, layers, seed, rows[-1]["score"])
    return rows


def zero_shot_curve(pretrained: str, max_examples: int = 300) -> list[dict]:
    """Figure 2 (right): zero-shot performance of the checkpoints a pretraining run saved, by step (step 0: the
    same architecture at its random initialisation); one row per (step, measure)."""
    checkpoints = complete_checkpoints(pretrained)
    if not checkpoints:
        raise ArgumentError(
            f"{pretrained} holds no complete checkpoint-N folder; pretrain with --save_steps and no "
            "--save_total_limit to keep the checkpoints along the way."
        )
    tokenizer = AutoTokenizer.from_pretrained(pretrained)
    args = EvaluationArguments(model_name_or_path=pretrained, num_fewshot=[0], max_examples=max_examples)
    rows = []
    torch.manual_seed(0)
    initial = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(checkpoints[0]))
    for step, model in [(0, initial), *((checkpoint_step(c), c) for c in checkpoints)]:
        if not isinstance(model, torch.nn.Module):
            model = AutoModelForCausalLM.from_pretrained(model)
        results = run_evaluation(model.eval(), tokenizer, args)
        rows += [
            {
                "step": step,
                "measure": "continuation (0-shot acc_norm)",
                "score": results["continuation/0-shot"]["acc_norm"],
            },
            {
                "step": step,
                "measure": "acceptability (GPT-1 threshold heuristic)",
                "score": results["acceptability/gpt1_threshold_zero_shot"]["acc"],
            },
            {"step": step, "measure": "acceptability (0-shot yes/no)", "score": results["acceptability/0-shot"]["acc"]},
            {"step": step, "measure": "validation perplexity", "score": results["perplexity"]["perplexity"]},
        ]
        logger.info("Figure 2 right: step %d: %s", step, {r["measure"]: round(r["score"], 3) for r in rows[-4:]})
    return rows


def plot_figure2(transfer: list[dict], zero_shot: list[dict], path: Path) -> None:
    """Both panels side by side, as in the paper (means over seeds on the left)."""
    with figure(path, (10, 3.8), columns=2) as (left, right):
        for task in dict.fromkeys(r["task"] for r in transfer):
            layers = sorted({r["layers"] for r in transfer if r["task"] == task})
            means = [
                100 * statistics.mean(r["score"] for r in transfer if r["task"] == task and r["layers"] == n)
                for n in layers
            ]
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
