"""The prepared token store: a corpus tokenised once into shards of flat token ids, then read by index.

On disk (a folder):
    metadata.json               written last, so its presence means the store is complete: format, dtype, vocabulary
                                size, tokenizer fingerprint, document unit, token and document counts per split, the
                                shards with their sizes, and the source files with their sizes
    tokenizer/                  the tokenizer the ids come from (`AutoTokenizer.from_pretrained` loads it)
    train-00000.bin / .idx      token ids of whole documents, each ending with <|endoftext|>, and their index
    validation-00000.bin / .idx held-out whole documents (or the --validation_files), fixed across runs

The shards are Megatron-LM's memory-mapped indexed dataset (`.bin`: the ids back to back; `.idx`: header, one length
and one byte offset per document, document boundaries), one document per sequence; ids are uint16 when the vocabulary
fits (2 bytes a token) and int32 otherwise (Megatron's wide type; it has no uint32). Why this format: it is the one
Megatron-LM, NeMo and GPT-NeoX already read (their preprocessing writes it), it is what nanoGPT and llm.c keep in
spirit (flat uint16 ids, memory-mapped), and it needs numpy only. litData's `optimize` / `TokensLoader` and MosaicML
streaming's MDS shards would add a package and a chunk format built for object stores, and neither is read by
other trainers.

Training reads fixed blocks of `block_size` tokens by index (`StoreBlocks`, a map-style dataset): block i is tokens
[i * block_size, (i + 1) * block_size) of the split's stream (the shards back to back), the last partial block is
left out, and any block size works from the same store. The Trainer's seeded sampler shuffles the blocks each epoch,
gives every process a disjoint share, and resumes by skipping indices: O(1) in the data, no re-reading or
re-tokenising.

Preparation (`prepare_store`) reads the corpus as a stream (never whole; plain-text files split in Python, the rest
through datasets' stream), holds out validation documents by a seeded hash of their text (as the streaming path
does), tokenises in parallel, and writes a shard whenever `shard_tokens` have gathered; a killed preparation
continues from its last complete shard.
"""

import hashlib
import itertools
import json
import logging
import multiprocessing
import os
import shutil
import struct
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from transformers import AutoTokenizer

from ..errors import ArgumentError, DataError, check_at_least_one
from .arguments import STREAMING_TOKENIZER_DOCUMENTS, CorpusArguments
from .documents import NO_VALIDATION_FIX, expand_files, in_validation_split, iter_documents
from .tokenizer import check_vocab_size, encode_texts, train_tokenizer

logger = logging.getLogger(__name__)

FORMAT = "megatron-mmap-indexed-dataset"
FORMAT_VERSION = 1
METADATA = "metadata.json"
PROGRESS = "prepare_progress.json"  # a preparation under way: what it has written, for a rerun to continue
_INDEX_HEADER = b"MMIDIDX\x00\x00"
_INDEX_VERSION = 1
_DTYPE_CODES = {"uint16": 8, "int32": 4}  # Megatron's DType enum
_BATCH_DOCUMENTS = 1000


def store_dtype(vocab_size: int) -> np.dtype:
    return np.dtype(np.uint16 if vocab_size <= 2**16 else np.int32)


