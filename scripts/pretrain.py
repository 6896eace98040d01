"""Pretrain a gpt_hf language model with the Trainer (GPT-1 recipe defaults; built-in corpus when no data is given).

Examples:
    python scripts/pretrain.py scripts/configs/tiny.json            # a recipe file holds every argument
    python scripts/pretrain.py --config_name tiny --output_dir outputs/tiny --max_steps 300
    torchrun --nproc_per_node 2 scripts/pretrain.py scripts/configs/tiny.json
    accelerate launch scripts/pretrain.py scripts/configs/gpt1.json
"""

import sys

from transformers import HfArgumentParser

from gpt_hf.pretraining import PretrainDataArguments, pretrain
from gpt_hf.training import GPTTrainingArguments, ModelArguments, parse_arguments, setup_logging


def parse(argv=None, **overrides):
    parser = HfArgumentParser((ModelArguments, PretrainDataArguments, GPTTrainingArguments))
    return parse_arguments(parser, sys.argv[1:] if argv is None else argv, **overrides)


def main(argv=None):
    model_args, data_args, training_args = parse(argv)
    setup_logging(training_args)
    pretrain(model_args, data_args, training_args)


if __name__ == "__main__":
    main()
