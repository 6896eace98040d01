"""Train a GPT-1 (lowercase, </w>) or byte-level (GPT-2) BPE tokenizer with the task special tokens.

Examples:
    python scripts/train_tokenizer.py --files 'corpus/*.txt' --flavour bytelevel --vocab_size 8192 --output_dir tok
    python scripts/train_tokenizer.py --dataset wikitext --dataset_config wikitext-103-raw-v1 --output_dir tok
"""

import sys
from dataclasses import dataclass, field

from gpt_hf.cli import entry_points
from gpt_hf.data.tokenizer import FLAVOURS, check_vocab_size, train_tokenizer
from gpt_hf.errors import ArgumentError
from gpt_hf.output.paths import atomic_output_dir, check_output_dir


@dataclass
class TokenizerArguments:
    output_dir: str = field(metadata={"help": "Folder to write the tokenizer to (AutoTokenizer-loadable)."})
    files: list[str] | None = field(default=None, metadata={"help": "Text files or globs (UTF-8), one or more."})
    dataset: str | None = field(default=None, metadata={"help": "A `datasets` name or local data folder."})
    dataset_config: str | None = field(default=None, metadata={"help": "The dataset's configuration name."})
    dataset_split: str = field(default="train", metadata={"help": "Split to train on."})
    text_column: str = field(default="text", metadata={"help": "Column holding the text in the dataset."})
    flavour: str = field(default="gpt1", metadata={"help": f"One of {FLAVOURS}."})
    vocab_size: int | None = field(
        default=None, metadata={"help": "Total vocabulary incl. specials (default: 40478 gpt1, 50257 bytelevel)."}
    )
    min_frequency: int = field(default=2, metadata={"help": "Minimum pair count for a merge."})
    model_max_length: int = field(default=512, metadata={"help": "Context length recorded in the tokenizer."})
    overwrite_output_dir: bool = field(default=False, metadata={"help": "Replace a non-empty output folder."})

    def __post_init__(self):
        if (self.files is None) == (self.dataset is None):
            raise ArgumentError("Give exactly one source: --files or --dataset.")
        if self.flavour not in FLAVOURS:
            raise ArgumentError(f"--flavour {self.flavour!r} is not one of {FLAVOURS}.")
        if self.vocab_size is not None:
            check_vocab_size(self.flavour, self.vocab_size)  # before any text is read


def run(args: TokenizerArguments) -> None:
    check_output_dir(args.output_dir, args.overwrite_output_dir)  # fail before the (long) training, not after
    dataset = None
    if args.dataset is not None:
        from datasets import load_dataset

        dataset = load_dataset(args.dataset, args.dataset_config, split=args.dataset_split, streaming=True)
    tokenizer, summary = train_tokenizer(
        files=args.files,
        dataset=dataset,
        text_column=args.text_column,
        flavour=args.flavour,
        vocab_size=args.vocab_size,
        min_frequency=args.min_frequency,
        model_max_length=args.model_max_length,
    )
    with atomic_output_dir(args.output_dir, overwrite=args.overwrite_output_dir) as staging:
        tokenizer.save_pretrained(staging)
    print(f"Summary: {summary}")


parse, main = entry_points((TokenizerArguments,), run)

if __name__ == "__main__":
    sys.exit(main())