def tokenizer_fingerprint(tokenizer) -> str:
    """A hash of the tokenizer's whole pipeline (vocabulary, merges, normaliser, special tokens): equal for the same
    tokenizer saved anywhere, different for any other."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    text = backend.to_str() if backend is not None else json.dumps(tokenizer.get_vocab(), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


# --- the shard format -----------------------------------------------------------------------------------------------


def write_shard(prefix: Path, tokens: np.ndarray, lengths: np.ndarray) -> dict:
    """`prefix`.bin and `prefix`.idx (Megatron's layout) for documents of `lengths` tokens, back to back in `tokens`;
    written to temporary names and renamed, so a shard on disk is always whole. Returns its record for the metadata."""
    lengths = lengths.astype(np.int32)
    pointers = np.zeros(len(lengths), np.int64)
    np.cumsum(lengths[:-1], out=pointers[1:])
    pointers *= tokens.dtype.itemsize
    for suffix, write in (
        (".bin", tokens.tofile),  # no copy of the shard in memory
        (".idx", lambda handle: _write_index(handle, tokens.dtype, lengths, pointers)),
    ):
        partial = prefix.with_name(prefix.name + suffix + ".partial")
        with open(partial, "wb") as handle:
            write(handle)
        partial.replace(prefix.with_name(prefix.name + suffix))
    return {"name": prefix.name, "tokens": int(tokens.size), "documents": int(lengths.size)}


def _write_index(handle, dtype: np.dtype, lengths: np.ndarray, pointers: np.ndarray) -> None:
    handle.write(_INDEX_HEADER)
    handle.write(struct.pack("<Q", _INDEX_VERSION))
    handle.write(struct.pack("<B", _DTYPE_CODES[dtype.name]))
    handle.write(struct.pack("<Q", len(lengths)))  # sequences
    handle.write(struct.pack("<Q", len(lengths) + 1))  # document boundaries: one document per sequence
    lengths.tofile(handle)
    pointers.tofile(handle)
    np.arange(len(lengths) + 1, dtype=np.int64).tofile(handle)


def index_bytes(documents: int) -> int:
    return len(_INDEX_HEADER) + 8 + 1 + 8 + 8 + documents * (4 + 8) + (documents + 1) * 8


def read_index(path: Path) -> tuple[np.dtype, np.ndarray]:
    """(dtype, document lengths) of a `.idx` file; a clear error when it is not one."""
    with open(path, "rb") as handle:
        header = handle.read(len(_INDEX_HEADER) + 8 + 1 + 8 + 8)
        if len(header) < len(_INDEX_HEADER) + 25 or not header.startswith(_INDEX_HEADER):
            raise DataError(f"{path} is not a Megatron indexed-dataset index (bad header); re-prepare the store.")
        version, code, sequences, _ = struct.unpack("<QBQQ", header[len(_INDEX_HEADER) :])
        names = {code: name for name, code in _DTYPE_CODES.items()}
        if version != _INDEX_VERSION or code not in names:
            raise DataError(f"{path}: index version {version} / dtype code {code} is not one gpt_hf reads.")
        lengths = np.fromfile(handle, np.int32, sequences)
    return np.dtype(names[code]), lengths


# --- reading --------------------------------------------------------------------------------------------------------


class TokenStore:
    """A prepared store, checked when opened: complete (metadata written, every shard of the size it lists), of a
    format this code reads. Opening reads the metadata and the file sizes only: O(shards), whatever the corpus."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        meta = self.folder / METADATA
        if not self.folder.is_dir():
            raise ArgumentError(f"--data_dir {folder} does not exist; prepare it with scripts/prepare_data.py.")
        if not meta.is_file():
            state = (
                "an unfinished preparation (rerun the same scripts/prepare_data.py command to complete it)"
                if (self.folder / PROGRESS).is_file()
                else "not a token store"
            )
            raise DataError(f"--data_dir {folder} has no {METADATA}: {state}.")
        try:
            self.metadata = json.loads(meta.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise DataError(f"{meta} is not valid JSON ({err}); re-prepare the store.") from None
        if self.metadata.get("format") != FORMAT or self.metadata.get("format_version") != FORMAT_VERSION:
            raise DataError(
                f"{meta}: format {self.metadata.get('format')!r} version "
                f"{self.metadata.get('format_version')!r} is not {FORMAT!r} version {FORMAT_VERSION}."
            )
        self.dtype = np.dtype(self.metadata["dtype"])
        for split in ("train", "validation"):
            for shard in self.metadata["splits"][split]["shards"]:
                self._check_shard(shard)

    def _check_shard(self, shard: dict) -> None:
        expected = {".bin": shard["tokens"] * self.dtype.itemsize, ".idx": index_bytes(shard["documents"])}
        for suffix, size in expected.items():
            path = self.folder / f"{shard['name']}{suffix}"
            if not path.is_file():
                raise DataError(
                    f"Token store {self.folder} lacks {path.name}: the store is incomplete; re-prepare "
                    "it (or copy the missing file)."
                )
            if path.stat().st_size != size:
                raise DataError(
                    f"{path} has {path.stat().st_size} bytes where the metadata says {size}: a truncated "
                    "or foreign shard; re-prepare the store (or copy the file again)."
                )

    def tokenizer(self):
        return AutoTokenizer.from_pretrained(self.folder / "tokenizer")

    def check_tokenizer(self, tokenizer, flag: str = "--tokenizer_name_or_path") -> None:
        """The store's ids must come from this tokenizer."""
        if tokenizer_fingerprint(tokenizer) != self.metadata["tokenizer_fingerprint"]:
            raise ArgumentError(
                f"{flag}: this tokenizer is not the one token store {self.folder} was prepared with "
                f"(vocabulary {len(tokenizer)} vs the store's {self.metadata['vocab_size']}); leave "
                f"{flag} out to use the store's own, or prepare a store with this tokenizer."
            )

    def shard_paths(self, split: str) -> list[tuple[Path, int]]:
        return [
            (self.folder / f"{shard['name']}.bin", shard["tokens"])
            for shard in self.metadata["splits"][split]["shards"]
        ]

    def blocks(self, split: str, block_size: int) -> "StoreBlocks":
        blocks = StoreBlocks(self.shard_paths(split), self.dtype, block_size)
        if len(blocks) == 0:
            raise DataError(
                f"The {split} split of token store {self.folder} holds "
                f"{self.metadata['splits'][split]['tokens']} tokens, fewer than one block of {block_size}; "
                "lower --block_size or prepare more text."
            )
        return blocks


class StoreBlocks(torch.utils.data.Dataset):
    """Fixed blocks of a split's token stream, by index: block i is tokens [i * block_size, (i + 1) * block_size) of
    the shards back to back (a block may span two shards); the tail shorter than a block is left out. The shards are
    memory-mapped on first use in each process (a DataLoader worker maps its own; nothing is copied)."""

    def __init__(self, shards: list[tuple[Path, int]], dtype: np.dtype, block_size: int):
        self.paths = [path for path, _ in shards]
        self.starts = np.concatenate([[0], np.cumsum([tokens for _, tokens in shards], dtype=np.int64)])
        self.dtype, self.block_size = dtype, block_size
        self._maps = None

    def __len__(self) -> int:
        return int(self.starts[-1] // self.block_size)

    def __getstate__(self):
        return {**self.__dict__, "_maps": None}

    def tokens(self, start: int, end: int) -> np.ndarray:
        """Tokens [start, end) of the split's stream."""
        if self._maps is None:
            self._maps = [np.memmap(path, self.dtype, mode="r") for path in self.paths]
        first = int(np.searchsorted(self.starts, start, side="right")) - 1
        pieces = []
        while start < end:
            offset = start - self.starts[first]
            take = min(end, self.starts[first + 1]) - start
            pieces.append(self._maps[first][offset : offset + take])
            start, first = start + take, first + 1
        return pieces[0] if len(pieces) == 1 else np.concatenate(pieces)

    def __getitem__(self, index: int) -> dict:
        if not 0 <= index < len(self):
            raise IndexError(f"block {index} of {len(self)}")
        start = index * self.block_size
        return {"input_ids": torch.from_numpy(self.tokens(start, start + self.block_size).astype(np.int64))}


# --- preparation ----------------------------------------------------------------------------------------------------


@dataclass(kw_only=True)
class PrepareArguments(CorpusArguments):
    output_dir: str = field(metadata={"help": "The store's folder."})
    tokenizer_name_or_path: str | None = field(
        default=None,
        metadata={
            "help": "Tokenizer folder; default: train one on the first --tokenizer_train_documents documents (100,000)."
        },
    )
    shard_tokens: int = field(default=100_000_000, metadata={"help": "Tokens per shard (uint16: 2 bytes each)."})
    seed: int = field(default=42, metadata={"help": "Seed of the validation hold-out (by a hash of each document)."})
    overwrite_output_dir: bool = field(default=False, metadata={"help": "Replace a complete store."})

    def __post_init__(self):
        super().__post_init__()
        check_at_least_one(self, "shard_tokens")
        if self.tokenizer_train_documents is None:
            self.tokenizer_train_documents = STREAMING_TOKENIZER_DOCUMENTS
        if self.tokenizer_name_or_path is None and self.tokenizer_vocab_size is not None:
            check_vocab_size(self.tokenizer_flavour, self.tokenizer_vocab_size, "--tokenizer_vocab_size")

    def recipe(self) -> dict:
        """What decides the store's content: a rerun with the same recipe continues an unfinished preparation."""
        values = asdict(self)
        for name in ("output_dir", "preprocessing_num_workers", "overwrite_output_dir"):
            values.pop(name)
        return values


def corpus_documents(args: PrepareArguments):
    """A fresh pass over the training documents (those the hold-out leaves), in order; the fixed validation
    documents: the first `max_validation_documents` of --validation_files, or of the documents a seeded hash of their
    text holds out (as the streaming path holds them out); and a count of the held-out documents beyond those, which
    are in neither split (`unused["documents"]`, complete once a training pass has ended)."""
    options = dict(dataset_config=args.dataset_config, text_column=args.text_column, **args.document_options)
    unused = {"documents": 0}

    def corpus():
        return iter_documents(
            files=args.train_files, dataset_name=args.dataset_name, max_documents=args.max_train_documents, **options
        )

    if args.validation_files:
        validation = iter_documents(files=args.validation_files, **options)
        kept = list(itertools.islice(validation, args.max_validation_documents))
        unused["documents"] = sum(1 for _ in validation)
        return corpus, kept, unused

    def held_out(text: str) -> bool:
        return in_validation_split(text, args.validation_split_fraction, args.seed)

    validation = list(itertools.islice(filter(held_out, corpus()), args.max_validation_documents))
    if not validation:
        raise DataError(
            f"No validation document: {args.validation_split_fraction:.2%} of the documents are held out "
            f"by a hash of their text, and none was; {NO_VALIDATION_FIX}."
        )

    def training():
        unused["documents"] = -len(validation)
        for text in corpus():
            if held_out(text):
                unused["documents"] += 1
            else:
                yield text

    return training, validation, unused


def _source_files(args: PrepareArguments) -> list[dict]:
    """The corpus files with their sizes: recorded when a preparation starts, so a rerun that would continue it over
    other files is refused."""
    files = []
    for patterns in (args.train_files, args.validation_files):
        if patterns:
            files += [{"path": str(path), "bytes": path.stat().st_size} for path in expand_files(patterns)]
    return files


_worker_tokenizer = None


def _start_worker(tokenizer_dir: str) -> None:
    global _worker_tokenizer
    _worker_tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)


def _encode_documents(tokenizer, texts: list[str], dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """Token ids of `texts`, each document followed by <|endoftext|>, back to back; and the documents' lengths."""
    eos = tokenizer.eos_token_id
    ids = encode_texts(tokenizer, texts)
    lengths = np.fromiter((len(document) + 1 for document in ids), np.int32, len(ids))
    tokens = np.fromiter(itertools.chain.from_iterable(document + [eos] for document in ids), dtype, int(lengths.sum()))
    return tokens, lengths


def _encode_in_worker(job: tuple[list[str], str]) -> tuple[np.ndarray, np.ndarray]:
    texts, dtype = job
    return _encode_documents(_worker_tokenizer, texts, np.dtype(dtype))


class _ShardWriter:
    """Gathers encoded documents of one split and writes a shard of whole documents as soon as `shard_tokens` have
    gathered: the document that crosses the limit ends the shard, the rest waits for the next one. Where shards are
    cut depends on the documents only, not on how they were batched or whether the preparation was resumed."""

    def __init__(self, folder: Path, split: str, shard_tokens: int, shards: list[dict]):
        self.folder, self.split, self.shard_tokens, self.shards = folder, split, shard_tokens, shards
        self.tokens, self.lengths, self.gathered = [], [], 0

    @property
    def documents_written(self) -> int:
        return sum(shard["documents"] for shard in self.shards)

    def add(self, tokens: np.ndarray, lengths: np.ndarray) -> bool:
        """Returns whether a shard was written."""
        self.tokens.append(tokens)
        self.lengths.append(lengths)
        self.gathered += tokens.size
        wrote = False
        while self.gathered >= self.shard_tokens:
            tokens, lengths = np.concatenate(self.tokens), np.concatenate(self.lengths)
            ends = np.cumsum(lengths, dtype=np.int64)
            documents = int(np.searchsorted(ends, self.shard_tokens)) + 1
            self._write(tokens[: ends[documents - 1]], lengths[:documents])
            self.tokens, self.lengths = [tokens[ends[documents - 1] :]], [lengths[documents:]]
            self.gathered = self.tokens[0].size
            wrote = True
        return wrote

    def flush(self) -> None:
        if self.gathered:
            self._write(np.concatenate(self.tokens), np.concatenate(self.lengths))
        self.tokens, self.lengths, self.gathered = [], [], 0

    def _write(self, tokens: np.ndarray, lengths: np.ndarray) -> None:
        self.shards.append(write_shard(self.folder / f"{self.split}-{len(self.shards):05d}", tokens, lengths))


def _check_store_folder(args: PrepareArguments, sources: list[dict]) -> dict | None:
    """Before any work: the folder can hold the store. Returns an unfinished preparation's progress to continue (over
    the same `sources`)."""
    # imported here, not at the top: saving imports transformers' Trainer callbacks (~0.8 s), and every tokenising
    # worker process imports this module
    from ..output.paths import check_writable_folder

    folder = check_writable_folder(args.output_dir)
    if (folder / METADATA).is_file():
        if not args.overwrite_output_dir:
            raise ArgumentError(
                f"--output_dir {folder} already holds a complete token store; pass "
                "--overwrite_output_dir true to prepare it again."
            )
        shutil.rmtree(folder)
        return None
    progress_file = folder / PROGRESS
    if progress_file.is_file():
        progress = json.loads(progress_file.read_text(encoding="utf-8"))
        if progress["recipe"] == args.recipe():
            if progress["sources"] != sources:
                raise ArgumentError(
                    f"--output_dir {folder}: the corpus files changed since this preparation began "
                    "(sizes differ); pass --overwrite_output_dir true to prepare them again."
                )
            return progress
        if not args.overwrite_output_dir:
            raise ArgumentError(
                f"--output_dir {folder} holds an unfinished preparation with other arguments; rerun "
                "that command to finish it, or pass --overwrite_output_dir true to start over."
            )
        shutil.rmtree(folder)
    elif folder.is_dir() and any(folder.iterdir()) and not args.overwrite_output_dir:
        raise ArgumentError(f"--output_dir {folder} is not empty; pass --overwrite_output_dir true to replace it.")
    elif folder.is_dir() and args.overwrite_output_dir:
        shutil.rmtree(folder)
    return None


def prepare_store(args: PrepareArguments) -> dict:
    """Tokenise the corpus into a store at `args.output_dir`; returns its metadata. Rerunning the same command after
    a kill continues from the last complete shard (the documents before it are read again, not tokenised)."""
    from ..output.paths import reported_write_failures

    sources = _source_files(args)
    progress = _check_store_folder(args, sources)
    folder = Path(args.output_dir)
    if args.tokenizer_name_or_path is not None:
        try:
            given = AutoTokenizer.from_pretrained(args.tokenizer_name_or_path)
        except (OSError, ValueError) as err:
            raise ArgumentError(
                f"--tokenizer_name_or_path {args.tokenizer_name_or_path}: cannot load a tokenizer from it ({err})."
            ) from None
    started = time.perf_counter()
    train_documents, validation_documents, unused = corpus_documents(args)
    with reported_write_failures(folder, "the token store"):
        folder.mkdir(parents=True, exist_ok=True)
        tokenizer_dir = folder / "tokenizer"
        if progress is None:
            if args.tokenizer_name_or_path is not None:
                tokenizer = given
            else:
                tokenizer, summary = train_tokenizer(
                    texts=itertools.islice(train_documents(), args.tokenizer_train_documents),
                    flavour=args.tokenizer_flavour,
                    vocab_size=args.tokenizer_vocab_size,
                    vocab_flag="--tokenizer_vocab_size",
                )
                logger.info("Tokenizer trained on the first documents: %s", summary)
            tokenizer.save_pretrained(tokenizer_dir)
            progress = {
                "recipe": args.recipe(),
                "sources": sources,
                "documents_read": 0,
                "splits": {"train": [], "validation": []},
            }
            _write_progress(folder, progress)
        tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
        if tokenizer.eos_token_id is None:
            raise DataError("The tokenizer has no eos (end-of-text) token to end documents with.")
        dtype = store_dtype(len(tokenizer))
        if not progress["splits"]["validation"]:
            validation = _ShardWriter(folder, "validation", args.shard_tokens, progress["splits"]["validation"])
            for start in range(0, len(validation_documents), _BATCH_DOCUMENTS):
                texts = validation_documents[start : start + _BATCH_DOCUMENTS]
                validation.add(*_encode_documents(tokenizer, texts, dtype))
            validation.flush()
        _write_progress(folder, progress)
        train = _ShardWriter(folder, "train", args.shard_tokens, progress["splits"]["train"])
        documents = itertools.islice(train_documents(), progress["documents_read"], None)  # read again, not tokenised
        batches = iter(lambda: list(itertools.islice(documents, _BATCH_DOCUMENTS)), [])
        with _encoder(args.preprocessing_num_workers, tokenizer_dir, tokenizer, dtype) as encode:
            for tokens, lengths in encode(batches):
                if train.add(tokens, lengths):  # a rerun continues after the documents in complete shards
                    progress["documents_read"] = train.documents_written
                    _write_progress(folder, progress)
                    logger.info("Wrote %s (%d documents so far).", train.shards[-1]["name"], train.documents_written)
            train.flush()
        if not train.shards:
            raise DataError("The training documents hold no text to tokenise.")
        if unused["documents"] > 0:
            logger.info(
                "%s held-out documents beyond --max_validation_documents %d are in neither split (raise it to "
                "validate on them).",
                f"{unused['documents']:,}",
                args.max_validation_documents,
            )
        metadata = _metadata(args, tokenizer, dtype, progress, sources, time.perf_counter() - started)
        metadata["unused_held_out_documents"] = unused["documents"]
        (folder / (METADATA + ".partial")).write_text(json.dumps(metadata, indent=2))
        (folder / (METADATA + ".partial")).replace(folder / METADATA)
        (folder / PROGRESS).unlink()
    logger.info(
        "Token store %s: %s training tokens in %d shards, %s validation tokens.",
        folder,
        f"{metadata['splits']['train']['tokens']:,}",
        len(metadata["splits"]["train"]["shards"]),
        f"{metadata['splits']['validation']['tokens']:,}",
    )
    return metadata


def _write_progress(folder: Path, progress: dict) -> None:
    (folder / (PROGRESS + ".partial")).write_text(json.dumps(progress))
    (folder / (PROGRESS + ".partial")).replace(folder / PROGRESS)


class _encoder:
    """`encode(batches)` -> (tokens, lengths) per batch of documents, in order: in this process (the Rust tokenizer
    uses every core for a batch) or in `workers` processes (each single-threaded, so the cores are not
    oversubscribed)."""

    def __init__(self, workers: int | None, tokenizer_dir: Path, tokenizer, dtype: np.dtype):
        self.workers, self.tokenizer_dir, self.tokenizer, self.dtype = workers or 1, tokenizer_dir, tokenizer, dtype
        self.pool = None

    def __enter__(self):
        if self.workers > 1:
            os.environ["TOKENIZERS_PARALLELISM"] = "false"  # read by each worker's Rust tokenizer at start
            context = multiprocessing.get_context("spawn")  # no fork of a process whose Rust threads have run
            self.pool = context.Pool(self.workers, initializer=_start_worker, initargs=(str(self.tokenizer_dir),))
        return self.encode

    def encode(self, batches):
        if self.pool is None:
            return (_encode_documents(self.tokenizer, texts, self.dtype) for texts in batches)
        return self.pool.imap(_encode_in_worker, ((texts, self.dtype.name) for texts in batches), chunksize=1)

    def __exit__(self, *exc):
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()


def _metadata(
    args: PrepareArguments, tokenizer, dtype: np.dtype, progress: dict, sources: list[dict], seconds: float
) -> dict:
    splits = {
        split: {
            "shards": shards,
            "tokens": sum(s["tokens"] for s in shards),
            "documents": sum(s["documents"] for s in shards),
        }
        for split, shards in progress["splits"].items()
    }
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "dtype": dtype.name,
        "vocab_size": len(tokenizer),
        "eos_token_id": tokenizer.eos_token_id,
        "tokenizer_fingerprint": tokenizer_fingerprint(tokenizer),
        "documents_end_with_eos": True,
        "document_unit": args.document_unit,
        "document_separator": args.document_separator,
        "splits": splits,
        "sources": sources or [{"dataset": args.dataset_name or "built-in corpus", "config": args.dataset_config}],
        "recipe": progress["recipe"],
        "seconds": round(seconds, 1),
    }
