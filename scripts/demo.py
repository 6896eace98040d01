"""Demo on a fresh offline CPU machine (~6 minutes on 2 cores):

1. parity: tiny GPT-1 (post-LN) and GPT-2 (pre-LN) models from transformers' own classes, converted, give the same
   logits and greedy tokens;
2. pretraining: a tiny GPT on the built-in corpus (Python's documentation) with scripts/configs/tiny.json —
   tokenizer trained on the fly, Trainer, checkpoints, model card;
3. the saved folder reloaded in a clean process through `trust_remote_code=True` without gpt_hf, generating text.
Ends with a summary table.
"""

import logging
import subprocess
import sys
from pathlib import Path

import torch
from transformers import GPT2Config, GPT2LMHeadModel, HfArgumentParser, OpenAIGPTConfig, OpenAIGPTLMHeadModel

from gpt_hf.convert import convert_checkpoint
from gpt_hf.pretraining import PretrainDataArguments, pretrain
from gpt_hf.training import GPTTrainingArguments, ModelArguments, parse_arguments

logger = logging.getLogger("demo")
ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "scripts" / "configs" / "tiny.json"
OUTPUT = ROOT / "outputs" / "demo"
SIZES = dict(vocab_size=256, n_positions=128, n_embd=64, n_layer=2, n_head=4)
REMOTE_GENERATE = (
    "import sys, torch; sys.modules['gpt_hf'] = None\n"
    "from transformers import AutoModelForCausalLM, AutoTokenizer\n"
    "model = AutoModelForCausalLM.from_pretrained(sys.argv[1], trust_remote_code=True).eval()\n"
    "tokenizer = AutoTokenizer.from_pretrained(sys.argv[1], trust_remote_code=True)\n"
    "torch.manual_seed(0)\n"
    "ids = tokenizer(sys.argv[2], return_tensors='pt')\n"
    "out = model.generate(**ids, max_new_tokens=40, do_sample=True, top_k=40)\n"
    "print(type(model).__module__.split('.')[0], repr(tokenizer.decode(out[0], skip_special_tokens=True)))\n"
)


def check_parity() -> list[tuple[str, str]]:
    torch.manual_seed(0)
    sources = {
        "GPT-1 parity vs OpenAIGPTLMHeadModel": OpenAIGPTLMHeadModel(OpenAIGPTConfig(**SIZES)),
        "GPT-2 parity vs GPT2LMHeadModel": GPT2LMHeadModel(GPT2Config(**SIZES, bos_token_id=0, eos_token_id=0)),
    }
    ids = torch.randint(0, SIZES["vocab_size"], (2, 32))
    rows = []
    for name, source in sources.items():
        source.eval()
        model = convert_checkpoint(source)
        with torch.no_grad():
            diff = (model(ids).logits - source(ids).logits).abs().max().item()
        same = torch.equal(model.generate(ids[:1, :4], max_new_tokens=16, do_sample=False),
                           source.generate(ids[:1, :4], max_new_tokens=16, do_sample=False, pad_token_id=0))
        rows.append((name, f"max |logit diff| {diff:.1e}, greedy tokens equal: {same}"))
    return rows


def main():
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    rows = check_parity()

    parser = HfArgumentParser((ModelArguments, PretrainDataArguments, GPTTrainingArguments))
    model_args, data_args, training_args = parse_arguments(
        parser, [str(RECIPE)], output_dir=str(OUTPUT / "pretrained"), report_to="none")
    summary = pretrain(model_args, data_args, training_args)
    rows += [
        ("pretraining (built-in corpus)", f"{summary['steps']} steps, {summary['tokens_seen']:,} tokens, "
                                          f"{summary['tokens_per_second']:.0f} tokens/s"),
        ("validation perplexity", f"{summary['eval_perplexity']:.1f}"),
    ]

    remote = subprocess.run([sys.executable, "-c", REMOTE_GENERATE, str(OUTPUT / "pretrained"), "The"],
                            capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
    module, sample = remote.split(" ", 1)
    if module != "transformers_modules":
        raise RuntimeError(f"The clean process did not load the remote code: {remote!r}")
    rows += [("reload with trust_remote_code", f"class from {module} (gpt_hf not importable)"),
             ("sample continuation", sample)]

    width = max(len(name) for name, _ in rows)
    logger.info("\n" + "\n".join(f"{name.ljust(width)}  {value}" for name, value in rows))
    logger.info("\nModel folder: %s", OUTPUT / "pretrained")


if __name__ == "__main__":
    main()
