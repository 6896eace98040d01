"""Labels of a fine-tuning task: checks that name the offending rows (blank labels, choice indices outside the
choices, non-numeric scores, a single class, labels unseen in training) and the encoding into model targets
(class ids with `id2label`, multi-hot vectors, float scores), with the problem type inferred from the labels.

Works on `datasets.DatasetDict`s whose splits have a normalised `label` column (and `choices` for multiple choice).
A task type (`task_types.TaskType.labels`) says which of LABEL_FORMATS its labels come in.
"""

import math
from dataclasses import dataclass

import datasets

from .errors import DataError
from .metrics import KIND_OF_PROBLEM_TYPE, PredictionKind

# How a task's labels come: "classes" (class names or ids; lists of them are multi-label; real numbers are scores),
# "scores" (always regression) or "choice" (the index of the right choice among an example's choices).
LABEL_FORMATS = ("classes", "scores", "choice")


@dataclass
class LabelInfo:
    problem_type: str
    num_labels: int
    id2label: dict[int, str] | None

    @property
    def kind(self) -> PredictionKind:
        """How predictions are read from logits, scored and written (a row of metrics.PREDICTION_KINDS)."""
        return KIND_OF_PROBLEM_TYPE[self.problem_type]


def _is_missing(value) -> bool:
    return (
        value is None
        or (isinstance(value, float) and math.isnan(value))
        or (isinstance(value, str) and not value.strip())
    )


def describe_rows(indices: list[int]) -> str:
    shown = ", ".join(map(str, indices[:8]))
    return f"row(s) {shown}{', ...' if len(indices) > 8 else ''} (0-based, header excluded; {len(indices)} in all)"


def check_missing_labels(raw) -> set[str]:
    """Raise for a blank label in a labelled split; returns the splits to predict only (a test split with no labels
    at all). Blank cells would otherwise turn an integer column into floats, read as regression."""
    unlabelled = set()
    for split, dataset in raw.items():
        missing = [i for i, label in enumerate(dataset["label"]) if _is_missing(label)]
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


def infer_problem_type(label_format: str, labels: list) -> str:
    """regression for real-valued scores, multi_label for lists of labels, else single-label classification;
    integral floats (an integer column that once held blanks) are class ids, not scores."""
    present = [label for label in labels if not _is_missing(label)]
    if label_format == "scores":
        return "regression"
    if any(isinstance(label, (list, tuple)) for label in present):
        return "multi_label_classification"
    if any(isinstance(label, float) and not label.is_integer() for label in present):
        return "regression"
    return "single_label_classification"


def _as_float(value, split: str, index: int) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise DataError(
            f"Regression labels must be numbers; the {split} split has {value!r} in row {index}. "
            "Fix the label, or fine-tune for classification (--task classification)."
        ) from None


def _class_key(value):
    """Class ids compared across splits: 1, 1.0 and True are one class; strings stay strings."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def encode_labels(raw, label_format: str, problem_type: str | None):
    """Turn labels into model targets; returns the relabelled DatasetDict and LabelInfo. Class names and ids are
    taken from the training split; an evaluation label unseen in training, a blank label, a non-numeric regression
    score or a choice index outside the choices is an error naming the rows."""
    unlabelled = check_missing_labels(raw)
    if label_format == "choice":
        return _check_choice_labels(raw, unlabelled), LabelInfo("single_label_classification", 1, None)
    train_labels = list(raw["train"]["label"])
    if problem_type is None:
        problem_type = infer_problem_type(label_format, train_labels)

    def replace_labels(convert):
        out = datasets.DatasetDict()
        for split, dataset in raw.items():
            if split in unlabelled:
                out[split] = dataset.remove_columns("label")  # unlabelled test set: predict only
                continue
            # a new column (not an in-place map): datasets would cast the new values to the old column's type
            values = [convert(label, split, index) for index, label in enumerate(dataset["label"])]
            out[split] = dataset.remove_columns("label").add_column("label", values)
        return out

    if problem_type == "regression":
        scored = replace_labels(_as_float)
        if (
            "test" in scored
            and "label" in scored["test"].column_names
            and all(v == -1 for v in scored["test"]["label"])
        ):
            scored["test"] = scored["test"].remove_columns("label")  # GLUE's unlabelled test set: predict only
        return scored, LabelInfo(problem_type, 1, None)
    multi = problem_type == "multi_label_classification"
    seen = sorted(
        {_class_key(v) for label in train_labels for v in (label if multi else [label]) if v != -1},
        key=lambda v: (isinstance(v, str), v),
    )
    if len(seen) < 2 and not multi:
        raise DataError(
            f"The training split has {len(seen)} distinct label(s) {seen}; classification needs at "
            "least two classes (or pass --task regression for scores)."
        )
    label2id = {value: index for index, value in enumerate(seen)}
    for split, dataset in raw.items():
        if split == "train" or split in unlabelled:
            continue
        values = {_class_key(v) for label in dataset["label"] for v in (label if multi else [label]) if v != -1}
        unknown = values - set(label2id)
        if unknown:
            raise DataError(
                f"The {split} split has labels {sorted(map(str, unknown))} that never occur in training "
                f"(training labels: {sorted(map(str, label2id))})."
            )

    def relabel(label, split, index):
        if multi:
            if not isinstance(label, (list, tuple)):
                raise DataError(
                    f"Multi-label rows need a list of labels; the {split} split has {label!r} in row {index}."
                )
            present = {_class_key(v) for v in label}
            return [float(v in present) for v in seen]
        return label2id.get(_class_key(label), -1)

    relabelled = replace_labels(relabel)
    for split in list(relabelled):
        if multi or "label" not in relabelled[split].column_names:
            continue
        if split == "test" and all(label == -1 for label in relabelled[split]["label"]):
            relabelled[split] = relabelled[split].remove_columns("label")  # unlabelled test set: predict only
        else:
            relabelled[split] = relabelled[split].filter(lambda row: row["label"] != -1)  # GLUE / SNLI use -1
    id2label = {index: str(value) for value, index in label2id.items()}
    return relabelled, LabelInfo(problem_type, len(seen), id2label)


def check_labels(raw, label_format: str, problem_type: str | None) -> None:
    """The label checks that name rows: blanks, choice indices, non-numeric regression scores."""
    unlabelled = check_missing_labels(raw)
    if label_format == "choice":
        _check_choice_labels(raw, unlabelled)
    elif label_format == "scores" or problem_type == "regression":
        for split, dataset in raw.items():
            if split not in unlabelled:
                for index, label in enumerate(dataset["label"]):
                    _as_float(label, split, index)


def _check_choice_labels(raw, unlabelled: set[str]):
    """Multiple-choice labels are indices of the right choice: integers in [0, number of choices)."""
    for split, dataset in raw.items():
        if split in unlabelled:
            continue
        bad = [
            (index, label)
            for index, (label, choices) in enumerate(zip(dataset["label"], dataset["choices"]))
            if not (_class_key(label) in range(len(choices)) and not isinstance(label, (bool, str)))
        ]
        if bad:
            index, label = bad[0]
            raise DataError(
                "Multiple-choice labels must be the index of the right choice "
                f"(0 to {len(dataset[index]['choices']) - 1}); "
                f"the {split} split has {label!r} in {describe_rows([i for i, _ in bad])}."
            )
    return datasets.DatasetDict(
        {
            split: dataset.remove_columns("label")
            if split in unlabelled
            else dataset.remove_columns("label").add_column("label", [int(v) for v in dataset["label"]])
            for split, dataset in raw.items()
        }
    )
