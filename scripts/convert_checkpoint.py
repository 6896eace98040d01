"""Convert a transformers `openai-gpt` / `gpt2` checkpoint (local folder or Hub id) into a gpt_hf model folder.

Example:
    python scripts/convert_checkpoint.py --source openai-community/openai-gpt --output_dir converted/gpt1
"""

import sys
from dataclasses import dataclass, field

from gpt_hf.cli import entry_points
from gpt_hf.convert import CONVERTIBLE_HEADS, convert_checkpoint, save_converted
from gpt_hf.saving import check_output_dir


@dataclass
class ConvertArguments:
    source: str = field(metadata={"help": "Folder of a saved openai-gpt / gpt2 model, or a Hub id (needs network)."})
    output_dir: str = field(metadata={"help": "Where to write the gpt_hf model folder."})
    head: str = field(
        default="causal-lm",
        metadata={"help": f"Model class to produce: one of {sorted(CONVERTIBLE_HEADS)}. 'multiple-choice' keeps "
                          "the trained head of a DoubleHeadsModel."},
    )
    revision: str | None = field(default=None, metadata={"help": "Hub revision (branch, tag or commit)."})
    overwrite_output_dir: bool = field(default=False, metadata={"help": "Replace a non-empty output folder."})

    def __post_init__(self):
        if self.head not in CONVERTIBLE_HEADS:
            raise ValueError(f"--head {self.head!r} is not one of {sorted(CONVERTIBLE_HEADS)}.")
        check_output_dir(self.output_dir, self.overwrite_output_dir)  # before the source is read


def run(args: ConvertArguments) -> None:
    model = convert_checkpoint(args.source, head=args.head, revision=args.revision)
    save_converted(model, args.source, args.output_dir, overwrite=args.overwrite_output_dir)


parse, main = entry_points((ConvertArguments,), run)

if __name__ == "__main__":
    sys.exit(main())
