"""Text sources: local files (globs), `datasets` columns (streamed in batches) and Python iterators.

Everything upstream of tokenization reads text through here, so every source gets the same checks: missing files,
non-UTF-8 bytes (reported with the file and byte offset), missing columns and empty corpora.
"""

import codecs
import glob
import itertools
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

_CHUNK_BYTES = 1 << 20


def expand_files(patterns: str | os.PathLike | Iterable[str | os.PathLike]) -> list[Path]:
    """Expand globs into a sorted, de-duplicated file list; a pattern matching nothing is an error."""
    if isinstance(patterns, (str, os.PathLike)):
        patterns = [patterns]
    files: list[Path] = []
    for pattern in patterns:
        matches = sorted(glob.glob(str(pattern), recursive=True))
        if not matches:
            raise ValueError(f"No file matches {str(pattern)!r}; check the path or the glob pattern.")
        for match in matches:
            path = Path(match)
            if path.is_dir():
                raise ValueError(f"{path} is a folder; pass files or a glob such as '{path}/*.txt'.")
            if path not in files:
                files.append(path)
    return files


def check_utf8(path: Path) -> int:
    """Decode `path` in chunks as strict UTF-8; return its size in bytes, or raise naming the byte offset."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
    offset = 0
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(_CHUNK_BYTES):
                pending = decoder.getstate()[0]  # bytes of a character split across chunks
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as err:
                    data, position = pending + chunk, offset - len(pending) + err.start
                    raise ValueError(
                        f"{path} is not valid UTF-8: byte 0x{data[err.start]:02x} at offset {position} "
                        f"({err.reason}); re-encode the file as UTF-8 (e.g. iconv -t UTF-8)."
                    ) from None
                offset += len(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError as err:
        raise ValueError(f"{path} is not valid UTF-8: it ends inside a multi-byte character ({err.reason}).") from None
    except OSError as err:
        raise ValueError(f"Cannot read {path}: {err.strerror}.") from None
    return offset


def iter_file_lines(files: Iterable[Path], batch_lines: int = 1000) -> Iterator[list[str]]:
    """Yield batches of lines from UTF-8 files (already checked with `check_utf8`)."""
    for path in files:
        with open(path, encoding="utf-8") as handle:
            while batch := list(itertools.islice(handle, batch_lines)):
                yield batch


def iter_dataset_texts(dataset, column: str = "text", batch_size: int = 1000) -> Iterator[list[str]]:
    """Yield batches of one text column from a `datasets` Dataset / IterableDataset without materialising it."""
    columns = getattr(dataset, "column_names", None)
    if columns is not None and column not in columns:
        raise ValueError(f"Text column {column!r} not in the dataset; its columns are {columns}.")
    for batch in dataset.iter(batch_size=batch_size):
        if column not in batch:
            raise ValueError(f"Text column {column!r} not in the dataset; its columns are {sorted(batch)}.")
        yield [text for text in batch[column] if text]


def batched(texts: Iterable[str], size: int = 1000) -> Iterator[list[str]]:
    """Group a plain iterator of strings into lists (the unit `tokenizers` trains on); rejects non-strings."""
    iterator = iter(texts)
    while batch := list(itertools.islice(iterator, size)):
        for text in batch:
            if not isinstance(text, str):
                raise TypeError(f"Expected an iterator of str, got an item of type {type(text).__name__}: {text!r:.60}")
        yield batch


def non_empty(batches: Iterable[list[str]], what: str) -> Iterator[list[str]]:
    """Pass batches through, raising before the consumer starts if the source has no non-blank text at all."""
    iterator = iter(batches)
    for batch in iterator:
        if any(text.strip() for text in batch):
            return itertools.chain([batch], iterator)
    raise ValueError(f"The corpus ({what}) is empty: no non-blank text to train on.")
