"""Train BPE tokenizers with the `tokenizers` library, in GPT-1 and GPT-2 (byte-level) flavours, with the special
tokens the paper's task transforms need; save them as plain `PreTrainedTokenizerFast` folders that
`AutoTokenizer.from_pretrained` loads without gpt_hf; and check a tokenizer against a model config.

Conventions (those of every transformers tokenizer, and GPT-2's):
- `<|endoftext|>` is both BOS and EOS: pretraining ends every document with it, so it is also what a document
  follows, and what `generate()` without a prompt and lm-evaluation-harness's rolling log-likelihood condition on.
- `tokenizer(text)` maps a special token's string to its id (`"hello" + tok.eos_token` ends in the eos id; tokens a
  user adds with `add_special_tokens` stay whole), as TRL and other clients expect.
- Our own pipelines never let user text produce a special id: `encode_texts` (task transforms, packing, scoring)
  encodes with special-token splitting on, so a literal `<|extract|>` in the data stays text, and the task tokens
  are inserted by id. Both pre-tokenizers split `<`, `|` and `>` away from letters, so BPE cannot merge text into one.
- Language-model folders pad on the left, so batched `generate` equals one prompt at a time.
"""

import contextlib
import logging
import os
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from ..errors import ArgumentError
from .documents import (
    batched,
    expand_files,
    iter_bounded_lines,
    iter_dataset_texts,
    non_empty,
    scan_text_file,
)

logger = logging.getLogger(__name__)

FLAVOURS = ("gpt1", "bytelevel")
DEFAULT_VOCAB_SIZE = {"gpt1": 40478, "bytelevel": 50257}  # GPT-1: 40,000 merges + 478 symbols; GPT-2: 50,257
END_OF_WORD = "</w>"
MAX_LINE_CHARS = 1 << 16  # longer lines are trained on in pieces cut at spaces: memory stays bounded


@dataclass(frozen=True)
class SpecialTokens:
    """Surface forms of the special tokens; ids are assigned in this order, from 0."""

    eos: str = "<|endoftext|>"
    pad: str = "<|pad|>"
    start: str = "<|start|>"
    delimiter: str = "<|delimiter|>"
    extract: str = "<|extract|>"
    unk: str = "<|unk|>"  # GPT-1 flavour only: byte-level BPE has no unknowns

    def for_flavour(self, flavour: str) -> list[str]:
        tokens = [self.eos, self.pad, self.start, self.delimiter, self.extract]
        return tokens + [self.unk] if flavour == "gpt1" else tokens


SPECIAL_TOKENS = SpecialTokens()

# The original GPT-1 encoder's text standardisation (ftfy + text_standardize): dashes, ellipsis, accents and curly
# quotes to ASCII, whitespace runs to one space. Punctuation is split off by the pre-tokenizer.
_GPT1_REPLACEMENTS = [
    ("—", "-"),
    ("–", "-"),
    ("―", "-"),
    ("…", "..."),
    ("´", "'"),
    ("‘", "'"),
    ("’", "'"),
    ("“", '"'),
    ("”", '"'),
]


def build_pipeline(flavour: str) -> Tokenizer:
    """An untrained tokenizer with the normaliser, pre-tokenizer and decoder of the given flavour."""
    if flavour == "gpt1":
        tokenizer = Tokenizer(models.BPE(unk_token=SPECIAL_TOKENS.unk, end_of_word_suffix=END_OF_WORD))
        tokenizer.normalizer = normalizers.Sequence(
            [normalizers.NFKC()]
            + [normalizers.Replace(old, new) for old, new in _GPT1_REPLACEMENTS]
            + [normalizers.Replace(Regex(r"\s+"), " "), normalizers.Strip(), normalizers.Lowercase()]
        )
        tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()  # words and single punctuation marks
        tokenizer.decoder = decoders.BPEDecoder(suffix=END_OF_WORD)
        return tokenizer
    if flavour == "bytelevel":
        tokenizer = Tokenizer(models.BPE())
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
        tokenizer.decoder = decoders.ByteLevel()
        return tokenizer
    raise ArgumentError(f"Unknown tokenizer flavour {flavour!r}; choose one of {FLAVOURS}.")


def minimum_vocab_size(flavour: str) -> int:
    """The smallest vocabulary a tokenizer of `flavour` can have: the byte alphabet (byte-level) and the specials."""
    specials = len(SPECIAL_TOKENS.for_flavour(flavour))
    return len(pre_tokenizers.ByteLevel.alphabet()) + specials if flavour == "bytelevel" else specials + 1


