"""Labels into model targets, one encoder per prediction kind (class ids with their names, multi-hot rows, real
scores) and one for choice indices, with the checks that name the offending rows: a non-numeric score, a single
class, a label unseen in training, a choice index outside the choices. The rows of `prediction_kinds.PREDICTION_KINDS`
and `labels.LABEL_FORMATS` name these functions; nothing else calls them by kind.

Each works on a `datasets.DatasetDict` whose splits have a normalised `label` column; `unlabelled` names the splits to
predict only (a test split with no labels), which lose their label column. Encoders return the relabelled splits, the
number of head outputs and the class names (`id2label`, or None).
"""

import math

import datasets

from ..errors import DataError


def is_missing(value) -> bool:
    return (
        value is None
        or (isinstance(value, float) and math.isnan(value))
        or (isinstance(value, str) and not value.strip())
    )


def describe_rows(indices: list[int]) -> str:
    shown = ", ".join(map(str, indices[:8]))
    return f"row(s) {shown}{', ...' if len(indices) > 8 else ''} (0-based, header excluded; {len(indices)} in all)"


def as_float(value, split: str, index: int) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise DataError(
            f"Regression labels must be numbers; the {split} split has {value!r} in row {index}. "
            "Fix the label, or fine-tune for classification (--task classification)."
        ) from None


def class_key(value):
    """Class ids compared across splits: 1, 1.0 and True are one class; strings stay strings."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _replace_labels(raw, unlabelled: set[str], convert) -> datasets.DatasetDict:
    out = datasets.DatasetDict()
    for split, dataset in raw.items():
        if split in unlabelled:
            out[split] = dataset.remove_columns("label")  # unlabelled test set: predict only
            continue
        # a new column (not an in-place map): datasets would cast the new values to the old column's type
        values = [convert(label, split, index) for index, label in enumerate(dataset["label"])]
        out[split] = dataset.remove_columns("label").add_column("label", values)
    return out


def check_scores(raw, unlabelled: set[str]) -> None:
    """Every label of a labelled split is a number (named by row before any encoding)."""
    for split, dataset in raw.items():
        if split not in unlabelled:
            for index, label in enumerate(dataset["label"]):
                as_float(label, split, index)


def encode_scores(raw, unlabelled: set[str]):
    scored = _replace_labels(raw, unlabelled, as_float)
    if "test" in scored and "label" in scored["test"].column_names and all(v == -1 for v in scored["test"]["label"]):
        scored["test"] = scored["test"].remove_columns("label")  # GLUE's unlabelled test set: predict only
    return scored, 1, None


def _training_classes(raw, unlabelled: set[str], multi: bool) -> list:
    """The classes of the training split, in a stable order; an evaluation label unseen in training is an error."""
    seen = sorted(
        {class_key(v) for label in raw["train"]["label"] for v in (label if multi else [label]) if v != -1},
        key=lambda v: (isinstance(v, str), v),
    )
    if len(seen) < 2 and not multi:
        raise DataError(
            f"The training split has {len(seen)} distinct label(s) {seen}; classification needs at "
            "least two classes (or pass --task regression for scores)."
        )
    for split, dataset in raw.items():
        if split == "train" or split in unlabelled:
            continue
        values = {class_key(v) for label in dataset["label"] for v in (label if multi else [label]) if v != -1}
        unknown = values - set(seen)
        if unknown:
            raise DataError(
                f"The {split} split has labels {sorted(map(str, unknown))} that never occur in training "
                f"(training labels: {sorted(map(str, seen))})."
            )
    return seen


def encode_class_ids(raw, unlabelled: set[str]):
    seen = _training_classes(raw, unlabelled, multi=False)
    label2id = {value: index for index, value in enumerate(seen)}
    relabelled = _replace_labels(raw, unlabelled, lambda label, split, index: label2id.get(class_key(label), -1))
    for split in list(relabelled):
        if "label" not in relabelled[split].column_names:
            continue
        if split == "test" and all(label == -1 for label in relabelled[split]["label"]):
            relabelled[split] = relabelled[split].remove_columns("label")  # unlabelled test set: predict only
        else:
            relabelled[split] = relabelled[split].filter(lambda row: row["label"] != -1)  # GLUE / SNLI use -1
    return relabelled, len(seen), {index: str(value) for index, value in enumerate(seen)}


def encode_multi_hot(raw, unlabelled: set[str]):
    seen = _training_classes(raw, unlabelled, multi=True)

    def multi_hot(label, split, index):
        if not isinstance(label, (list, tuple)):
            raise DataError(f"Multi-label rows need a list of labels; the {split} split has {label!r} in row {index}.")
        present = {class_key(v) for v in label}
        return [float(v in present) for v in seen]

    return _replace_labels(raw, unlabelled, multi_hot), len(seen), {i: str(v) for i, v in enumerate(seen)}


def encode_choice_indices(raw, unlabelled: set[str]):
    """Multiple-choice labels are indices of the right choice: integers in [0, number of choices)."""
    for split, dataset in raw.items():
        if split in unlabelled:
            continue
        bad = [
            (index, label)
            for index, (label, choices) in enumerate(zip(dataset["label"], dataset["choices"]))
            if not (class_key(label) in range(len(choices)) and not isinstance(label, (bool, str)))
        ]
        if bad:
            index, label = bad[0]
            raise DataError(
                "Multiple-choice labels must be the index of the right choice "
                f"(0 to {len(dataset[index]['choices']) - 1}); "
                f"the {split} split has {label!r} in {describe_rows([i for i, _ in bad])}."
            )
    return _replace_labels(raw, unlabelled, lambda label, split, index: int(label)), 1, None
