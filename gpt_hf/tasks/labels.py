"""Label formats: how a task type's labels come in the data, one row of `LABEL_FORMATS` each. A row says which
problem type the labels mean (inferred from them, or the user's `--problem_type`), which checks name offending rows
before the data is split, how they are encoded into targets, and which config fields the head takes from them.
Fine-tuning and the task types read a row and never branch on a format's name; a new format is one row here.

    classes   class names or ids; lists of them are multi-label; real numbers are scores (regression)
    scores    always regression
    choice    the index of the right choice among an example's choices (multiple choice)

Works on `datasets.DatasetDict`s whose splits have a normalised `label` column (and `choices` for multiple choice).
"""

from collections.abc import Callable
from dataclasses import dataclass

from ..errors import DataError
from .prediction_kinds import KIND_OF_PROBLEM_TYPE, LabelInfo
from .targets import describe_rows, encode_choice_indices, is_missing


def check_missing_labels(raw) -> set[str]:
    """Raise for a blank label in a labelled split; returns the splits to predict only (a test split with no labels
    at all). Blank cells would otherwise turn an integer column into floats, read as regression."""
    unlabelled = set()
    for split, dataset in raw.items():
        missing = [i for i, label in enumerate(dataset["label"]) if is_missing(label)]
        if split == "test" and len(missing) == len(dataset):
            unlabelled.add(split)
        elif missing:
            raise DataError(
                f"The label column is blank in {describe_rows(missing)} of the {split} split; fill or drop those rows"
                + (
                    " (a test split may also have no labels at all: then it is only predicted)."
                    if split == "test"
                    else "."
                )
            )
    return unlabelled


def infer_problem_type(labels: list) -> str:
    """regression for real-valued scores, multi_label for lists of labels, else single-label classification;
    integral floats (an integer column that once held blanks) are class ids, not scores."""
    present = [label for label in labels if not is_missing(label)]
    if any(isinstance(label, (list, tuple)) for label in present):
        return "multi_label_classification"
    if any(isinstance(label, float) and not label.is_integer() for label in present):
        return "regression"
    return "single_label_classification"


def _kind_targets(raw, problem_type: str, unlabelled: set[str]) -> tuple:
    return KIND_OF_PROBLEM_TYPE[problem_type].encode_targets(raw, unlabelled)


def _kind_check(raw, problem_type: str, unlabelled: set[str]) -> None:
    KIND_OF_PROBLEM_TYPE[problem_type].check_labels(raw, unlabelled)


def _head_fields(labels: LabelInfo) -> dict:
    """A classification or regression head: its outputs, its loss (the problem type) and the class names."""
    fields = dict(num_labels=labels.num_labels, problem_type=labels.problem_type)
    if labels.id2label:
        fields.update(id2label=labels.id2label, label2id={v: k for k, v in labels.id2label.items()})
    return fields


@dataclass(frozen=True)
class LabelFormat:
    """One way labels come in the data.

    name: what `TaskType.labels` names.
    problem_type: (the training split's labels, the user's --problem_type or None) -> transformers' problem type.
    check: (splits, problem type, unlabelled split names) -> None; the checks that name rows, before the hold-out.
    targets: (splits, problem type, unlabelled split names) -> (splits with targets, head outputs, id2label or None).
    head_fields: LabelInfo -> the config fields the task head is built with.
    """

    name: str
    problem_type: Callable[[list, str | None], str]
    check: Callable = _kind_check
    targets: Callable = _kind_targets
    head_fields: Callable[[LabelInfo], dict] = _head_fields

    def encode(self, raw, given_problem_type: str | None = None):
        """Turn labels into model targets; returns the relabelled DatasetDict and its LabelInfo. Class names and ids
        come from the training split; a blank label, an evaluation label unseen in training, a non-numeric score or
        a choice index outside the choices is an error naming the rows."""
        unlabelled = check_missing_labels(raw)
        problem_type = self.problem_type(list(raw["train"]["label"]), given_problem_type)
        encoded, num_labels, id2label = self.targets(raw, problem_type, unlabelled)
        return encoded, LabelInfo(problem_type, num_labels, id2label)

    def check_rows(self, raw, given_problem_type: str | None = None) -> None:
        """The label checks that name rows (blanks, non-numeric scores, choice indices), on the data as read."""
        unlabelled = check_missing_labels(raw)
        self.check(raw, self.problem_type(list(raw["train"]["label"]), given_problem_type), unlabelled)


LABEL_FORMATS = {
    fmt.name: fmt
    for fmt in (
        LabelFormat("classes", lambda labels, given: given or infer_problem_type(labels)),
        LabelFormat("scores", lambda labels, given: "regression"),
        LabelFormat(
            "choice",  # the choice head scores each row: one output, no class names; read as classification
            lambda labels, given: "single_label_classification",
            check=lambda raw, problem_type, unlabelled: encode_choice_indices(raw, unlabelled),
            targets=lambda raw, problem_type, unlabelled: encode_choice_indices(raw, unlabelled),
            head_fields=lambda labels: {},
        ),
    )
}
