"""The whole pipeline on a fresh offline CPU machine (20-30 minutes on 2 cores), ending with a summary table:

1. parity: tiny GPT-1 / GPT-2 models from transformers' own classes, converted, give the same logits and tokens;
2. pretraining on the built-in corpus (Python's documentation) with scripts/configs/tiny.json: a tokenizer is
   trained on the fly, then the Trainer runs with checkpoints and writes a model card;
3. fine-tuning on the four built-in self-labelled tasks (all four of the paper's input transformations);
4. the data-efficiency study on one of them and on the topic task (which module family a paragraph documents, where
   a bag of words is strong): pre-trained vs from scratch vs TF-IDF at 100 and 800 labels, 2 seeds, with the default
   (scaled) fine-tuning recipe, each ending with its verdict;
5. zero- and few-shot evaluation (k = 0, 1, 4) and perplexity;
6. a generated sample;
7. a Hub folder built without uploading, reloaded in a clean process through `trust_remote_code=True` with gpt_hf
   not importable.
"""

import logging
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import torch
from transformers import GPT2Config, GPT2LMHeadModel, OpenAIGPTConfig, OpenAIGPTLMHeadModel

from gpt_hf.cli import entry_points, parse_arguments
from gpt_hf.evaluation.evaluate import EvaluationArguments, run_evaluation
from gpt_hf.evaluation.generation import GenerationArguments, generate_texts
from gpt_hf.interop.convert import convert_checkpoint
from gpt_hf.interop.hub import build_hub_folder
from gpt_hf.runs.finetune_arguments import FinetuneDataArguments, FinetuneModelArguments, FinetuneTrainingArguments
from gpt_hf.runs.finetuning import finetune
from gpt_hf.runs.pretrain_arguments import PretrainDataArguments, PretrainModelArguments, PretrainTrainingArguments
from gpt_hf.runs.pretraining import pretrain
from gpt_hf.studies.data_efficiency import StudyArguments, run_study
from gpt_hf.tasks.self_labelled import BUILDERS

logger = logging.getLogger("demo")
ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "scripts" / "configs" / "tiny.json"


@dataclass
class DemoArguments:
    output_dir: str = field(
        default=str(ROOT / "outputs" / "demo"),
        metadata={"help": "Folder for every run of the demo (replaced on each run)."},
    )


SIZES = dict(vocab_size=256, n_positions=128, n_embd=64, n_layer=2, n_head=4)
REMOTE_GENERATE = (
    "import sys, torch; sys.modules['gpt_hf'] = None\n"
    "from transformers import AutoModelForCausalLM, AutoTokenizer\n"
    "model = AutoModelForCausalLM.from_pretrained(sys.argv[1], trust_remote_code=True).eval()\n"
    "tokenizer = AutoTokenizer.from_pretrained(sys.argv[1], trust_remote_code=True)\n"
    "torch.manual_seed(0)\n"
    "ids = tokenizer(sys.argv[2], return_tensors='pt')\n"
    "out = model.generate(**ids, max_new_tokens=30, do_sample=True, top_k=40)\n"
    "print(type(model).__module__.split('.')[0], repr(tokenizer.decode(out[0], skip_special_tokens=True)))\n"
)


def check_parity() -> list[tuple[str, str]]:
    torch.manual_seed(0)
    sources = {
        "parity vs OpenAIGPTLMHeadModel": OpenAIGPTLMHeadModel(OpenAIGPTConfig(**SIZES)),
        "parity vs GPT2LMHeadModel": GPT2LMHeadModel(GPT2Config(**SIZES, bos_token_id=0, eos_token_id=0)),
    }
    ids = torch.randint(0, SIZES["vocab_size"], (2, 32))
    rows = []
    for name, source in sources.items():
        source.eval()
        model = convert_checkpoint(source)
        with torch.no_grad():
            diff = (model(ids).logits - source(ids).logits).abs().max().item()
        same = torch.equal(
            model.generate(ids[:1, :4], max_new_tokens=16, do_sample=False),
            source.generate(ids[:1, :4], max_new_tokens=16, do_sample=False, pad_token_id=0),
        )
        rows.append((name, f"max |logit diff| {diff:.1e}, greedy tokens equal: {same}"))
    return rows


