"""Evaluate a gpt_hf language model: sliding-window perplexity, and zero/few-shot log-likelihood scoring on the
built-in self-labelled tasks (the same folder works whether pretrained, fine-tuned or converted).

Examples:
    python scripts/evaluate.py --model_name_or_path outputs/tiny-pretrained              # built-in corpus, k=0,1,4
    python scripts/evaluate.py --model_name_or_path out --perplexity_files 'test/*.txt' --stride 256 --tasks
"""

import json
import logging
from pathlib import Path

from transformers import AutoModelForCausalLM, AutoTokenizer, HfArgumentParser

import gpt_hf  # noqa: F401  (registers the gpt_hf classes)
from gpt_hf.evaluation import EvaluationArguments, run_evaluation


def main(argv=None):
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    (args,) = HfArgumentParser(EvaluationArguments).parse_args_into_dataclasses(args=argv)
    tokenizer = AutoTokenizer.from_pretrained(args.model_name_or_path, trust_remote_code=args.trust_remote_code)
    model = AutoModelForCausalLM.from_pretrained(args.model_name_or_path, trust_remote_code=args.trust_remote_code)
    results = run_evaluation(model, tokenizer, args)
    print(json.dumps(results, indent=2))
    if args.output_file:
        Path(args.output_file).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
