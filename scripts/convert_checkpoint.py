"""Convert a transformers `openai-gpt` / `gpt2` checkpoint (local folder or Hub id) into a gpt_hf model folder, or
export a gpt_hf folder back to GPT-2's / GPT-1's own format (loadable without trust_remote_code by every engine that
serves GPT-2).

Examples:
    python scripts/convert_checkpoint.py --source openai-community/openai-gpt --output_dir converted/gpt1
    python scripts/convert_checkpoint.py --source outputs/tiny-pretrained --to gpt2 --output_dir exported/tiny-gpt2
"""

import sys
from dataclasses import dataclass, field

from gpt_hf.cli import entry_points
from gpt_hf.errors import ArgumentError
from gpt_hf.interop.convert import CONVERTIBLE_HEADS, EXPORT_LAYOUTS, convert_checkpoint, export_folder, save_converted
from gpt_hf.output.paths import check_output_dir


@dataclass
class ConvertArguments:
    source: str = field(
        metadata={
            "help": "Folder of a saved openai-gpt / gpt2 model, or a Hub id (needs network); "
            "with --to gpt2 / openai-gpt, a gpt_hf model folder."
        }
    )
    output_dir: str = field(metadata={"help": "Where to write the gpt_hf model folder."})
    head: str = field(
        default="causal-lm",
        metadata={
            "help": f"Model class to produce: one of {sorted(CONVERTIBLE_HEADS)}. 'multiple-choice' keeps "
            "the trained head of a DoubleHeadsModel."
        },
    )
    revision: str | None = field(default=None, metadata={"help": "Hub revision (branch, tag or commit)."})
    overwrite_output_dir: bool = field(default=False, metadata={"help": "Replace a non-empty output folder."})
    to: str = field(
        default="gpt_hf",
        metadata={
            "help": "gpt_hf (from a built-in checkpoint), or gpt2 / openai-gpt "
            "(export a pre-LN / post-LN gpt_hf folder to the built-in)."
        },
    )

    def __post_init__(self):
        if self.to not in ("gpt_hf", *EXPORT_LAYOUTS):
            raise ArgumentError(f"--to {self.to!r} is not one of {('gpt_hf', *EXPORT_LAYOUTS)}.")
        if self.head not in CONVERTIBLE_HEADS:
            raise ArgumentError(f"--head {self.head!r} is not one of {sorted(CONVERTIBLE_HEADS)}.")
        check_output_dir(self.output_dir, self.overwrite_output_dir)  # before the source is read


def run(args: ConvertArguments) -> None:
    if args.to != "gpt_hf":
        export_folder(args.source, args.output_dir, args.to, overwrite=args.overwrite_output_dir)
        return
    model = convert_checkpoint(args.source, head=args.head, revision=args.revision)
    save_converted(model, args.source, args.output_dir, overwrite=args.overwrite_output_dir)


parse, main = entry_points((ConvertArguments,), run)

if __name__ == "__main__":
    sys.exit(main())
