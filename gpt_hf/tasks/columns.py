"""The normalised columns every task's rows are read into, whatever their source (a benchmark's `datasets` columns or
the user's file with `--text_column` and friends): text, text_pair, context, choices, label."""

from dataclasses import dataclass, field

import datasets

from ..errors import DataError

# Normalised columns an example can have, with the fine-tuning option that names the user's column for each.
INPUT_COLUMNS = {
    "text": "--text_column",
    "text_pair": "--text_pair_column",
    "context": "--context_column",
    "choices": "--choice_columns",
}


@dataclass(frozen=True)
class ColumnSources:
    """Which source columns fill each normalised column: `inputs` maps a normalised column to its source columns
    (several context columns are joined; several choice columns, or one holding a list, make the choices);
    `label_map` lists string labels in id order (RACE's letters), for sources whose labels are not ids."""

    inputs: dict[str, list[str]]
    label: str = "label"
    label_map: tuple[str, ...] | None = None
    required: list[str] = field(init=False)

    def __post_init__(self):
        object.__setattr__(self, "required", [c for sources in self.inputs.values() for c in sources] + [self.label])


def normalise_columns(raw, sources: ColumnSources) -> datasets.DatasetDict:
    """Every split in the normalised columns; a split with no rows or without a source column is an error (a test
    split may lack the label: it is only predicted)."""
    normalised = datasets.DatasetDict()
    for split, dataset in raw.items():
        if len(dataset) == 0:
            raise DataError(f"The {split} split has no rows.")
        missing = sorted({c for c in sources.required if c not in dataset.column_names})
        if split == "test" and missing == [sources.label]:  # an unlabelled test file: predictions only
            missing = []
        if missing:
            raise DataError(f"Column(s) {missing} not in the {split} split; its columns are {dataset.column_names}.")
        normalised[split] = dataset.map(
            lambda batch: _normalise(batch, sources),
            batched=True,
            remove_columns=dataset.column_names,
            desc=f"Normalising {split}",
        )
    return normalised


def _normalise(batch, sources: ColumnSources) -> dict:
    columns, out = sources.inputs, {}
    for column in ("text", "text_pair"):
        if columns.get(column):
            out[column] = [str(t) if t is not None else "" for t in batch[columns[column][0]]]
    if columns.get("context"):
        out["context"] = [" ".join(str(p) for p in parts) for parts in zip(*(batch[c] for c in columns["context"]))]
    if columns.get("choices"):
        if len(columns["choices"]) == 1:  # one column holding the list of choices
            out["choices"] = [list(map(str, choices)) for choices in batch[columns["choices"][0]]]
        else:
            out["choices"] = [list(map(str, row)) for row in zip(*(batch[c] for c in columns["choices"]))]
    any_column = next(iter(batch.values()))
    labels = batch[sources.label] if sources.label in batch else [None] * len(any_column)
    if sources.label_map is not None:
        labels = [sources.label_map.index(str(label)) for label in labels]
    out["label"] = labels
    return out
