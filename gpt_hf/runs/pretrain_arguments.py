"""What pretraining takes: the model to train, the corpus and its blocks, and the GPT-1 pretraining recipe as
`TrainingArguments` defaults (with the short-run warmup derived from the run's length); `PRETRAIN_ARGUMENTS` is what
scripts/pretrain.py parses, `pretrain_arguments` the same from a recipe file for library callers (the studies)."""

import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

from transformers import HfArgumentParser, SchedulerType

from ..data.arguments import STREAMING_TOKENIZER_DOCUMENTS, CorpusArguments
from ..errors import ArgumentError, argument_errors, check_at_least_one
from ..interop.loading import ModelLoadingArguments, read_json_object
from .arguments import TrainerDefaults, check_recipe_values

logger = logging.getLogger(__name__)


@dataclass
class PretrainModelArguments(ModelLoadingArguments):
    """Which model pretraining trains: a new one (a preset or config JSON, with overrides) or a folder continued."""

    model_name_or_path: str | None = field(
        default=None, metadata={"help": "A gpt_hf model folder to continue from (its config and weights)."}
    )
    config_name: str | None = field(
        default=None, metadata={"help": "New model: a preset (gpt1, gpt2-small, gpt2-medium, tiny) or a config JSON."}
    )
    config_overrides: str | None = field(
        default=None, metadata={"help": "JSON object of config fields to override, e.g. '{\"n_layer\": 4}'."}
    )

    def __post_init__(self):
        super().__post_init__()
        if self.model_name_or_path and self.config_name:
            raise ArgumentError("Pass --model_name_or_path (continue) or --config_name (new model), not both.")
        if self.config_overrides is not None:
            try:
                overrides = json.loads(self.config_overrides)
            except json.JSONDecodeError as err:
                raise ArgumentError(
                    f"--config_overrides is not valid JSON ({err}): {self.config_overrides!r}"
                ) from None
            if not isinstance(overrides, dict):
                raise ArgumentError(f"--config_overrides must be a JSON object, got {self.config_overrides!r}.")

    @property
    def overrides(self) -> dict:
        return json.loads(self.config_overrides) if self.config_overrides else {}


@dataclass
class PretrainTrainingArguments(TrainerDefaults):
    """Pretraining's TrainingArguments: the GPT-1 pretraining recipe as defaults (all overridable)."""

    learning_rate: float = field(default=2.5e-4, metadata={"help": "Peak learning rate (paper: 2.5e-4)."})
    lr_scheduler_type: SchedulerType | str = field(default="cosine", metadata={"help": "Paper: cosine annealing to 0."})
    warmup_steps: float = field(
        default=2000, metadata={"help": "Linear warmup steps (paper: 2000); a value < 1 is a fraction of the run."}
    )
    short_run_warmup_fraction: float = field(
        default=0.1,
        metadata={
            "help": "If warmup_steps exceed this fraction of the run's steps, warmup becomes that fraction "
            "(so short runs still decay); 0 keeps warmup_steps as given."
        },
    )

    _warmup_noted: int | None = field(default=None, init=False, repr=False)  # the shortened warmup already logged

    def __post_init__(self):
        super().__post_init__()
        if not 0.0 <= self.short_run_warmup_fraction < 1.0:
            raise ArgumentError(f"short_run_warmup_fraction must be in [0, 1), got {self.short_run_warmup_fraction}.")

    def get_warmup_steps(self, num_training_steps: int) -> int:
        """The paper's 2000 warmup steps would be a whole short run: over `short_run_warmup_fraction` of the run's
        steps, warm up over that fraction instead (derived here, from the unchanged arguments)."""
        fraction = self.short_run_warmup_fraction
        if fraction and self.warmup_steps >= 1 and self.warmup_steps > fraction * num_training_steps:
            shortened = math.ceil(num_training_steps * fraction)
            if self._warmup_noted != shortened:  # said once per run (the run's record asks again)
                self._warmup_noted = shortened
                logger.info(
                    "Warmup of %d steps is over %.0f%% of a %d-step run: warming up over %d steps instead.",
                    self.warmup_steps,
                    fraction * 100,
                    num_training_steps,
                    shortened,
                )
            return shortened
        return super().get_warmup_steps(num_training_steps)


@dataclass
class PretrainDataArguments(CorpusArguments):
    data_dir: str | None = field(
        default=None,
        metadata={
            "help": "A token store prepared by scripts/prepare_data.py: train from its shards "
            "(the corpus tokenised once; O(1) resume). Replaces the text arguments."
        },
    )
    block_size: int | None = field(
        default=None, metadata={"help": "Tokens per training block (default and maximum: the model's n_positions)."}
    )
    streaming: bool = field(
        default=False,
        metadata={
            "help": "Read, tokenise and pack the corpus on the fly (datasets streaming): memory "
            "and start-up time do not grow with the corpus, nothing is cached. Needs "
            "--max_steps; resuming replays the consumed stream (no model compute)."
        },
    )
    shuffle_buffer_size: int = field(
        default=10_000, metadata={"help": "With --streaming: documents in the seeded shuffle buffer."}
    )
    sample_prompt: str = field(
        default="The", metadata={"help": "Prompt for the sample continuation logged at the end ('' to skip)."}
    )

    def __post_init__(self):
        super().__post_init__()
        check_at_least_one(self, "shuffle_buffer_size")
        if self.block_size is not None and self.block_size < 2:
            raise ArgumentError(f"--block_size must be >= 2, got {self.block_size}.")
        if self.data_dir is not None:
            given = [
                flag
                for flag, value in (
                    ("--train_files", self.train_files),
                    ("--dataset_name", self.dataset_name),
                    ("--validation_files", self.validation_files),
                    ("--streaming", self.streaming),
                )
                if value
            ]
            if given:
                raise ArgumentError(
                    f"--data_dir trains from a prepared token store; {', '.join(given)} would "
                    "describe another corpus: leave them out (they are the store's own, chosen when "
                    "it was prepared)."
                )
        if self.streaming and self.tokenizer_train_documents is None:
            self.tokenizer_train_documents = STREAMING_TOKENIZER_DOCUMENTS


# What pretrain.py parses (a recipe JSON and flags), in the order `pretrain` takes them.
PRETRAIN_ARGUMENTS = (PretrainModelArguments, PretrainDataArguments, PretrainTrainingArguments)


def pretrain_arguments(recipe: str | Path, **overrides) -> tuple:
    """`pretrain`'s arguments from a recipe JSON (as scripts/pretrain.py takes it) with `overrides` on top: for a
    library caller such as a study, without the command line."""
    from_file = read_json_object(recipe, "Recipe file")
    check_recipe_values(from_file, f"Recipe {recipe}")
    values = {**from_file, **overrides}
    with argument_errors(f"Recipe {recipe}: "):  # an unknown key, or transformers' own check of a value
        return HfArgumentParser(PRETRAIN_ARGUMENTS).parse_dict(values)
