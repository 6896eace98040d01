"""Generate text with a gpt_hf causal LM.

Examples:
    python scripts/generate.py --model_name_or_path outputs/tiny-pretrained --prompts "The module" --stream true
    python scripts/generate.py --model_name_or_path out --prompts "A" "The list" --do_sample true --top_p 0.9
    echo "Return the" | python scripts/generate.py --model_name_or_path out --num_beams 4
"""

import logging
import sys

from transformers import AutoModelForCausalLM, AutoTokenizer, HfArgumentParser

import gpt_hf  # noqa: F401  (registers the gpt_hf classes)
from gpt_hf.generation import GenerationArguments, generate_texts, read_prompts


def main(argv=None):
    logging.basicConfig(level=logging.WARNING)
    (args,) = HfArgumentParser(GenerationArguments).parse_args_into_dataclasses(args=argv)
    prompts = read_prompts(args)
    tokenizer = AutoTokenizer.from_pretrained(args.model_name_or_path, trust_remote_code=args.trust_remote_code)
    model = AutoModelForCausalLM.from_pretrained(args.model_name_or_path, trust_remote_code=args.trust_remote_code)
    texts = generate_texts(model, tokenizer, prompts, args)
    if not args.stream:  # a streamed text is already on the terminal
        for text in texts:
            print(text + ("\n" + "-" * 40 if len(texts) > 1 else ""))


if __name__ == "__main__":
    sys.exit(main())
