"""Fine-tune a pretrained gpt_hf model on a task, as in the paper (task transforms, extract-token head, aux LM loss).

Examples:
    python scripts/finetune.py --model_name_or_path outputs/tiny-pretrained --benchmark acceptability \
        --output_dir outputs/acceptability                        # built-in self-labelled task, offline
    python scripts/finetune.py --model_name_or_path converted/gpt1 --benchmark rte --output_dir out/rte
    python scripts/finetune.py --model_name_or_path my-gpt --task entailment --train_file train.csv \
        --validation_file dev.csv --text_column premise --text_pair_column hypothesis --output_dir out/nli
    python scripts/finetune.py recipe.json                        # one JSON file instead of the flags
"""

from gpt_hf.finetuning import FinetuneDataArguments, FinetuneModelArguments, FinetuneTrainingArguments, finetune
from gpt_hf.training import script_entry_points

parse, main = script_entry_points((FinetuneModelArguments, FinetuneDataArguments, FinetuneTrainingArguments),
                                  finetune)

if __name__ == "__main__":
    main()
