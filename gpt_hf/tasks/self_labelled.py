"""Self-labelled tasks built from any corpus (default: the built-in corpus), so fine-tuning and zero-shot evaluation
run offline and exercise all four of the paper's input transformations:

    acceptability   classification   a sentence (label 1) or the same words shuffled (label 0)
    next_sentence   entailment       a sentence and its true successor (1) or a sentence from another document (0)
    same_document   similarity       two sentences of one document (1) or of two documents (0)
    continuation    multiple choice  a sentence and 4 candidates, one its true successor (label = its index)

Documents are split into train / validation / test with a seed before any example is built, and a sentence that
occurs in several documents is kept in the first split only, so no sentence is in two splits.
"""

import random
import re
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import ArgumentError, DataError

SPLITS = ("train", "validation", "test")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


def split_sentences(document: str, min_words: int = 4, max_chars: int = 300) -> list[str]:
    """Prose sentences of a document: whitespace collapsed, split after . ! ? before a capital letter."""
    sentences = []
    for paragraph in re.split(r"\n\s*\n", document):
        text = " ".join(paragraph.split())
        for sentence in _SENTENCE_END.split(text):
            words = sentence.split()
            if len(words) >= min_words and len(sentence) <= max_chars and sentence[-1] in ".!?":
                sentences.append(sentence)
    return sentences


def _document_splits(documents: list[str], seed: int, fractions=(0.8, 0.1, 0.1)) -> dict[str, list[list[str]]]:
    rng = random.Random(seed)
    order = list(range(len(documents)))
    rng.shuffle(order)
    cut1 = int(fractions[0] * len(order))
    cut2 = cut1 + int(fractions[1] * len(order))
    assigned = {"train": order[:cut1], "validation": order[cut1:cut2], "test": order[cut2:]}
    seen: set[str] = set()
    result = {}
    for split in SPLITS:
        docs = []
        for index in assigned[split]:
            sentences = [s for s in split_sentences(documents[index]) if s not in seen]
            seen.update(sentences)
            if len(sentences) >= 2:
                docs.append(sentences)
        result[split] = docs
    return result


def _other_sentence(rng: random.Random, docs: list[list[str]], not_doc: int) -> str:
    while True:
        index = rng.randrange(len(docs))
        if index != not_doc:
            return rng.choice(docs[index])


def _shuffled(rng: random.Random, sentence: str) -> str | None:
    words = sentence.split()
    for _ in range(10):
        rng.shuffle(words)
        candidate = " ".join(words)
        if candidate != sentence:
            return candidate
    return None


def _acceptability(rng, docs, doc_index, sentences, position, positive) -> dict:
    sentence = sentences[position]
    shuffled = None if positive else _shuffled(rng, sentence)
    if shuffled is None:
        positive = True
    return {"text": sentence if positive else shuffled, "label": int(positive)}


def _next_sentence(rng, docs, doc_index, sentences, position, positive) -> dict:
    second = sentences[position + 1] if positive else _other_sentence(rng, docs, doc_index)
    return {"text": sentences[position], "text_pair": second, "label": int(positive)}


def _same_document(rng, docs, doc_index, sentences, position, positive) -> dict:
    second = (
        rng.choice(sentences[:position] + sentences[position + 1 :])
        if positive
        else _other_sentence(rng, docs, doc_index)
    )
    return {"text": sentences[position], "text_pair": second, "label": int(positive)}


def _continuation(rng, docs, doc_index, sentences, position, positive) -> dict:
    following = sentences[position + 1]
    choices = [following] + [_other_sentence(rng, docs, doc_index) for _ in range(3)]
    rng.shuffle(choices)
    return {"context": sentences[position], "choices": choices, "label": choices.index(following)}


@dataclass(frozen=True)
class SelfLabelledBuilder:
    """How one self-labelled task's examples are built (its benchmark row: `benchmarks.BENCHMARKS`).

    task_type: the fine-tuning task type its rows fit (`types.TASK_TYPES`).
    build: (rng, documents, document index, its sentences, sentence position, positive?) -> one example.
    needs_next: whether an example needs the sentence after this one (none is built for a document's last)."""

    task_type: str
    build: Callable[..., dict]
    needs_next: bool = True