def finetune_builtin_tasks(pretrained: Path, output: Path) -> list[tuple[str, str]]:
    rows = []
    for task, spec in BUILDERS.items():
        results = finetune(
            FinetuneModelArguments(model_name_or_path=str(pretrained)),
            FinetuneDataArguments(
                benchmark=task, max_train_samples=800, max_eval_samples=200, max_test_samples=200, max_length=64
            ),
            FinetuneTrainingArguments(
                output_dir=str(output / f"finetuned-{task}"),
                overwrite_output_dir=True,
                use_cpu=True,
                report_to="none",
                num_train_epochs=2,
                learning_rate=5e-4,
                save_total_limit=1,
            ),
        )
        rows.append((f"fine-tuned: {task} ({spec.task_type})", f"test accuracy {results['test_accuracy']:.1%}"))
    return rows


def run(args: DemoArguments) -> None:
    output = Path(args.output_dir)
    rows = check_parity()

    pretrained = output / "pretrained"
    summary = pretrain(
        *parse_arguments(
            (PretrainModelArguments, PretrainDataArguments, PretrainTrainingArguments),
            [str(RECIPE)],
            output_dir=str(pretrained),
            overwrite_output_dir=True,  # the demo's own folder, replaced on each run (DemoArguments says so)
            report_to="none",
        )
    )
    rows.append(
        (
            "pretraining (built-in corpus)",
            f"{summary['steps']} steps, {summary['tokens_seen']:,} tokens, "
            f"{summary['tokens_per_second']:.0f} tokens/s, validation "
            f"perplexity {summary['eval_perplexity']:.1f}",
        )
    )

    rows += finetune_builtin_tasks(pretrained, output)
    for benchmark in ("acceptability", "topic"):  # word order, where a bag of words fails; topic, where it is strong
        folder = output / ("study" if benchmark == "acceptability" else f"study-{benchmark}")
        study = run_study(
            StudyArguments(
                output_dir=str(folder),
                pretrained=str(pretrained),
                label_counts=["100", "800"],
                seeds=[0, 1],
                overwrite_output_dir=True,
            ),
            FinetuneDataArguments(benchmark=benchmark, max_eval_samples=200, max_test_samples=200, max_length=64),
        )
        rows.append((f"data-efficiency study ({benchmark})", f"{study['verdict']} Table and plot: {folder}"))

    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(pretrained)
    tokenizer = AutoTokenizer.from_pretrained(pretrained)
    evaluation = run_evaluation(
        model, tokenizer, EvaluationArguments(model_name_or_path=str(pretrained), max_examples=100)
    )
    for k in (0, 1, 4):
        rows.append(
            (
                f"{k}-shot (no training)",
                f"continuation acc_norm "
                f"{evaluation[f'continuation/{k}-shot']['acc_norm']:.1%}, "
                f"acceptability {evaluation[f'acceptability/{k}-shot']['acc']:.1%}",
            )
        )
    rows.append(
        (
            "GPT-1 zero-shot heuristic",
            "acceptability "
            f"{evaluation['acceptability/gpt1_threshold_zero_shot']['acc']:.1%} (average log-prob threshold)",
        )
    )

    sample = generate_texts(
        model,
        tokenizer,
        ["The"],
        GenerationArguments(model_name_or_path=str(pretrained), max_new_tokens=30, do_sample=True, top_k=40, seed=0),
    )[0]
    rows.append(("generated sample", repr(sample)))

    hub_folder = build_hub_folder(pretrained, output / "hub", repo_id="your-name/gpt-hf-tiny", overwrite=True)
    remote = (
        subprocess.run(
            [sys.executable, "-c", REMOTE_GENERATE, str(hub_folder), "The"], capture_output=True, text=True, check=True
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    module, remote_sample = remote.split(" ", 1)
    if module != "transformers_modules":
        raise RuntimeError(f"The clean process did not load the remote code: {remote!r}")
    rows.append(
        ("Hub folder (dry run), reloaded", f"{hub_folder} via trust_remote_code without gpt_hf: {remote_sample}")
    )

    width = max(len(name) for name, _ in rows)
    logger.info("\n" + "\n".join(f"{name.ljust(width)}  {value}" for name, value in rows))


parse, main = entry_points((DemoArguments,), run)

if __name__ == "__main__":
    sys.exit(main())
