"""Labelled rows checked before fine-tuning, beyond their labels (`labels.py`): rows whose text is empty or only
whitespace (an error, unless the user opts in to dropping them), and rows of the validation / test splits that repeat
a training row (leakage that inflates scores: a warning with counts). Both are reported with counts and the first row
numbers, and recorded for results.json.

Works on the normalised columns of a task's splits: text, text_pair, context, choices.
"""

import logging

from .errors import DataError
from .labels import describe_rows

logger = logging.getLogger(__name__)

TEXT_COLUMNS = ("text", "text_pair")  # each must hold text; a choice row needs at least one non-empty choice


def _blank(value) -> bool:
    return value is None or not str(value).strip()


def empty_rows(dataset) -> list[int]:
    """Rows with nothing to read: an empty text (or text pair), or only empty choices."""
    columns = [c for c in TEXT_COLUMNS if c in dataset.column_names]
    choices = dataset["choices"] if "choices" in dataset.column_names else None
    return [
        index
        for index, row in enumerate(zip(*(dataset[c] for c in columns), choices or [None] * len(dataset)))
        if any(_blank(value) for value in row[: len(columns)])
        or (choices is not None and all(_blank(choice) for choice in row[-1]))
    ]


def check_empty_rows(raw, drop: bool) -> tuple[object, dict[str, int]]:
    """Raise `DataError` for rows with empty text in any split, or drop them when `drop` (the user's opt-in);
    returns the splits and the rows dropped per split."""
    dropped = {}
    for split, dataset in raw.items():
        rows = empty_rows(dataset)
        if not rows:
            continue
        if not drop:
            raise DataError(
                f"{len(rows)} of {len(dataset)} rows of the {split} split have no text: "
                f"{describe_rows(rows)}. Fill them in, or pass --drop_empty_rows true to leave them out."
            )
        keep = sorted(set(range(len(dataset))) - set(rows))
        if not keep:
            raise DataError(f"Every row of the {split} split has empty text; check --text_column and the file.")
        raw[split] = dataset.select(keep)
        dropped[split] = len(rows)
        logger.info(
            "Dropped %d rows with empty text from the %s split (--drop_empty_rows): %s.",
            len(rows),
            split,
            describe_rows(rows),
        )
    return raw, dropped


def _row_key(values) -> tuple:
    return tuple(
        " ".join(str(v).split()) if not isinstance(v, list) else tuple(" ".join(str(c).split()) for c in v)
        for v in values
    )


def overlap_with_train(raw) -> dict[str, int]:
    """Rows of the validation and test splits whose inputs (whitespace aside) repeat a training row: warned about
    with counts and row numbers; returns the counts per split."""
    columns = [c for c in (*TEXT_COLUMNS, "context", "choices") if c in raw["train"].column_names]
    train = set(map(_row_key, zip(*(raw["train"][c] for c in columns))))
    found = {}
    for split in ("validation", "test"):
        if split not in raw:
            continue
        rows = [
            index for index, values in enumerate(zip(*(raw[split][c] for c in columns))) if _row_key(values) in train
        ]
        if rows:
            found[split] = len(rows)
            logger.warning(
                "%d of %d %s rows repeat a training row (%s): scores on them overstate what the model does "
                "on new text; remove them from one side.",
                len(rows),
                len(raw[split]),
                split,
                describe_rows(rows),
            )
    return found
