"""Fine-tune a pretrained gpt_hf model on a task, as in the paper (task transforms, extract-token head, aux LM loss).

Examples:
    python scripts/finetune.py --model_name_or_path outputs/tiny-pretrained --benchmark acceptability \
        --output_dir outputs/acceptability                        # built-in self-labelled task, offline
    python scripts/finetune.py --model_name_or_path outputs/tiny-pretrained --benchmark acceptability \
        --output_dir outputs/acceptability-scratch --from_scratch true   # same model, random init (ablation)
    python scripts/finetune.py --model_name_or_path converted/gpt1 --benchmark rte --output_dir out/rte
    python scripts/finetune.py --model_name_or_path my-gpt --task entailment --train_file train.csv \
        --validation_file dev.csv --text_column premise --text_pair_column hypothesis --output_dir out/nli
    python scripts/finetune.py recipe.json --learning_rate 1e-4   # a JSON recipe, flags override it
"""

import sys

from gpt_hf.cli import entry_points
from gpt_hf.runs.finetune_arguments import FinetuneDataArguments, FinetuneModelArguments, FinetuneTrainingArguments
from gpt_hf.runs.finetuning import finetune

parse, main = entry_points((FinetuneModelArguments, FinetuneDataArguments, FinetuneTrainingArguments), finetune)

if __name__ == "__main__":
    sys.exit(main())