BUILDERS = {
    "acceptability": SelfLabelledBuilder("classification", _acceptability, needs_next=False),
    "next_sentence": SelfLabelledBuilder("entailment", _next_sentence),
    "same_document": SelfLabelledBuilder("similarity", _same_document),
    "continuation": SelfLabelledBuilder("multiple_choice", _continuation),
}


def build_examples(task: str, docs: list[list[str]], seed: int, limit: int | None = None) -> list[dict]:
    """Examples of one task from one split's documents (lists of sentences); balanced binary labels."""
    if len(docs) < 2:
        raise DataError("A self-labelled task needs at least two documents with two or more sentences in each split.")
    spec = BUILDERS[task]
    rng = random.Random(seed)
    examples = []
    for doc_index, sentences in enumerate(docs):
        for position in range(len(sentences)):
            positive = rng.random() < 0.5
            if not spec.needs_next or position + 1 < len(sentences):
                examples.append(spec.build(rng, docs, doc_index, sentences, position, positive))
            if limit is not None and len(examples) >= limit:
                return examples
    return examples


def self_labelled_dataset(
    task: str, documents: list[str] | None = None, seed: int = 42, max_examples: dict[str, int] | None = None
):
    """A `DatasetDict` (train / validation / test) of one self-labelled task."""
    import datasets

    from ..data.corpus import builtin_corpus

    if task not in BUILDERS:
        raise ArgumentError(f"Unknown self-labelled task {task!r}; choose one of {sorted(BUILDERS)}.")
    split_docs = _document_splits(builtin_corpus() if documents is None else documents, seed)
    limits = max_examples or {}
    return datasets.DatasetDict(
        {
            split: datasets.Dataset.from_list(build_examples(task, docs, seed + i, limits.get(split)))
            for i, (split, docs) in enumerate(split_docs.items())
        }
    )


# The topic task: which part of the standard library a paragraph of its documentation comes from. Families every
# supported Python ships, each with enough modules to split by module (no module's paragraphs on two sides).
TOPIC_FAMILIES = ("asyncio", "email", "importlib", "tkinter", "unittest", "xml")


def topic_dataset(seed: int = 42, min_words: int = 6, max_chars: int = 300):
    """A `DatasetDict` (train / validation / test) of the built-in corpus's paragraphs labelled with their module
    family (`TOPIC_FAMILIES`): a task a bag of words does well, unlike the four above. Modules are split per family
    with `seed` (a tenth each to validation and test, at least one), so no module is on two sides; a paragraph
    repeated across modules is kept in the first split only."""
    import datasets

    from ..data.corpus import builtin_corpus_sources

    modules: dict[str, list[str]] = {family: [] for family in TOPIC_FAMILIES}
    for source, text in builtin_corpus_sources():
        family = source.split("/", 1)[0]
        if family in modules and "/" in source:
            modules[family].append(text)
    rng = random.Random(seed)
    assigned: dict[str, list[tuple[str, str]]] = {split: [] for split in SPLITS}
    for family, texts in modules.items():
        if len(texts) < 3:
            raise DataError(f"The topic task needs three modules of {family!r}; this Python ships {len(texts)}.")
        order = list(range(len(texts)))
        rng.shuffle(order)
        held = max(1, len(texts) // 10)
        sides = {"test": order[:held], "validation": order[held : 2 * held], "train": order[2 * held :]}
        for split, indices in sides.items():
            assigned[split] += [(family, texts[i]) for i in indices]
    seen: set[str] = set()
    splits = {}
    for split in ("test", "validation", "train"):  # held-out paragraphs first: a repeat goes to their side
        rows = []
        for family, text in assigned[split]:
            for paragraph in _paragraphs(text, min_words, max_chars):
                if paragraph not in seen:
                    seen.add(paragraph)
                    rows.append({"text": paragraph, "label": family})
        rng.shuffle(rows)
        splits[split] = datasets.Dataset.from_list(rows)
    return datasets.DatasetDict({split: splits[split] for split in SPLITS})


def _paragraphs(text: str, min_words: int, max_chars: int) -> list[str]:
    """Paragraphs of prose: whitespace collapsed, at least `min_words` words, cut at a word before `max_chars`."""
    out = []
    for block in re.split(r"\n\s*\n", text):
        words = block.split()
        if len(words) < min_words:
            continue
        paragraph = " ".join(words)
        if len(paragraph) > max_chars:
            paragraph = paragraph[:max_chars].rsplit(" ", 1)[0]
        out.append(paragraph)
    return out