def check_vocab_size(flavour: str, vocab_size: int, flag: str = "--vocab_size") -> None:
    """A clear error, naming the flag that sets it, for a vocabulary too small for the flavour."""
    minimum = minimum_vocab_size(flavour)
    if vocab_size < minimum:
        what = (
            "the byte alphabet (256) + the special tokens"
            if flavour == "bytelevel"
            else "the special tokens and one more"
        )
        raise ArgumentError(
            f"{flag} {vocab_size} is too small for a {flavour} tokenizer: it must hold {what}; use at least {minimum}."
        )


def build_trainer(
    flavour: str, vocab_size: int, min_frequency: int, show_progress: bool, vocab_flag: str = "--vocab_size"
) -> trainers.BpeTrainer:
    specials = SPECIAL_TOKENS.for_flavour(flavour)
    check_vocab_size(flavour, vocab_size, vocab_flag)
    if flavour == "bytelevel":
        return trainers.BpeTrainer(
            vocab_size=vocab_size,
            min_frequency=min_frequency,
            special_tokens=specials,
            show_progress=show_progress,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        )
    return trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=specials,
        show_progress=show_progress,
        end_of_word_suffix=END_OF_WORD,
    )


def wrap(tokenizer: Tokenizer, flavour: str, model_max_length: int) -> PreTrainedTokenizerFast:
    """Wrap a trained `tokenizers.Tokenizer` as a transformers tokenizer with every special token named."""
    s = SPECIAL_TOKENS
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token=s.eos,  # GPT-2's convention: documents are separated (so also begun) by <|endoftext|>
        eos_token=s.eos,
        pad_token=s.pad,
        unk_token=s.unk if flavour == "gpt1" else None,
        sep_token=s.delimiter,
        cls_token=s.extract,
        extra_special_tokens={"start_token": s.start, "delimiter_token": s.delimiter, "extract_token": s.extract},
        split_special_tokens=False,  # special strings map to their ids; encode_texts splits them for user text
        clean_up_tokenization_spaces=False,
        model_max_length=model_max_length,
        padding_side="left",  # generation appends on the right
    )


@dataclass
class TrainingSummary:
    flavour: str
    vocab_size: int
    corpus_bytes: int
    seconds: float
    tokens_per_word: float | None

    def __str__(self):
        per_word = "n/a" if self.tokens_per_word is None else f"{self.tokens_per_word:.3f}"
        return (
            f"flavour={self.flavour} vocab_size={self.vocab_size} corpus={self.corpus_bytes / 1e6:.2f} MB "
            f"time={self.seconds:.2f}s ({self.corpus_bytes / 1e6 / max(self.seconds, 1e-9):.1f} MB/s) "
            f"tokens/word={per_word}"
        )


def train_tokenizer(
    files: str | os.PathLike | Iterable[str | os.PathLike] | None = None,
    dataset=None,
    texts: Iterable[str] | None = None,
    *,
    text_column: str = "text",
    flavour: str = "gpt1",
    vocab_size: int | None = None,
    min_frequency: int = 2,
    model_max_length: int = 512,
    show_progress: bool = True,
    vocab_flag: str = "--vocab_size",
) -> tuple[PreTrainedTokenizerFast, TrainingSummary]:
    """Train a BPE tokenizer on exactly one source: text `files` (globs), a `datasets` `dataset` column, or `texts`.

    Files are checked to be UTF-8 first, then read by the `tokenizers` library itself (in Rust, in parallel);
    datasets and iterators are streamed in batches. Returns the tokenizer and a summary.
    """
    if sum(source is not None for source in (files, dataset, texts)) != 1:
        raise ValueError("Pass exactly one text source: files=..., dataset=... or texts=....")
    if vocab_size is None:
        vocab_size = DEFAULT_VOCAB_SIZE.get(flavour, 0)
    tokenizer = build_pipeline(flavour)
    show_progress = show_progress and sys.stderr.isatty()  # without a terminal the bars are blank lines in a log
    trainer = build_trainer(flavour, vocab_size, min_frequency, show_progress, vocab_flag)

    start = time.perf_counter()
    sample: list[str] = []
    if files is not None:
        paths = expand_files(files)
        scans = [scan_text_file(path) for path in paths]
        corpus_bytes = sum(size for size, _ in scans)
        non_empty(iter_bounded_lines(paths, MAX_LINE_CHARS), what=", ".join(map(str, paths[:3])))
        if max(longest for _, longest in scans) <= MAX_LINE_CHARS:
            tokenizer.train([str(path) for path in paths], trainer)  # read in Rust, in parallel
        else:  # the Rust reader holds a whole line (and its pre-tokens) in memory: feed bounded pieces instead
            logger.info("A line is longer than %d characters: training on it in pieces.", MAX_LINE_CHARS)
            tokenizer.train_from_iterator(iter_bounded_lines(paths, MAX_LINE_CHARS), trainer)
        sample = _first_texts(iter_bounded_lines(paths, MAX_LINE_CHARS, batch_lines=100))
    else:
        batches = iter_dataset_texts(dataset, text_column) if dataset is not None else batched(texts)
        counter = _ByteCounter(non_empty(batches, what="dataset" if dataset is not None else "texts"), sample)
        tokenizer.train_from_iterator(counter, trainer)
        corpus_bytes = counter.bytes
    seconds = time.perf_counter() - start

    trained = tokenizer.get_vocab_size()
    if trained > vocab_size:
        raise ArgumentError(
            f"vocab_size={vocab_size} is smaller than the corpus alphabet + special tokens ({trained} symbols before "
            f"any merge); use a larger vocab_size (at least {trained})."
        )
    wrapped = wrap(tokenizer, flavour, model_max_length)
    summary = TrainingSummary(flavour, trained, corpus_bytes, seconds, tokens_per_word(wrapped, sample))
    logger.info("Trained tokenizer: %s", summary)
    return wrapped, summary


