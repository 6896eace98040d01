"""The paper's task input transformations (Figure 1) and a collator that pads them into model inputs.

    classification   [start] text [extract]                                  -> (T,)
    entailment       [start] premise [delim] hypothesis [extract]            -> (T,)
    similarity       [start] A [delim] B [extract], [start] B [delim] A [extract]   -> (2, T)
    multiple choice  [start] context [delim] answer_k [extract], k = 1..C    -> (C, T)

Every method takes one example (strings) or a `datasets` batch (lists, for `.map(batched=True)`) and returns
`{"input_ids": ...}` in the same shape. Truncation shares the budget between segments longest-first and never
drops the special tokens, so every row fits `max_length`.
"""

from dataclasses import dataclass

import torch

from ..data.tokenizer import encode_texts, task_token_ids
from ..errors import ArgumentError, DataError

IGNORE_INDEX = -100


def fit_lengths(lengths: list[int], budget: int) -> list[int]:
    """Longest-first truncation: shrink the longest segments until the total fits `budget`.

    Same result as removing one token at a time from the currently longest segment (ties: the later one).
    """
    if sum(lengths) <= budget:
        return list(lengths)
    low, high = 0, max(lengths)
    while low < high:  # the largest cap with sum(min(length, cap)) <= budget
        middle = (low + high + 1) // 2
        if sum(min(length, middle) for length in lengths) <= budget:
            low = middle
        else:
            high = middle - 1
    fitted = [min(length, low) for length in lengths]
    spare = budget - sum(fitted)
    for index, length in enumerate(lengths):  # segments that were cut get the spare tokens, earliest first
        if spare and length > low:
            fitted[index] += 1
            spare -= 1
    return fitted


class TaskTransform:
    """Build the paper's task inputs with a tokenizer that has start / delimiter / extract tokens."""

    def __init__(self, tokenizer, max_length: int | None = None):
        ids = task_token_ids(tokenizer)
        self.tokenizer = tokenizer
        self.start_id, self.delimiter_id, self.extract_id = ids["start"], ids["delimiter"], ids["extract"]
        self.max_length = max_length if max_length is not None else tokenizer.model_max_length
        if not isinstance(self.max_length, int) or not 4 <= self.max_length <= 1_000_000:
            raise ArgumentError(
                f"max_length={self.max_length!r} is not a usable context length; pass max_length=config.n_positions."
            )

    # -- encoding ----------------------------------------------------------------------------------------------
    def _encode(self, texts: list[str]) -> list[list[int]]:
        for text in texts:
            if not isinstance(text, str):
                raise TypeError(f"Task inputs must be strings, got {type(text).__name__}: {text!r:.60}")
        return encode_texts(self.tokenizer, texts)

    def _layout(self, *segments: list[int]) -> list[int]:
        """[start] s1 [delim] s2 ... [extract], segments truncated longest-first to fit max_length."""
        budget = self.max_length - len(segments) - 1
        lengths = fit_lengths([len(s) for s in segments], budget)
        row = [self.start_id]
        for index, (segment, length) in enumerate(zip(segments, lengths)):
            if index:
                row.append(self.delimiter_id)
            row.extend(segment[:length])
        row.append(self.extract_id)
        return row

    @staticmethod
    def _as_batch(value, name: str):
        """(is_batch, list) for a str or a list of str; anything else is a TypeError naming the argument."""
        if isinstance(value, str):
            return False, [value]
        if isinstance(value, (list, tuple)):
            return True, list(value)
        raise TypeError(f"{name} must be a str or a list of str, got {type(value).__name__}.")

    def _pairs(self, first, second, first_name: str, second_name: str):
        is_batch, firsts = self._as_batch(first, first_name)
        second_is_batch, seconds = self._as_batch(second, second_name)
        if is_batch != second_is_batch or len(firsts) != len(seconds):
            raise DataError(f"{first_name} and {second_name} must both be strings or lists of the same length.")
        empty = [i for i, text in enumerate(seconds) if not text.strip()]
        if empty:
            raise DataError(f"{second_name} is empty in example(s) {empty[:8]}; drop or fill those rows.")
        return is_batch, self._encode(firsts), self._encode(seconds)

    # -- the four transforms -----------------------------------------------------------------------------------
    def classification(self, text):
        is_batch, texts = self._as_batch(text, "text")
        start, extract, fits = self.start_id, self.extract_id, self.max_length - 2
        rows = [[start, *ids, extract] if len(ids) <= fits else self._layout(ids) for ids in self._encode(texts)]
        return {"input_ids": rows if is_batch else rows[0]}

    def entailment(self, premise, hypothesis):
        is_batch, premises, hypotheses = self._pairs(premise, hypothesis, "premise", "hypothesis")
        rows = [self._layout(p, h) for p, h in zip(premises, hypotheses)]
        return {"input_ids": rows if is_batch else rows[0]}

    def similarity(self, text_a, text_b):
        """Both orderings of the pair; the sequence-classification head sums their pooled states."""
        is_batch, firsts, seconds = self._pairs(text_a, text_b, "text_a", "text_b")
        rows = [[self._layout(a, b), self._layout(b, a)] for a, b in zip(firsts, seconds)]
        return {"input_ids": rows if is_batch else rows[0]}

    def multiple_choice(self, context, choices):
        """`choices` is a list of answers for one example, or a list of such lists for a batch."""
        is_batch, contexts = self._as_batch(context, "context")
        per_example = choices if is_batch else [choices]
        if not isinstance(per_example, (list, tuple)) or len(per_example) != len(contexts):
            raise DataError("choices must be one list of answers per context.")
        for index, answers in enumerate(per_example):
            if not isinstance(answers, (list, tuple)) or not answers:
                raise DataError(f"Example {index} has no choices; every example needs a non-empty list of answers.")
        encoded_contexts = self._encode(contexts)
        flat_answers = self._encode([answer for answers in per_example for answer in answers])
        rows, position = [], 0
        for context_ids, answers in zip(encoded_contexts, per_example):
            rows.append([self._layout(context_ids, flat_answers[position + k]) for k in range(len(answers))])
            position += len(answers)
        return {"input_ids": rows if is_batch else rows[0]}


