"""The task types fine-tuning knows, one spec each.

A `TaskType` says everything fine-tuning needs to know about a kind of task: which normalised columns its examples
have (`columns.INPUT_COLUMNS`), the paper's input transform that turns them into token rows, the head that reads the
rows (an Auto class of `modeling_gpt_hf.HEADS`, which also gives the Hub pipeline tag), and the format of its labels
(`labels.LABEL_FORMATS`), which decides how labels are checked and encoded, how predictions are read and which metrics
are reported. Fine-tuning, the model card and the metrics look a task type up here; nothing branches on its name. A
new task type is one `register_task_type(TaskType(...))` call (plus its transform, and its head if that is new too):

    register_task_type(TaskType("reversed", inputs=("text",),
                                transform=lambda transform, texts: transform.classification([t[::-1] for t in texts])))

A spec's `check` reports bad data by raising `gpt_hf.errors.DataError` (a plain `ValueError` is converted to one): the
command line shows it as one `error:` line, like every check of gpt_hf's own.
"""

from collections.abc import Callable
from dataclasses import dataclass

from ..errors import ArgumentError, DataError, argument_errors
from ..model.modeling_gpt_hf import HEADS
from .columns import INPUT_COLUMNS
from .labels import LABEL_FORMATS, LabelFormat
from .transforms import TaskTransform


@dataclass(frozen=True)
class TaskType:
    """One kind of fine-tuning task.

    name: what `--task` takes.
    inputs: the normalised columns the transform reads, in the order it takes them (keys of INPUT_COLUMNS).
    transform: (TaskTransform, *one list per input column) -> {"input_ids": one row, or a list of rows, per example}.
    auto_class: the head that reads the rows, a key of modeling_gpt_hf.HEADS.
    labels: a key of labels.LABEL_FORMATS: "classes" (class names or ids; lists of them = multi-label; real numbers =
        regression), "scores" (always regression) or "choice" (the index of the right row among an example's rows).
    check: optional check of the whole normalised DatasetDict before the transform runs (raise DataError).
    """

    name: str
    inputs: tuple[str, ...]
    transform: Callable[..., dict]
    auto_class: str = "AutoModelForSequenceClassification"
    labels: str = "classes"
    check: Callable | None = None

    def __post_init__(self):
        unknown = [column for column in self.inputs if column not in INPUT_COLUMNS]
        if not self.inputs or unknown:
            raise ValueError(
                f"Task type {self.name!r}: inputs {self.inputs} must be a non-empty tuple of {tuple(INPUT_COLUMNS)}."
            )
        if self.auto_class not in HEADS:
            raise ValueError(f"Task type {self.name!r}: auto_class {self.auto_class!r} is not one of {sorted(HEADS)}.")
        if self.labels not in LABEL_FORMATS:
            raise ValueError(f"Task type {self.name!r}: labels {self.labels!r} is not one of {tuple(LABEL_FORMATS)}.")

    @property
    def label_format(self) -> LabelFormat:
        return LABEL_FORMATS[self.labels]

    def encode(self, transform: TaskTransform, batch: dict) -> dict:
        """Token rows for a `datasets` batch of normalised columns."""
        return self.transform(transform, *(batch[column] for column in self.inputs))

    def build_inputs(self, raw, transform: TaskTransform):
        """The spec's own check of the data, then its transform over every split (datasets.map, batched)."""
        if self.check is not None:
            with argument_errors(f"Task type {self.name!r}: ", error_type=DataError):  # an extension's ValueError
                self.check(raw)
        return raw.map(lambda batch: self.encode(transform, batch), batched=True, desc=f"Building {self.name} inputs")


def check_same_choice_count(raw) -> None:
    """Multiple-choice rows are stacked into (B, C, T): every example needs the same number of choices."""
    counts = {split: {len(choices) for choices in dataset["choices"]} for split, dataset in raw.items()}
    every = set().union(*counts.values())
    if len(every) > 1:
        where = ", ".join(f"{split}: {sorted(found)}" for split, found in counts.items())
        raise DataError(
            f"The data mixes rows with {sorted(every)} choices ({where}); every multiple-choice row "
            "needs the same number of choices."
        )


TASK_TYPES: dict[str, TaskType] = {}


def register_task_type(task_type: TaskType, replace: bool = False) -> TaskType:
    """Make a task type available to fine-tuning (`--task NAME`); returns it."""
    if task_type.name in TASK_TYPES and not replace:
        raise ValueError(f"Task type {task_type.name!r} is already registered; pass replace=True to redefine it.")
    TASK_TYPES[task_type.name] = task_type
    return task_type


def get_task_type(name: str | None) -> TaskType:
    if name not in TASK_TYPES:
        raise ArgumentError(f"Unknown task {name!r}; choose one of {tuple(TASK_TYPES)} (or pass --benchmark).")
    return TASK_TYPES[name]


# The paper's transforms (Figure 1); see tasks.transforms for the token layouts.
for _task_type in (
    TaskType("classification", ("text",), TaskTransform.classification),
    TaskType("regression", ("text",), TaskTransform.classification, labels="scores"),
    TaskType("entailment", ("text", "text_pair"), TaskTransform.entailment),
    TaskType("similarity", ("text", "text_pair"), TaskTransform.similarity),  # class ids, or scores (STS-B)
    TaskType(
        "multiple_choice",
        ("context", "choices"),
        TaskTransform.multiple_choice,
        auto_class="AutoModelForMultipleChoice",
        labels="choice",
        check=check_same_choice_count,
    ),
):
    register_task_type(_task_type)
