"""Evaluate a gpt_hf language model: perplexity (every token scored once, lm-evaluation-harness's rolling convention),
and zero/few-shot log-likelihood scoring on the built-in self-labelled tasks (the same folder works whether
pretrained, fine-tuned or converted). Prints the results as JSON.

Examples:
    python scripts/evaluate.py --model_name_or_path outputs/tiny-pretrained              # built-in corpus, k=0,1,4
    python scripts/evaluate.py --model_name_or_path out --perplexity_files 'test/*.txt' --stride 256 --tasks
"""

import json
import sys

from gpt_hf.cli import entry_points
from gpt_hf.evaluation.evaluate import EvaluationArguments, evaluate_folder


def run(args: EvaluationArguments) -> None:
    print(json.dumps(evaluate_folder(args), indent=2))


parse, main = entry_points((EvaluationArguments,), run)

if __name__ == "__main__":
    sys.exit(main())