def _first_texts(batches: Iterable[list[str]], count: int = 2000, max_chars: int = 1 << 20) -> list[str]:
    """Up to `count` texts and about `max_chars` characters from the start of a source (the tokens/word sample)."""
    sample, chars = [], 0
    for batch in batches:
        for text in batch:
            if len(sample) >= count or chars >= max_chars:
                return sample
            sample.append(text)
            chars += len(text)
    return sample


class _ByteCounter:
    """Iterator wrapper that counts UTF-8 bytes passed to the trainer and keeps the first texts as a sample."""

    def __init__(self, batches: Iterable[list[str]], sample: list[str], sample_size: int = 2000):
        self.batches, self.sample, self.sample_size, self.bytes = iter(batches), sample, sample_size, 0

    def __iter__(self):
        for batch in self.batches:
            self.bytes += sum(len(text.encode("utf-8")) for text in batch)
            if len(self.sample) < self.sample_size:
                self.sample.extend(batch[: self.sample_size - len(self.sample)])
            yield batch


@contextlib.contextmanager
def _splitting_special_tokens(backend):
    """Encode special-token strings as plain text for the duration (restores the tokenizer's own setting)."""
    previous = backend.encode_special_tokens
    backend.encode_special_tokens = True
    try:
        yield
    finally:
        backend.encode_special_tokens = previous


