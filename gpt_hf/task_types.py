"""The task types fine-tuning knows, one spec each, and the ready-made benchmarks that map onto them.

A `TaskType` says everything fine-tuning needs to know about a kind of task: which normalised columns its examples
have, the paper's input transform that turns them into token rows, the head that reads the rows (an Auto class of
`modeling_gpt_hf.HEADS`, which also gives the Hub pipeline tag), and the kind of label (`labels.LABEL_FORMATS`),
which decides how labels are checked and encoded, how predictions are read and which metrics are reported.
Fine-tuning, the model card and the metrics look a task type up here; nothing branches on its name. A new task
type is one `register_task_type(TaskType(...))` call (plus its transform, and its head if that is new too):

    register_task_type(TaskType("reversed", inputs=("text",),
                                transform=lambda transform, texts: transform.classification([t[::-1] for t in texts])))
"""

from collections.abc import Callable
from dataclasses import dataclass

from .errors import ArgumentError, DataError
from .labels import LABEL_FORMATS
from .modeling_gpt_hf import HEADS
from .tasks import TaskTransform

# Normalised columns an example can have, with the fine-tuning option that names the user's column for each.
INPUT_COLUMNS = {
    "text": "--text_column",
    "text_pair": "--text_pair_column",
    "context": "--context_column",
    "choices": "--choice_columns",
}


@dataclass(frozen=True)
class TaskType:
    """One kind of fine-tuning task.

    name: what `--task` takes.
    inputs: the normalised columns the transform reads, in the order it takes them (keys of INPUT_COLUMNS).
    transform: (TaskTransform, *one list per input column) -> {"input_ids": one row, or a list of rows, per example}.
    auto_class: the head that reads the rows, a key of modeling_gpt_hf.HEADS.
    labels: "classes" (class names or ids; lists of them = multi-label; real numbers = regression), "scores" (always
        regression) or "choice" (the index of the right row among an example's rows).
    check: optional check of the whole normalised DatasetDict before the transform runs (raise ValueError).
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
            raise ValueError(f"Task type {self.name!r}: labels {self.labels!r} is not one of {LABEL_FORMATS}.")

    def encode(self, transform: TaskTransform, batch: dict) -> dict:
        """Token rows for a `datasets` batch of normalised columns."""
        return self.transform(transform, *(batch[column] for column in self.inputs))


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


# The paper's transforms (Figure 1); see gpt_hf.tasks for the token layouts.
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


@dataclass(frozen=True)
class Benchmark:
    """How a benchmark's `datasets` columns map onto a task type."""

    task: str
    dataset: tuple[str, str | None]
    text: str | None = None
    text_pair: str | None = None
    context: tuple[str, ...] = ()
    choices: tuple[str, ...] = ()
    label: str = "label"
    metric: str = "accuracy"
    problem_type: str | None = None
    validation_split: str = "validation"
    label_map: tuple[str, ...] | None = None  # string labels in id order (RACE's letters)


BENCHMARKS = {
    "cola": Benchmark("classification", ("nyu-mll/glue", "cola"), text="sentence", metric="mcc"),
    "sst2": Benchmark("classification", ("nyu-mll/glue", "sst2"), text="sentence"),
    "mrpc": Benchmark("similarity", ("nyu-mll/glue", "mrpc"), text="sentence1", text_pair="sentence2", metric="f1"),
    "qqp": Benchmark("similarity", ("nyu-mll/glue", "qqp"), text="question1", text_pair="question2", metric="f1"),
    "stsb": Benchmark(
        "similarity",
        ("nyu-mll/glue", "stsb"),
        text="sentence1",
        text_pair="sentence2",
        metric="pearson",
        problem_type="regression",
    ),
    "mnli": Benchmark(
        "entailment",
        ("nyu-mll/glue", "mnli"),
        text="premise",
        text_pair="hypothesis",
        validation_split="validation_matched",
    ),
    "qnli": Benchmark("entailment", ("nyu-mll/glue", "qnli"), text="question", text_pair="sentence"),
    "rte": Benchmark("entailment", ("nyu-mll/glue", "rte"), text="sentence1", text_pair="sentence2"),
    "snli": Benchmark("entailment", ("stanfordnlp/snli", None), text="premise", text_pair="hypothesis"),
    "scitail": Benchmark("entailment", ("allenai/scitail", "tsv_format"), text="premise", text_pair="hypothesis"),
    "race": Benchmark(
        "multiple_choice",
        ("ehovy/race", "all"),
        context=("article", "question"),
        choices=("options",),
        label="answer",
        label_map=("A", "B", "C", "D"),
    ),
    "story_cloze": Benchmark(
        "multiple_choice",
        ("LSDSem/story_cloze", "2016"),
        context=("input_sentence_1", "input_sentence_2", "input_sentence_3", "input_sentence_4"),
        choices=("sentence_quiz1", "sentence_quiz2"),
        label="answer_right_ending",
        label_map=("1", "2"),
    ),
    "swag": Benchmark(
        "multiple_choice",
        ("allenai/swag", "regular"),
        context=("sent1", "sent2"),
        choices=("ending0", "ending1", "ending2", "ending3"),
    ),
}
