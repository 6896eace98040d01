"""Pretrain a gpt_hf language model with the Trainer (GPT-1 recipe defaults; built-in corpus when no data is given).

Examples:
    python scripts/pretrain.py scripts/configs/tiny.json            # a recipe file holds every argument
    python scripts/pretrain.py scripts/configs/tiny.json --max_steps 10 --output_dir outputs/quick   # flags override
    python scripts/pretrain.py --config_name tiny --output_dir outputs/tiny --max_steps 300
    torchrun --nproc_per_node 2 scripts/pretrain.py scripts/configs/tiny.json
    accelerate launch scripts/pretrain.py scripts/configs/gpt1.json
"""

import sys

from gpt_hf.cli import entry_points
from gpt_hf.runs.pretrain_arguments import PRETRAIN_ARGUMENTS
from gpt_hf.runs.pretraining import pretrain

parse, main = entry_points(PRETRAIN_ARGUMENTS, pretrain)

if __name__ == "__main__":
    sys.exit(main())