def encode_texts(tokenizer, texts: list[str]) -> list[list[int]]:
    """Ids of user text, without added special tokens, where a special token's string (`<|extract|>`, a user's
    added token) is encoded as text: user data can never produce a special id; code inserts them by id.

    Through the Rust tokenizer directly when there is one: the same ids as `tokenizer(texts, add_special_tokens=False,
    split_special_tokens=True)`, without the attention masks, character offsets and length warnings of that call."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:  # a Python tokenizer
        return tokenizer(list(texts), add_special_tokens=False, split_special_tokens=True)["input_ids"]
    encode = getattr(backend, "encode_batch_fast", backend.encode_batch)  # fast: no character offsets
    with _splitting_special_tokens(backend):
        return [encoding.ids for encoding in encode(list(texts), add_special_tokens=False)]


def tokens_per_word(tokenizer: PreTrainedTokenizerFast, texts: list[str]) -> float | None:
    """Average BPE tokens per whitespace-separated word on a sample (a measure of the vocabulary's fit)."""
    words = sum(len(text.split()) for text in texts)
    if not words:
        return None
    return sum(len(ids) for ids in encode_texts(tokenizer, texts)) / words


TASK_TOKENS = ("start", "delimiter", "extract")  # the paper's task-input tokens, as `<name>_token` on a tokenizer


def task_token_ids(tokenizer) -> dict[str, int]:
    """{start, delimiter, extract: id} of a tokenizer; a tokenizer without them is an error saying how to get them."""
    ids = {name: getattr(tokenizer, f"{name}_token_id", None) for name in TASK_TOKENS}
    missing = [name for name, value in ids.items() if value is None]
    if missing:
        raise ArgumentError(
            f"The tokenizer has no {', '.join(missing)} token; train it with gpt_hf.train_tokenizer "
            "or add them as extra special tokens named start_token / delimiter_token / extract_token."
        )
    return ids


def document_start_id(tokenizer) -> int:
    """The token a document follows (BOS, = <|endoftext|> in gpt_hf tokenizers; else EOS): what an empty prompt and
    a document's first scored token are conditioned on."""
    start = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    if start is None:
        raise ArgumentError("The tokenizer has neither a bos nor an eos token to start a document from.")
    return start


def special_token_ids(tokenizer) -> dict[str, int | None]:
    """The config fields a model needs to agree with this tokenizer: vocab size and every special id."""
    ids = {
        "vocab_size": len(tokenizer),
        "pad_token_id": tokenizer.pad_token_id,
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
    }
    for name in TASK_TOKENS:
        ids[f"{name}_token_id"] = getattr(tokenizer, f"{name}_token_id", None)
    return ids


_MAX_VOCAB_PADDING = 128  # resize_token_embeddings(pad_to_multiple_of=64/128): extra rows for matmul speed


def is_padded_vocab(tokens: int, vocab_size: int) -> bool:
    """A model vocabulary that is the tokenizer's rounded up to a multiple of 8..128 for speed (GPT-2's 50257 ->
    50304), adding at most 1% of rows; a larger gap means a tokenizer trained for another model."""
    return vocab_size - tokens <= tokens // 100 and any(
        vocab_size == -(-tokens // multiple) * multiple for multiple in (8, 16, 32, 64, _MAX_VOCAB_PADDING)
    )


def check_tokenizer_matches_config(tokenizer, config) -> None:
    """Raise `ValueError` listing every vocab-size or special-id disagreement between a tokenizer and a config."""
    expected = special_token_ids(tokenizer)
    problems = []
    tokens = expected["vocab_size"]
    if tokens > config.vocab_size:
        problems.append(f"tokenizer has {tokens} tokens but config.vocab_size={config.vocab_size}")
    elif tokens < config.vocab_size and not is_padded_vocab(tokens, config.vocab_size):
        problems.append(
            f"tokenizer has {tokens} tokens but config.vocab_size={config.vocab_size}: a tokenizer trained for "
            f"another model (embedding rows {tokens}..{config.vocab_size - 1} would never be used). Use the model's "
            "own tokenizer, or resize_token_embeddings(len(tokenizer)); padding to a multiple of up to "
            f"{_MAX_VOCAB_PADDING} (at most 1% more rows) is accepted"
        )
    for key, value in expected.items():
        # A built-in config (GPT2Config after export) has no start/delimiter/extract ids: nothing to disagree with.
        if key != "vocab_size" and value is not None and hasattr(config, key) and getattr(config, key) != value:
            problems.append(f"{key}: tokenizer {value} vs config {getattr(config, key, None)}")
    if problems:
        raise ArgumentError(
            "Tokenizer and model config disagree: "
            + "; ".join(problems)
            + ". Build the config with gpt_hf.special_token_ids(tokenizer), or resize the model's "
            "embeddings and update the ids."
        )


def save_tokenizer(tokenizer, folder: str | os.PathLike, config=None) -> Path:
    """Save the tokenizer that goes with a model: checked to agree with the model's `config`, and with
    `model_max_length` set to the model's context, so truncation in pipelines, TRL and the user's own calls stops
    where the model does (a tokenizer trained for another length keeps that length otherwise)."""
    if config is not None:
        check_tokenizer_matches_config(tokenizer, config)
        tokenizer.model_max_length = config.n_positions
    tokenizer.save_pretrained(folder)
    return Path(folder)


def copy_tokenizer(
    source: str | os.PathLike, folder: str | os.PathLike, config, strict: bool = True, padding_side: str | None = None
):
    """The tokenizer of the folder `source`, saved into `folder` beside a model with `config` (`save_tokenizer`), for
    a folder rebuilt from another (conversion, export, the Hub folder); returns it, or None when none was saved. A
    source with no tokenizer that loads is a warning: the model is usable without one. A tokenizer that disagrees
    with the model is an error when `strict` (a gpt_hf folder whose tokenizer does not fit its model is broken), and a
    warning otherwise (a foreign checkpoint's folder: transformers builds an empty tokenizer for one without
    tokenizer files). `padding_side`: the side the copy pads on, where the target's convention differs."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(source))
    except (OSError, ValueError) as err:
        logger.warning("No tokenizer saved with the model: %s has none that loads (%s).", source, err)
        return None
    if padding_side is not None:
        tokenizer.padding_side = padding_side
    try:
        save_tokenizer(tokenizer, folder, config)
    except ArgumentError as err:
        if strict:
            raise
        logger.warning("No tokenizer saved with the model: the one in %s does not fit it (%s).", source, err)
        return None
    return tokenizer
