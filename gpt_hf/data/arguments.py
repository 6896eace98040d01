"""The corpus and tokenizer-training flags that pretraining and token-store preparation share (`CorpusArguments`, on
top of the document flags of `documents.DocumentArguments`)."""

from dataclasses import dataclass, field

from ..errors import ArgumentError, check_at_least_one, check_fraction
from .tokenizer import FLAVOURS
from .units import DocumentArguments

# Streamed corpora (--streaming, a token store) train a new tokenizer on this many of their first documents.
STREAMING_TOKENIZER_DOCUMENTS = 100_000


@dataclass
class CorpusArguments(DocumentArguments):
    """Where the text comes from and how a tokenizer is trained on it: shared by pretraining and preparation."""

    train_files: list[str] | None = field(
        default=None,
        metadata={
            "help": "Local txt / json / jsonl / csv / parquet files or globs. Default: the "
            "built-in corpus (Python's documentation), when no --dataset_name either."
        },
    )
    validation_files: list[str] | None = field(default=None, metadata={"help": "Validation files or globs."})
    dataset_name: str | None = field(default=None, metadata={"help": "A `datasets` name (needs network)."})
    dataset_config: str | None = field(default=None, metadata={"help": "The dataset's configuration name."})
    text_column: str = field(default="text", metadata={"help": "Column holding the documents."})
    validation_split_fraction: float = field(
        default=0.05, metadata={"help": "Share of documents held out when the data has no validation split."}
    )
    max_train_documents: int | None = field(
        default=None, metadata={"help": "Use only N documents: the first N (streamed: spread over the files)."}
    )
    max_validation_documents: int = field(
        default=1000,
        metadata={
            "help": "Streamed corpora (--streaming, a token store): size of the fixed "
            "validation set, in whole documents."
        },
    )
    tokenizer_train_documents: int | None = field(
        default=None,
        metadata={
            "help": "Train a new tokenizer on the first N training documents (default: all of "
            "them; streamed corpora: 100,000)."
        },
    )
    tokenizer_flavour: str = field(
        default="bytelevel", metadata={"help": f"Flavour when a tokenizer is trained on the data: {FLAVOURS}."}
    )
    tokenizer_vocab_size: int | None = field(
        default=None,
        metadata={
            "help": "Vocabulary of a tokenizer trained on the data (default: the config's, or "
            "the flavour's own when preparing a store)."
        },
    )
    preprocessing_num_workers: int | None = field(
        default=None,
        metadata={
            "help": "Processes that tokenise (map-style pretraining: datasets.map's num_proc; "
            "a store: tokenising processes). With --streaming, tokenising runs in the "
            "DataLoader: use --dataloader_num_workers."
        },
    )

    def __post_init__(self):
        super().__post_init__()
        if self.train_files is not None and self.dataset_name is not None:
            raise ArgumentError("Pass --train_files or --dataset_name, not both.")
        check_at_least_one(
            self,
            "preprocessing_num_workers",
            "max_train_documents",
            "tokenizer_vocab_size",
            "max_validation_documents",
            "tokenizer_train_documents",
        )
        check_fraction(self.validation_split_fraction, "--validation_split_fraction")
        if self.tokenizer_flavour not in FLAVOURS:
            raise ArgumentError(f"--tokenizer_flavour {self.tokenizer_flavour!r} is not one of {FLAVOURS}.")

    @property
    def source_options(self) -> dict:
        """Keyword arguments shared by `load_text_dataset` and `load_text_stream`."""
        return dict(
            files=self.train_files,
            validation_files=self.validation_files,
            dataset_name=self.dataset_name,
            dataset_config=self.dataset_config,
            text_column=self.text_column,
            validation_fraction=self.validation_split_fraction,
            max_documents=self.max_train_documents,
            **self.document_options,
        )
