"""Ready-made benchmarks, one table of one interface: each names the task type its rows fit, the metric that picks
the kept checkpoint, and loads its rows in the normalised columns (`columns.py`). Two sources fill the table: the
usual `datasets` shapes of the paper's benchmarks (GLUE, SNLI, SciTail, RACE, Story Cloze, SWAG; network needed) and
the self-labelled tasks built offline from a corpus (`self_labelled.BUILDERS`). Fine-tuning looks a name up in
`BENCHMARKS` and never asks which source a benchmark comes from; a new benchmark is one row.
"""

from dataclasses import dataclass

import datasets

from ..data.documents import load_text_dataset
from ..errors import ArgumentError
from .columns import ColumnSources, normalise_columns
from .self_labelled import BUILDERS, TOPIC_FAMILIES, self_labelled_dataset, topic_dataset
from .types import TASK_TYPES


@dataclass(frozen=True)
class Benchmark:
    """A ready-made labelled data set.

    task: the task type its rows fit (a key of `types.TASK_TYPES`).
    metric: the validation metric that picks the kept checkpoint; None for the prediction kind's default.
    problem_type: transformers' problem type of its labels, where the labels alone would not say it.
    """

    task: str
    metric: str | None = None
    problem_type: str | None = None

    @property
    def dataset_id(self) -> str | None:
        """The Hub data set it comes from (the model card's `datasets`), or None for one built here."""
        return None

    @property
    def offline(self) -> bool:
        return self.dataset_id is None

    def load(self, seed: int, corpus_files: list[str] | None = None, document_options: dict | None = None):
        """Its splits (train, validation, maybe test) in normalised columns, before any row check."""
        raise NotImplementedError


@dataclass(frozen=True)
class HubBenchmark(Benchmark):
    """A `datasets` benchmark: where it is and how its columns map onto the task type's normalised columns."""

    dataset: tuple[str, str | None] = ("", None)
    text: str | None = None
    text_pair: str | None = None
    context: tuple[str, ...] = ()
    choices: tuple[str, ...] = ()
    label: str = "label"
    validation_split: str = "validation"
    label_map: tuple[str, ...] | None = None  # string labels in id order (RACE's letters)

    @property
    def dataset_id(self) -> str:
        return self.dataset[0]

    def column_sources(self) -> ColumnSources:
        every = {
            "text": [self.text] if self.text else [],
            "text_pair": [self.text_pair] if self.text_pair else [],
            "context": list(self.context),
            "choices": list(self.choices),
        }
        inputs = {column: every[column] for column in TASK_TYPES[self.task].inputs}
        return ColumnSources(inputs, label=self.label, label_map=self.label_map)

    def load(self, seed: int, corpus_files: list[str] | None = None, document_options: dict | None = None):
        raw = datasets.load_dataset(*self.dataset)
        if self.validation_split != "validation":
            raw["validation"] = raw.pop(self.validation_split)
        return normalise_columns(raw, self.column_sources())


@dataclass(frozen=True)
class SelfLabelledBenchmark(Benchmark):
    """A self-labelled task built from a corpus: the built-in one, or `--corpus_files` read as documents."""

    builder: str = ""  # a key of self_labelled.BUILDERS

    def load(self, seed: int, corpus_files: list[str] | None = None, document_options: dict | None = None):
        documents = None
        if corpus_files:
            corpus = load_text_dataset(
                files=corpus_files, validation_fraction=0.01, seed=seed, **(document_options or {})
            )
            documents = list(corpus["train"]["text"]) + list(corpus["validation"]["text"])
        return self_labelled_dataset(self.builder, documents, seed=seed)


@dataclass(frozen=True)
class TopicBenchmark(Benchmark):
    """Which module family of the standard library a paragraph of the built-in corpus documents
    (`self_labelled.topic_dataset`): offline, with a bag-of-words baseline that is hard to beat."""

    def load(self, seed: int, corpus_files: list[str] | None = None, document_options: dict | None = None):
        if corpus_files:
            raise ArgumentError(
                f"--corpus_files: the topic task's labels are the built-in corpus's modules {TOPIC_FAMILIES}; it "
                "reads no other corpus (leave --corpus_files out)."
            )
        return topic_dataset(seed)


HUB_BENCHMARKS = {
    "cola": HubBenchmark("classification", dataset=("nyu-mll/glue", "cola"), text="sentence", metric="mcc"),
    "sst2": HubBenchmark("classification", dataset=("nyu-mll/glue", "sst2"), text="sentence"),
    "mrpc": HubBenchmark(
        "similarity", dataset=("nyu-mll/glue", "mrpc"), text="sentence1", text_pair="sentence2", metric="f1"
    ),
    "qqp": HubBenchmark(
        "similarity", dataset=("nyu-mll/glue", "qqp"), text="question1", text_pair="question2", metric="f1"
    ),
    "stsb": HubBenchmark(
        "similarity",
        dataset=("nyu-mll/glue", "stsb"),
        text="sentence1",
        text_pair="sentence2",
        metric="pearson",
        problem_type="regression",
    ),
    "mnli": HubBenchmark(
        "entailment",
        dataset=("nyu-mll/glue", "mnli"),
        text="premise",
        text_pair="hypothesis",
        validation_split="validation_matched",
    ),
    "qnli": HubBenchmark("entailment", dataset=("nyu-mll/glue", "qnli"), text="question", text_pair="sentence"),
    "rte": HubBenchmark("entailment", dataset=("nyu-mll/glue", "rte"), text="sentence1", text_pair="sentence2"),
    "snli": HubBenchmark("entailment", dataset=("stanfordnlp/snli", None), text="premise", text_pair="hypothesis"),
    "scitail": HubBenchmark(
        "entailment", dataset=("allenai/scitail", "tsv_format"), text="premise", text_pair="hypothesis"
    ),
    "race": HubBenchmark(
        "multiple_choice",
        dataset=("ehovy/race", "all"),
        context=("article", "question"),
        choices=("options",),
        label="answer",
        label_map=("A", "B", "C", "D"),
    ),
    "story_cloze": HubBenchmark(
        "multiple_choice",
        dataset=("LSDSem/story_cloze", "2016"),
        context=("input_sentence_1", "input_sentence_2", "input_sentence_3", "input_sentence_4"),
        choices=("sentence_quiz1", "sentence_quiz2"),
        label="answer_right_ending",
        label_map=("1", "2"),
    ),
    "swag": HubBenchmark(
        "multiple_choice",
        dataset=("allenai/swag", "regular"),
        context=("sent1", "sent2"),
        choices=("ending0", "ending1", "ending2", "ending3"),
    ),
}

BENCHMARKS: dict[str, Benchmark] = {
    **{name: SelfLabelledBenchmark(builder.task_type, builder=name) for name, builder in BUILDERS.items()},
    "topic": TopicBenchmark("classification"),
    **HUB_BENCHMARKS,
}
