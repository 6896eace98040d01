"""A fine-tuning task's labelled rows: read from a benchmark (`benchmarks.BENCHMARKS`) or the user's files / data set
into the normalised columns, then checked before any training (`load_task_dataset`): rows whose text is empty or only
whitespace (an error, unless the user opts in to dropping them), the labels' own checks (the task type's label
format), a validation split held out when there is none, and rows of the validation / test splits that repeat a
training row (leakage that inflates scores: a warning with counts). Counts and first row numbers are reported, and
recorded for results.json.
"""

import logging

import datasets

from ..data.documents import hold_out, load_table_files
from ..errors import DataError
from .benchmarks import BENCHMARKS
from .columns import ColumnSources, normalise_columns
from .targets import describe_rows
from .types import TASK_TYPES

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


def load_task_dataset(data_args, seed: int) -> tuple[datasets.DatasetDict, dict]:
    """Splits (train, validation, maybe test) in normalised columns (text / text_pair / context / choices / label)
    from `data_args` (fine-tuning's data arguments: --benchmark, or --train_file / --dataset_name with the column
    options), checked, and the checks' counts for results.json (rows dropped for empty text, validation / test rows
    repeating a training row)."""
    task_type = TASK_TYPES[data_args.task]
    if data_args.benchmark is not None:
        raw = BENCHMARKS[data_args.benchmark].load(seed, data_args.corpus_files, data_args.document_options)
    else:
        if data_args.train_file is not None:
            files = {
                "train": data_args.train_file,
                "validation": data_args.validation_file,
                "test": data_args.test_file,
            }
            raw = load_table_files({split: path for split, path in files.items() if path}, first_flag="--train_file")
        else:
            raw = datasets.load_dataset(data_args.dataset_name, data_args.dataset_config)
        columns = data_args.user_columns()
        inputs = {column: columns[column] for column in task_type.inputs}
        raw = normalise_columns(raw, ColumnSources(inputs, label=data_args.label_column))
    # before the hold-out shuffles rows: row numbers in the messages are the file's
    raw, dropped = check_empty_rows(raw, data_args.drop_empty_rows)
    task_type.label_format.check_rows(raw, data_args.problem_type)
    if "validation" not in raw:
        raw["train"], raw["validation"] = hold_out(
            raw["train"],
            data_args.validation_split_fraction,
            seed,
            what="training rows",
            fix="pass --validation_file, or give more rows",
        )
    return raw, {"dropped_empty_rows": dropped, "overlap_with_train": overlap_with_train(raw)}
