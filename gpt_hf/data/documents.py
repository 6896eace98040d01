"""Text sources: local files (globs), `datasets` columns (streamed in batches), Python iterators, the built-in
corpus (`corpus`), and language-modelling datasets of documents with a seeded validation split. Imports only
`errors` and `corpus`: the tokenizer (`tokenizer`) reads its corpora from here, and `packing` turns them into
blocks after it.

Everything upstream of tokenization reads text through here, so every source gets the same checks: missing files,
non-UTF-8 bytes (reported with the file and byte offset), missing columns and empty corpora.
"""

import codecs
import glob
import hashlib
import itertools
import json
import math
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from ..errors import ArgumentError, DataError, check_fraction
from .corpus import builtin_corpus
from .units import (
    DOCUMENT_UNITS,
    FILE_BUILDERS,
    UNIT_SEPARATORS,
    file_reading,
)

_CHUNK_BYTES = 1 << 20
# UTF-8, with a byte-order mark at the start of a file dropped (editors on Windows write one): it is no text.
TEXT_ENCODING = "utf-8-sig"
# What to do when a corpus yields no validation document: the same advice from the map-style and streaming paths.
NO_VALIDATION_FIX = (
    "pass --validation_files, give more text, or cut it into smaller documents (--document_unit line, "
    "--document_separator)"
)


def expand_files(patterns: str | os.PathLike | Iterable[str | os.PathLike]) -> list[Path]:
    """Expand globs into a sorted, de-duplicated file list; a pattern matching nothing is an error."""
    if isinstance(patterns, (str, os.PathLike)):
        patterns = [patterns]
    files: list[Path] = []
    for pattern in patterns:
        matches = sorted(glob.glob(str(pattern), recursive=True))
        if not matches:
            raise ArgumentError(f"No file matches {str(pattern)!r}; check the path or the glob pattern.")
        for match in matches:
            path = Path(match)
            if path.is_dir():
                raise ArgumentError(f"{path} is a folder; pass files or a glob such as '{path}/*.txt'.")
            if path not in files:
                files.append(path)
    return files


def check_utf8(path: Path) -> int:
    """Decode `path` in 1 MB chunks as strict UTF-8 (~1 GB/s); return its size in bytes, or raise naming the byte
    offset."""
    return _scan_utf8(path, measure_lines=False)[0]


def scan_text_file(path: Path) -> tuple[int, int]:
    """(size in bytes, longest line in bytes) of a file checked to be strict UTF-8 (errors name the byte offset);
    measuring the lines makes it ~5x slower than `check_utf8`."""
    return _scan_utf8(path, measure_lines=True)