@dataclass
class TaskCollator:
    """Pad task inputs of shape (T,), (2, T) or (C, T) per example into (B, T) / (B, 2, T) / (B, C, T) tensors.

    Returns `input_ids`, `attention_mask`, `lm_targets` (the auxiliary LM loss's targets: input ids with padding
    set to -100) and, when the features carry `labels` (or `label`), a `labels` tensor: long for class ids, float
    for regression scores and multi-hot vectors. Padding is on the right, after the extract token.
    """

    pad_token_id: int
    pad_to_multiple_of: int | None = None

    def __call__(self, features: list[dict]) -> dict[str, torch.Tensor]:
        if not features:
            raise ValueError("Cannot collate an empty batch.")
        rows_per_example = [self._rows(feature["input_ids"]) for feature in features]
        nested = {isinstance(feature["input_ids"][0], (list, tuple)) for feature in features}
        if len(nested) > 1:
            raise ValueError("A batch mixes single-sequence and multi-sequence (pair / choices) examples.")
        counts = {len(rows) for rows in rows_per_example}
        if nested == {True} and len(counts) > 1:
            raise ValueError(
                f"Examples in one batch have different numbers of choices/orderings {sorted(counts)}; "
                "every multiple-choice example must have the same number of choices."
            )
        length = max(len(row) for rows in rows_per_example for row in rows)
        if self.pad_to_multiple_of:
            length = -(-length // self.pad_to_multiple_of) * self.pad_to_multiple_of
        shape = (len(features), counts.pop(), length) if nested == {True} else (len(features), length)
        input_ids = torch.full(shape, self.pad_token_id, dtype=torch.long)
        attention_mask = torch.zeros(shape, dtype=torch.long)
        for example, rows in enumerate(rows_per_example):
            for index, row in enumerate(rows):
                target = (example, index) if nested == {True} else (example,)
                input_ids[target][: len(row)] = torch.tensor(row, dtype=torch.long)
                attention_mask[target][: len(row)] = 1
        batch = {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "lm_targets": input_ids.masked_fill(attention_mask == 0, IGNORE_INDEX),
        }
        label_key = next((k for k in ("labels", "label") if k in features[0]), None)
        if label_key is not None:
            batch["labels"] = self._labels([feature[label_key] for feature in features])
        return batch

    @staticmethod
    def _rows(input_ids):
        if not input_ids:
            raise ValueError("An example has empty input_ids.")
        return input_ids if isinstance(input_ids[0], (list, tuple)) else [input_ids]

    @staticmethod
    def _labels(values):
        tensor = torch.tensor(values)
        if tensor.is_floating_point() or tensor.dim() > 1:  # regression scores or multi-hot vectors
            return tensor.float()
        return tensor.long()
