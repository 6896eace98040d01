"""Does pre-training pay off on your data? Pre-trained vs from scratch (same architecture, tokenizer and recipe) at
several label counts and seeds, next to TF-IDF + logistic regression; writes results.csv, results.md and
accuracy_vs_labels.png, and prints a verdict line.

Examples:
    # pretrain on your unlabelled text first (the tiny recipe), then compare on your labelled files
    python scripts/data_efficiency.py --pretrain_files 'reviews/*.txt' --pretrain_recipe scripts/configs/tiny.json \
        --task classification --train_file train.csv --test_file test.csv --text_column review \
        --label_column stars --label_counts 100 1000 all --seeds 0 1 2 --output_dir outputs/study
    # a model you pretrained already, a built-in task
    python scripts/data_efficiency.py --pretrained outputs/tiny-pretrained --benchmark acceptability \
        --label_counts 100 800 --output_dir outputs/study-acceptability
"""

import sys

from gpt_hf.cli import entry_points
from gpt_hf.runs.finetune_arguments import FinetuneDataArguments
from gpt_hf.studies.data_efficiency import StudyArguments, run_study


def run(study: StudyArguments, data: FinetuneDataArguments) -> None:
    print(run_study(study, data)["verdict"])


parse, main = entry_points((StudyArguments, FinetuneDataArguments), run)

if __name__ == "__main__":
    sys.exit(main())