def _scan_utf8(path: Path, measure_lines: bool) -> tuple[int, int]:
    decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
    offset = longest = current = 0
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(_CHUNK_BYTES):
                if measure_lines:
                    pieces = chunk.split(b"\n")
                    if len(pieces) == 1:
                        current += len(chunk)
                    else:
                        longest = max(longest, current + len(pieces[0]), *map(len, pieces[1:-1]))
                        current = len(pieces[-1])
                pending = decoder.getstate()[0]  # bytes of a character split across chunks
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as err:
                    data, position = pending + chunk, offset - len(pending) + err.start
                    raise DataError(
                        f"{path} is not valid UTF-8: byte 0x{data[err.start]:02x} at offset {position} "
                        f"({err.reason}); re-encode the file as UTF-8 (e.g. iconv -t UTF-8)."
                    ) from None
                offset += len(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError as err:
        raise DataError(f"{path} is not valid UTF-8: it ends inside a multi-byte character ({err.reason}).") from None
    except OSError as err:
        raise DataError(f"Cannot read {path}: {err.strerror}.") from None
    return offset, max(longest, current)


def iter_bounded_lines(files: Iterable[Path], max_chars: int, batch_lines: int = 1000) -> Iterator[list[str]]:
    """Batches of lines, where a line longer than `max_chars` comes in pieces cut at a space (or hard, if it has
    none), read 1 MB at a time: memory stays bounded for files with huge lines (a whole book on one line)."""

    def pieces(line: str) -> Iterator[str]:
        while len(line) > max_chars:
            cut = line.rfind(" ", 0, max_chars)
            cut = cut if cut > 0 else max_chars
            yield line[:cut]
            line = line[cut:]
        if line:
            yield line

    batch: list[str] = []
    for path in files:
        with open(path, encoding=TEXT_ENCODING) as handle:
            pending = ""
            while chunk := handle.read(_CHUNK_BYTES):
                *lines, pending = (pending + chunk).split("\n")
                if len(pending) > max_chars:  # a long line so far: pass on all but its last piece
                    *head, pending = pieces(pending)
                    lines += head
                for line in lines:
                    batch.extend(pieces(line))
                if len(batch) >= batch_lines:
                    yield batch
                    batch = []
            batch.extend(pieces(pending))
    if batch:
        yield batch


def iter_dataset_texts(dataset, column: str = "text", batch_size: int = 1000) -> Iterator[list[str]]:
    """Yield batches of one text column from a `datasets` Dataset / IterableDataset without materialising it."""
    columns = getattr(dataset, "column_names", None)
    if columns is not None and column not in columns:
        raise DataError(f"Text column {column!r} not in the dataset; its columns are {columns}.")
    for batch in dataset.iter(batch_size=batch_size):
        if column not in batch:
            raise DataError(f"Text column {column!r} not in the dataset; its columns are {sorted(batch)}.")
        yield [text for text in batch[column] if text]


def batched(texts: Iterable[str], size: int = 1000) -> Iterator[list[str]]:
    """Group a plain iterator of strings into lists (the unit `tokenizers` trains on); rejects non-strings."""
    iterator = iter(texts)
    while batch := list(itertools.islice(iterator, size)):
        for text in batch:
            if not isinstance(text, str):
                raise TypeError(f"Expected an iterator of str, got an item of type {type(text).__name__}: {text!r:.60}")
        yield batch


def trimmed_documents(pieces: Iterable[str]) -> Iterator[str]:
    """The documents of plain text cut at the document unit: the newlines around each trimmed (layout: the blank line
    before it, the file's last newline), the blank ones dropped. One rule for every path that reads text files."""
    return (piece.strip("\r\n") for piece in pieces if piece.strip())


def non_empty(batches: Iterable[list[str]], what: str) -> Iterator[list[str]]:
    """Pass batches through, raising before the consumer starts if the source has no non-blank text at all."""
    iterator = iter(batches)
    for batch in iterator:
        if any(text.strip() for text in batch):
            return itertools.chain([batch], iterator)
    raise DataError(f"The corpus ({what}) is empty: no non-blank text to train on.")


# --- language-modelling datasets -----------------------------------------------------------------------------------


def _pieces_between(paths, separator: str | None) -> Iterator[str]:
    """The text between `separator`s (None: each whole file), file by file, read in 1 MB pieces (memory: the longest
    piece)."""
    for path in paths:
        with open(path, encoding=TEXT_ENCODING) as handle:
            if separator is None:
                yield handle.read()
                continue
            carry = ""
            while chunk := handle.read(_CHUNK_BYTES):
                pieces = (carry + chunk).split(separator)
                carry = pieces.pop()
                yield from pieces
            yield carry


def _separated_documents(paths: list[str], separator: str, stamps: list):
    """`_pieces_between` as rows for datasets' generator builder. `stamps` (size, mtime) only key datasets' cache, so
    an edited file is read again."""
    for piece in _pieces_between(paths, separator):
        yield {"text": piece}


def iter_documents(
    files=None,
    dataset_name: str | None = None,
    dataset_config: str | None = None,
    text_column: str = "text",
    document_unit: str = "paragraph",
    document_separator: str | None = None,
    max_documents: int | None = None,
    file_rules=(),
) -> Iterator[str]:
    """The training documents of a corpus, in order, one pass, in bounded memory: the documents `load_text_stream`
    yields (blank ones dropped, the newlines around each trimmed), without a hold-out. Plain-text files are split
    here, ~7x faster than through datasets' streaming text builder (210 vs 28 MB/s: its per-document bookkeeping);
    other files, datasets and the built-in corpus are read through datasets' stream, in batches. Files of several
    types or units are read group by group (`file_reading`)."""
    if files is None:
        raw = _load_raw(
            None, None, dataset_name, dataset_config, text_column, document_unit, document_separator, streaming=True
        )
        texts = (text for batch in raw["train"].iter(batch_size=1000) for text in batch["text"])
        yield from itertools.islice(texts, max_documents)
        return

    def reading(path):
        return file_reading(path, document_unit, document_separator, file_rules)

    def documents():
        for (builder, unit, separator), splits in _resolve_data_files(files, None, reading).items():
            if builder == "text":
                yield from trimmed_documents(_pieces_between(splits["train"], separator or UNIT_SEPARATORS[unit]))
            else:
                stream = _load_file_group(splits, builder, unit, separator, text_column, streaming=True)["train"]
                yield from (text for batch in stream.iter(batch_size=1000) for text in batch["text"])

    yield from itertools.islice(documents(), max_documents)


def _load_plain_text(splits: dict[str, list[str]], document_unit: str, document_separator: str | None, streaming: bool):
    import datasets

    if document_separator is None:
        return datasets.load_dataset(
            "text",
            data_files=splits,
            sample_by=DOCUMENT_UNITS[document_unit],
            encoding=TEXT_ENCODING,
            streaming=streaming,
        )
    if streaming:  # one shard per file; nothing cached
        return datasets.IterableDatasetDict(
            {
                split: datasets.IterableDataset.from_generator(
                    _separated_documents,
                    gen_kwargs={"paths": paths, "separator": document_separator, "stamps": [None] * len(paths)},
                )
                for split, paths in splits.items()
            }
        )
    return datasets.DatasetDict(
        {
            split: datasets.Dataset.from_generator(
                _separated_documents,
                gen_kwargs={
                    "paths": paths,
                    "separator": document_separator,
                    "stamps": [(stat.st_size, stat.st_mtime_ns) for stat in map(os.stat, paths)],
                },
            )
            for split, paths in splits.items()
        }
    )


def _resolve_data_files(files, validation_files, reading) -> dict[tuple, dict[str, list[str]]]:
    """{(builder, unit, separator): {split: paths}} for local files, every file checked (exists, a supported type,
    UTF-8) before anything is read into a dataset: the files of each group are read by one reader (`reading`:
    path -> its key, `file_reading` with the run's units)."""
    paths = expand_files(files)
    splits = {"train": [str(p) for p in paths]}
    if validation_files is not None:
        splits["validation"] = [str(p) for p in expand_files(validation_files)]
    suffixes = {p.suffix.lower() for paths_ in splits.values() for p in map(Path, paths_)}
    unsupported = sorted(suffix for suffix in suffixes if suffix not in FILE_BUILDERS)
    if unsupported:
        raise DataError(f"Files must be of a supported type ({', '.join(sorted(FILE_BUILDERS))}); got {unsupported}.")
    all_paths = [Path(p) for paths_ in splits.values() for p in paths_]
    sizes = [check_utf8(p) if p.suffix.lower() != ".parquet" else p.stat().st_size for p in all_paths]
    if not any(sizes[: len(splits["train"])]):
        raise DataError(f"The training files are empty: {splits['train']}.")
    groups: dict[tuple, dict[str, list[str]]] = {}
    for split, split_paths in splits.items():
        for path in split_paths:
            groups.setdefault(reading(path), {}).setdefault(split, []).append(path)
    return groups


def _load_raw(
    files,
    validation_files,
    dataset_name,
    dataset_config,
    text_column: str,
    document_unit: str,
    document_separator: str | None,
    streaming: bool,
    file_rules=(),
):
    """The raw splits of documents (a DatasetDict, or an IterableDatasetDict when `streaming`) in a `text` column;
    the column is checked in every split. Files of several types or units are read group by group, each by its own
    reader, and joined per split."""
    import datasets

    if files is not None and dataset_name is not None:
        raise ArgumentError("Give local files or a dataset name, not both.")
    if document_unit not in DOCUMENT_UNITS:
        raise ArgumentError(f"--document_unit {document_unit!r} is not one of {tuple(DOCUMENT_UNITS)}.")
    if files is not None:

        def reading(path):
            return file_reading(path, document_unit, document_separator, file_rules)

        groups = _resolve_data_files(files, validation_files, reading)
        # --text_column names the column of table files; plain text has only `text` (named, it must be that one)
        mixed = any(builder != "text" for builder, _, _ in groups)
        parts = [
            _load_file_group(splits, *key, text_column if key[0] != "text" or not mixed else "text", streaming)
            for key, splits in groups.items()
        ]

        joined = {
            split: [part[split] for part in parts if split in part]
            for split in dict.fromkeys(split for part in parts for split in part)
        }
        kind = datasets.IterableDatasetDict if streaming else datasets.DatasetDict
        return kind(
            {split: ds[0] if len(ds) == 1 else datasets.concatenate_datasets(ds) for split, ds in joined.items()}
        )
    if dataset_name is not None:
        raw = datasets.load_dataset(dataset_name, dataset_config, streaming=streaming)
    else:
        raw = datasets.DatasetDict({"train": datasets.Dataset.from_dict({"text": builtin_corpus()})})
        if streaming:
            raw = datasets.IterableDatasetDict({"train": raw["train"].to_iterable_dataset(num_shards=8)})
        text_column = "text"
    return _text_column(raw, text_column, streaming)


def _load_file_group(splits: dict[str, list[str]], builder: str, unit: str, separator, text_column: str, streaming):
    """One group of files read by one reader: plain text cut into documents (blank ones dropped, newlines around
    each trimmed), or rows of json / csv / parquet with their text column."""
    import datasets

    progress = {} if streaming else {"desc": "Trimming documents, dropping blank ones"}  # no desc on a stream
    try:
        if builder == "text":
            raw = _load_plain_text(splits, unit, separator, streaming)
            # a batched map may return fewer rows, which drops the blank documents (datasets' filter on a stream
            # costs ~20x more)
            raw = raw.map(lambda batch: {"text": list(trimmed_documents(batch["text"]))}, batched=True, **progress)
        else:
            raw = datasets.load_dataset(builder, data_files=splits, streaming=streaming)
    except datasets.exceptions.DatasetGenerationError as err:
        raise unreadable_files_error([p for paths in splits.values() for p in paths], builder, err) from None
    return _text_column(raw, text_column, streaming)


def _text_column(raw, text_column: str, streaming: bool):
    """`raw`'s splits with only the text column, named `text`; a split without it is an error naming its columns."""
    import datasets

    for split, dataset in raw.items():
        columns = dataset.column_names
        if columns is None and streaming:  # a stream whose features are not declared: read its first row
            columns = list(next(iter(dataset.take(1)), {}))
        if text_column not in columns:
            raise DataError(
                f"Text column {text_column!r} not in the {split} split; its columns are {columns}. Pass --text_column."
            )
    rename = {text_column: "text"} if text_column != "text" else {}
    selected = {split: dataset.select_columns([text_column]).rename_columns(rename) for split, dataset in raw.items()}
    return (datasets.IterableDatasetDict if streaming else datasets.DatasetDict)(selected)


def load_text_dataset(
    files=None,
    validation_files=None,
    dataset_name: str | None = None,
    dataset_config: str | None = None,
    text_column: str = "text",
    validation_fraction: float | None = 0.05,
    seed: int = 42,
    max_documents: int | None = None,
    document_unit: str = "paragraph",
    document_separator: str | None = None,
    file_rules=(),
):
    """A `DatasetDict` with `train` and `validation` splits of documents in a `text` column.

    Source: local files (globs; txt / json / jsonl / csv / parquet), a `datasets` name + config, or — when neither is
    given — the built-in corpus. In plain-text files a document is a paragraph (text between blank lines; the
    default), a line, or a whole file (`document_unit`), or the text between `document_separator`s, unless a
    `file_rules` glob gives a file its own (`parse_document_units`); rows of the other formats are documents.
    Blank documents are dropped. Without a validation split or files,
    `validation_fraction` of the documents (whole documents, never pieces of one) is held out with `seed`;
    `validation_fraction=None` returns the train split alone, every document in it.
    Raises `ValueError` for missing files, a missing text column or an empty dataset.
    """
    raw = _load_raw(
        files,
        validation_files,
        dataset_name,
        dataset_config,
        text_column,
        document_unit,
        document_separator,
        streaming=False,
        file_rules=file_rules,
    )
    train = raw["train"]
    if max_documents is not None:
        train = train.select(range(min(max_documents, len(train))))
    if len(train) == 0:
        raise DataError("The training dataset is empty.")
    validation = raw.get("validation")
    if validation is None and validation_fraction is None:  # every document wanted, no split (scoring a corpus)
        return type(raw)({"train": train})
    if validation is None:
        train, validation = hold_out(train, validation_fraction, seed, what="documents", fix=NO_VALIDATION_FIX)
    return type(raw)({"train": train, "validation": validation})


TABLE_BUILDERS = {suffix: builder for suffix, builder in FILE_BUILDERS.items() if builder != "text"}


def load_table_files(files: dict[str, str], first_flag: str = "the first file"):
    """A `DatasetDict` of labelled rows from one csv / json / jsonl / parquet file per split, each checked first
    (exists, not empty, all of one type)."""
    import datasets

    suffixes = {Path(path).suffix.lower() for path in files.values()}
    for split, path in files.items():
        if not Path(path).is_file():
            raise ArgumentError(f"Data file {path} does not exist.")
        if Path(path).suffix.lower() not in TABLE_BUILDERS:
            raise ArgumentError(
                f"Unsupported data file type {Path(path).suffix or '(none)'} ({path}); use "
                f"{', '.join(sorted(TABLE_BUILDERS))}."
            )
        if Path(path).stat().st_size == 0:
            raise DataError(f"The {split} file {path} is empty.")
    if len(suffixes) > 1:
        first = Path(next(iter(files.values()))).suffix.lower()
        raise ArgumentError(
            f"Data files must share one type; {first_flag} is {first} but others are {sorted(suffixes - {first})}."
        )
    builder = TABLE_BUILDERS[suffixes.pop()]
    try:
        return datasets.load_dataset(builder, data_files=files)
    except (datasets.exceptions.DatasetGenerationError, ValueError, TypeError) as err:
        raise unreadable_files_error(list(files.values()), builder, err) from None


def first_malformed_json_line(path: str | os.PathLike) -> tuple[int, str] | None:
    """(line number, what is wrong) for the first line of a JSON-lines file that is not a JSON object, or the place
    a one-document .json file (an array of rows) stops parsing; None when the file parses."""
    text = Path(path).read_text(encoding="utf-8")
    if text.lstrip().startswith("["):  # one JSON document
        try:
            json.loads(text)
        except json.JSONDecodeError as err:
            return err.lineno, err.msg
        return None
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            return number, f"{err.msg} at column {err.colno}"
        if not isinstance(row, dict):
            return number, f"a JSON {type(row).__name__}, not an object"
    return None


def unreadable_files_error(paths: list[str], builder: str, error: BaseException) -> DataError:
    """The error for data files `datasets` could not read: for JSON, the file and line of the first bad row."""
    if builder == "json":
        for path in paths:
            found = first_malformed_json_line(path)
            if found is not None:
                number, reason = found
                return DataError(
                    f"{path}, line {number}: not a JSON row ({reason}); fix or remove that line "
                    "(JSON-lines files hold one JSON object per line)."
                )
    return DataError(f"Could not read {paths} as {builder} files: {error.__cause__ or error}")


def in_validation_split(text: str, fraction: float, seed: int) -> bool:
    """Whether a document belongs to the held-out split of a stream: a seeded hash of its text, so the choice needs
    no count of the corpus, is the same on every process and in every epoch, and puts repeated documents on one
    side only."""
    digest = hashlib.blake2b(f"{seed}\0{text}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") < fraction * 2**64


def load_text_stream(
    files=None,
    validation_files=None,
    dataset_name: str | None = None,
    dataset_config: str | None = None,
    text_column: str = "text",
    validation_fraction: float = 0.05,
    max_validation_documents: int = 1000,
    seed: int = 42,
    max_documents: int | None = None,
    document_unit: str = "paragraph",
    document_separator: str | None = None,
    file_rules=(),
):
    """Streaming counterpart of `load_text_dataset`: `{"train": IterableDataset, "validation": Dataset}`.

    The training documents are read lazily (never held whole, never cached). The validation set is small and fixed:
    up to `max_validation_documents` whole documents, from the validation split or files when given, else the
    documents that `in_validation_split` holds out (which the training stream then skips, in every epoch).
    """
    import datasets

    if max_validation_documents < 1:
        raise ArgumentError(f"--max_validation_documents must be >= 1, got {max_validation_documents}.")
    check_fraction(validation_fraction, "The validation fraction")
    raw = _load_raw(
        files,
        validation_files,
        dataset_name,
        dataset_config,
        text_column,
        document_unit,
        document_separator,
        streaming=True,
        file_rules=file_rules,
    )
    train = raw["train"]
    if max_documents is not None:
        train = train.take(max_documents)
    if next(iter(train.take(1)), None) is None:
        raise DataError("The training dataset is empty.")
    validation = raw.get("validation")
    if validation is None:

        def side(held: bool):  # a batched map returning fewer rows: datasets' filter on a stream is ~20x slower
            return lambda batch: {
                "text": [text for text in batch["text"] if in_validation_split(text, validation_fraction, seed) == held]
            }

        validation, train = train.map(side(True), batched=True), train.map(side(False), batched=True)
    documents = list(itertools.islice((row["text"] for row in validation), max_validation_documents))
    if not documents:
        raise DataError(
            f"No validation document: the stream holds out {validation_fraction:.2%} of its documents by a hash of "
            f"their text and found none; {NO_VALIDATION_FIX}."
        )
    return {"train": train, "validation": datasets.Dataset.from_dict({"text": documents})}


def hold_out(dataset, fraction: float, seed: int, what: str, fix: str):
    """(train, held-out) split of a `datasets.Dataset` with `seed`; a clear error when either side would be empty."""
    check_fraction(fraction, "The validation fraction")
    held = math.ceil(fraction * len(dataset))  # what datasets' train_test_split takes
    if len(dataset) < 2 or held >= len(dataset):
        raise DataError(
            f"Cannot hold out a validation split of {fraction:.0%} from {len(dataset)} {what}: one side would be "
            f"empty; {fix}."
        )
    split = dataset.train_test_split(test_size=fraction, seed=seed)
    return split["train"], split["test"]
