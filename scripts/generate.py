"""Generate text with a gpt_hf causal LM.

Examples:
    python scripts/generate.py --model_name_or_path outputs/tiny-pretrained --prompts "The module" --stream true
    python scripts/generate.py --model_name_or_path out --prompts "A" "The list" --do_sample true --top_p 0.9
    python scripts/generate.py --model_name_or_path out --prompts "" --do_sample true   # from the start of a text
    echo "Return the" | python scripts/generate.py --model_name_or_path out --num_beams 4
"""

import sys

from gpt_hf.cli import entry_points
from gpt_hf.evaluation.generation import GenerationArguments, generate_from_folder


def run(args: GenerationArguments) -> None:
    texts = generate_from_folder(args)
    if not args.stream:  # a streamed text is already on the terminal
        for text in texts:
            print(text + ("\n" + "-" * 40 if len(texts) > 1 else ""))


parse, main = entry_points((GenerationArguments,), run)

if __name__ == "__main__":
    sys.exit(main())
