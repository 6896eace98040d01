"""Tokenise a corpus once into a token store (Megatron-format shards of uint16 / int32 ids, the tokenizer, metadata),
which scripts/pretrain.py --data_dir trains from with O(1) exact resume. Rerun the same command after a kill: the
preparation continues from its last complete shard.

Examples:
    python scripts/prepare_data.py --train_files 'books/*.txt' --output_dir stores/books --preprocessing_num_workers 8
    python scripts/prepare_data.py --dataset_name openwebtext --output_dir stores/owt --tokenizer_name_or_path tok
    python scripts/pretrain.py --config_name gpt2-small --data_dir stores/books --output_dir out/gpt2 --max_steps 600000
"""

import sys

from gpt_hf.cli import entry_points
from gpt_hf.data.token_store import PrepareArguments, prepare_store


def run(args: PrepareArguments) -> None:
    metadata = prepare_store(args)
    train = metadata["splits"]["train"]
    print(
        f"Prepared {args.output_dir}: {train['tokens']:,} training tokens in {train['documents']:,} documents "
        f"({len(train['shards'])} shards, {metadata['dtype']}), "
        f"{metadata['splits']['validation']['tokens']:,} validation tokens."
    )


parse, main = entry_points((PrepareArguments,), run)

if __name__ == "__main__":
    sys.exit(main())
