"""Command-line entry points shared by every script in scripts/: a JSON recipe and/or flags parsed into argument
dataclasses (flags override the recipe, as litgpt's config file + CLI do), logging on the main process, and user
errors reported as one clear line with a non-zero exit code instead of a traceback.

A user error is an instance of `gpt_hf.errors.UserError`, by type and nowhere else: gpt_hf's checks raise those, and
the `ValueError`s of transformers' argument parsing and `TrainingArguments` validation become `ArgumentError` here.
Anything else is unexpected and keeps its traceback, wherever it was raised.
"""

import difflib
import logging
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from transformers import HfArgumentParser

from .errors import ArgumentError, RunStopped, UserError, argument_errors
from .interop.loading import read_json_object
from .runs.arguments import check_recipe_values

logger = logging.getLogger(__name__)

_LONE_PERCENT = re.compile(r"(?<!%)%(?![(%])")  # a '%' that is not argparse's '%(name)s' or an escaped '%%'


def read_recipe(path: str | Path) -> dict:
    """A recipe: a JSON object of argument values; keys starting with '_' are comments. A recipe may not set what
    must be asked for on the command line (replacing a finished run)."""
    values = read_json_object(path, "Recipe file")
    check_recipe_values(values, f"Recipe {path}")
    return values


def build_parser(dataclass_types: Sequence[type]) -> HfArgumentParser:
    """HfArgumentParser whose help texts may contain a literal '%' (argparse would fail on '--help' otherwise)."""
    parser = HfArgumentParser(dataclass_types)
    for action in parser._actions:
        if action.help:
            action.help = _LONE_PERCENT.sub("%%", action.help)
    return parser


def parse_arguments(dataclass_types: Sequence[type], argv: Sequence[str] | None = None, **overrides) -> tuple:
    """Parse `[recipe.json] [--flag value ...]` into instances of `dataclass_types`.

    The recipe's values (then `overrides`, for callers in Python) replace the dataclasses' defaults; flags given on the
    command line override both. A recipe key that no dataclass has is an error."""
    parser = build_parser(dataclass_types)
    argv = list(sys.argv[1:] if argv is None else argv)
    values = {}
    if argv and argv[0].endswith(".json") and not argv[0].startswith("-"):
        values = read_recipe(argv.pop(0))
    values.update(overrides)
    if values:
        destinations = {action.dest for action in parser._actions}
        unknown = sorted(set(values) - destinations)
        if unknown:
            raise ArgumentError(f"Unknown argument(s) {unknown} in the recipe; see --help for the accepted names.")
        for action in parser._actions:
            if action.dest in values:
                action.required = False  # given by the recipe; a flag may still override it
        parser.set_defaults(**values)
    check_known_flags(parser, argv)
    with argument_errors():  # transformers' own checks of flag values (HfArgumentParser, TrainingArguments)
        return parser.parse_args_into_dataclasses(args=argv)


def check_known_flags(parser: HfArgumentParser, argv: Sequence[str]) -> None:
    """An unknown flag is an error naming it, with the closest known flags ("did you mean --max_steps?")."""
    # the flags as --help shows them (HfArgumentParser also accepts --max-steps for --max_steps)
    flags = [option for action in parser._actions for option in action.option_strings if "-" not in option[2:]]
    _, unknown = parser.parse_known_args(list(argv))
    given = [value.split("=", 1)[0] for value in unknown if value.startswith("-")]
    if given:
        hints = []
        for flag in given:
            close = difflib.get_close_matches(flag, flags, n=2, cutoff=0.75)
            hints.append(f"{flag} (did you mean {' or '.join(close)}?)" if close else flag)
        raise ArgumentError(f"Unknown flag(s): {', '.join(hints)}. See --help for the accepted flags.")


def setup_logging(arguments: Sequence) -> None:
    """INFO on the main process, warnings only on the others (one log per run under torchrun)."""
    process_index = next((getattr(a, "process_index") for a in arguments if hasattr(a, "process_index")), 0)
    logging.basicConfig(
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        level=logging.INFO if process_index == 0 else logging.WARNING,
        force=True,
    )
    if not sys.stderr.isatty():  # a log file gets the logged values, not progress bars redrawn with escape codes
        quiet_progress_bars()


def quiet_progress_bars() -> None:
    """Turn off the progress bars of datasets, transformers and huggingface_hub (the Trainer's follow
    `--disable_tqdm`, which gpt_hf's runs turn on without a terminal)."""
    import datasets
    import huggingface_hub.utils
    import transformers

    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()
    huggingface_hub.utils.disable_progress_bars()


def run_main(dataclass_types: Sequence[type], run: Callable, argv: Sequence[str] | None = None) -> int:
    """Parse the arguments, set up logging and call `run(*arguments)`; returns the exit code for `sys.exit`:
    0 on success, the error's exit code (2, or 1 for a failed upload) with a one-line message on a user error
    (`UserError`), 143 / 130 when SIGTERM / SIGINT stopped a training run
    after a complete checkpoint (with the line saying how to resume). Unexpected errors propagate with their
    traceback."""
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s", level=logging.WARNING)
    try:
        arguments = parse_arguments(dataclass_types, argv)
        setup_logging(arguments)
        result = run(*arguments)
    except RunStopped as stop:  # a signal stopped the run after a complete checkpoint: say how to resume
        logger.warning("%s", stop)
        return stop.exit_code
    except UserError as err:
        logger.error("error: %s", str(err) or type(err).__name__)
        return err.exit_code
    finally:
        end_process_group()
    return result if isinstance(result, int) and not isinstance(result, bool) else 0


def end_process_group() -> None:
    """A distributed run's process group, torn down before the interpreter exits (torch's advice): left to the
    interpreter's shutdown, gloo's threads can abort a process that has finished its work."""
    import torch.distributed

    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


def entry_points(dataclass_types: Sequence[type], run: Callable):
    """`parse(argv=None, **overrides)` and `main(argv=None) -> exit code` for a script whose run takes the
    instances of `dataclass_types` in order."""

    def parse(argv=None, **overrides):
        return parse_arguments(dataclass_types, argv, **overrides)

    def main(argv=None) -> int:
        return run_main(dataclass_types, run, argv)

    return parse, main
