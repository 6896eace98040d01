"""Evaluation without gradient updates: sliding-window perplexity, and zero/few-shot scoring by log-likelihood as
GPT-2/GPT-3 evaluate (each candidate continuation scored by the summed log-probability of its tokens after the
prompt; `acc` takes the argmax of the sum, `acc_norm` of the sum divided by the candidate's length in characters).

Rows are right-padded in batches; with causal attention padding after a row never changes its scores.
"""

import math
import random
import string
from dataclasses import dataclass

import torch
from torch.nn import functional as F
from tqdm.auto import tqdm

from ..data.tokenizer import document_start_id, encode_texts
from ..errors import ArgumentError, DataError


def _context_length(model) -> int:
    return model.config.n_positions


@torch.no_grad()
def _token_logprobs(model, rows: list[list[int]], batch_size: int, desc: str, show_progress: bool = True):
    """Log-probability of tokens 1.. of every row given the tokens before it. A row may be one token longer than the
    context: the model reads row[:-1] and predicts row[1:], as lm-evaluation-harness does."""
    model.eval()
    device = next(model.parameters()).device
    results = []
    order = sorted(range(len(rows)), key=lambda i: -len(rows[i]))  # similar lengths together: less padding
    # disable=None: no bar without a terminal (a log file would get its redraws)
    for start in tqdm(range(0, len(rows), batch_size), desc=desc, disable=None if show_progress else True):
        batch = [rows[i] for i in order[start : start + batch_size]]
        width = max(len(row) for row in batch) - 1
        inputs = torch.zeros(len(batch), width, dtype=torch.long)
        targets = torch.zeros(len(batch), width, dtype=torch.long)
        mask = torch.zeros(len(batch), width, dtype=torch.long)
        for index, row in enumerate(batch):
            inputs[index, : len(row) - 1] = torch.tensor(row[:-1])
            targets[index, : len(row) - 1] = torch.tensor(row[1:])
            mask[index, : len(row) - 1] = 1
        logits = model(inputs.to(device), attention_mask=mask.to(device)).logits.float()  # (B, T, V)
        logprobs = F.log_softmax(logits, dim=-1).gather(-1, targets[..., None].to(device)).squeeze(-1)  # (B, T)
        for index, row in enumerate(batch):
            results.append(logprobs[index, : len(row) - 1].cpu())
    unsorted = [None] * len(rows)
    for position, index in enumerate(order):
        unsorted[index] = results[position]
    return unsorted


def rolling_windows(ids: list[int], prefix: int, window: int, stride: int) -> list[tuple[list[int], int]]:
    """Rows that score every token of `ids` exactly once: (row, number of scored tokens at the row's end).

    The stream is `[prefix] + ids`; a row holds up to `window` input tokens plus the next one. The first row scores
    its tokens from the prefix on; each later row ends `stride` tokens further and scores only those, so every token
    sees at least `window - stride` tokens of context. stride = window is lm-evaluation-harness's
    `loglikelihood_rolling` (disjoint windows; its `get_rolling_token_windows` with context_len=1)."""
    stream = [prefix, *ids]
    rows, scored_to = [], 0  # stream[1 .. scored_to] are scored
    while scored_to < len(ids):
        end = min(len(ids), window if not rows else scored_to + stride)  # the last stream index this row predicts
        begin = max(0, end - window)
        rows.append((stream[begin : end + 1], end - scored_to))
        scored_to = end
    return rows


def perplexity(
    model, tokenizer, texts: list[str], stride: int | None = None, batch_size: int = 8, show_progress: bool = True
) -> dict:
    """Perplexity of documents of any length: every token is scored exactly once; a document's first token is
    conditioned on BOS (`<|endoftext|>`, the token pretraining puts between documents), and windows of `n_positions`
    input tokens advance by `stride` (default: the full context, which is lm-evaluation-harness's
    `loglikelihood_rolling`; a smaller stride gives every token at least `n_positions - stride` tokens of context).
    Returns scored tokens, mean loss (nats/token), perplexity and bits per byte (UTF-8 bytes of the texts)."""
    window = _context_length(model)
    stride = stride or window
    if not 1 <= stride <= window:
        raise ArgumentError(f"stride must be in [1, {window}] (the context length), got {stride}.")
    prefix = document_start_id(tokenizer)
    rows, counts = [], []
    total_bytes = 0
    for text, ids in zip(texts, encode_texts(tokenizer, texts)):
        total_bytes += len(text.encode("utf-8"))
        for row, count in rolling_windows(ids, prefix, window, stride):
            rows.append(row)
            counts.append(count)
    if not rows:
        raise DataError(f"No text to score: the {len(texts)} text(s) encode to no tokens.")
    logprobs = _token_logprobs(model, rows, batch_size, "Perplexity", show_progress)
    nll = -sum(float(lp[-count:].sum()) for lp, count in zip(logprobs, counts))
    tokens = sum(counts)
    return {
        "tokens": tokens,
        "loss": nll / tokens,
        "perplexity": math.exp(nll / tokens),
        "bits_per_byte": nll / math.log(2) / total_bytes,
    }


def score_continuations(
    model,
    tokenizer,
    requests: list[tuple[str, str]],
    batch_size: int = 16,
    truncate_left: bool = False,
    show_progress: bool = True,
) -> list[float]:
    """Summed log-probability of each continuation's tokens after its context.

    A context + continuation longer than the model's context is an error unless `truncate_left`, which drops the
    oldest context tokens (never continuation tokens)."""
    window = _context_length(model)
    for context, continuation in requests:
        if not continuation:
            raise DataError(f"Empty continuation for context {context[-60:]!r}; every candidate needs text.")
    # a k-shot prompt is shared by all of an example's candidates: encode each distinct text once
    distinct = list(dict.fromkeys(text for request in requests for text in request))
    encoded = dict(zip(distinct, encode_texts(tokenizer, distinct)))
    rows, spans = [], []
    for context, continuation in requests:
        context_ids, continuation_ids = list(encoded[context]), encoded[continuation]
        if not context_ids:  # score the first token too: condition on BOS, as a document's start
            context_ids = [document_start_id(tokenizer)]
        excess = len(context_ids) + len(continuation_ids) - (window + 1)  # the last token is only predicted
        if excess > 0:
            if len(continuation_ids) > window:
                raise DataError(
                    f"A candidate of {len(continuation_ids)} tokens does not fit the model's context of "
                    f"{window} even without a prompt: {continuation[:60]!r}..."
                )
            if not truncate_left:
                raise DataError(
                    f"Prompt + candidate is {len(context_ids) + len(continuation_ids)} tokens, more than the model's "
                    f"context of {window} (+1 predicted); shorten it, use fewer demonstrations, or pass "
                    "truncate_left=True."
                )
            context_ids = context_ids[excess:]
        rows.append(context_ids + continuation_ids)
        spans.append(len(continuation_ids))
    logprobs = _token_logprobs(model, rows, batch_size, "Scoring", show_progress)
    return [float(lp[-span:].sum()) for lp, span in zip(logprobs, spans)]


@dataclass
class MultipleChoiceExample:
    prompt: str
    candidates: list[str]
    label: int


def build_fewshot_prompt(query: str, demonstrations: list[tuple[str, str]], separator: str = "\n\n") -> str:
    """`prompt_1 + answer_1 <sep> ... prompt_k + answer_k <sep> query` (GPT-3's k-shot layout)."""
    shots = [prompt + answer for prompt, answer in demonstrations]
    return separator.join([*shots, query])


def score_examples(
    model,
    tokenizer,
    examples: list[MultipleChoiceExample],
    pool: list[MultipleChoiceExample],
    num_fewshot: int = 0,
    seed: int = 1234,
    separator: str = "\n\n",
    batch_size: int = 16,
    truncate_left: bool = False,
    show_progress: bool = True,
) -> list[list[float]]:
    """Per example, the summed log-probability of each candidate after its k-shot prompt; k demonstrations per
    example drawn with `seed` from `pool` (a split other than the evaluated one), each shown with its right answer."""
    if num_fewshot > len(pool):
        raise ArgumentError(f"num_fewshot={num_fewshot} is larger than the demonstration pool ({len(pool)} examples).")
    rng = random.Random(seed)
    requests = []
    for index, example in enumerate(examples):
        if not example.candidates:
            raise DataError(f"Example {index} has an empty candidate list.")
        shots = rng.sample(pool, num_fewshot)
        prompt = build_fewshot_prompt(example.prompt, [(s.prompt, s.candidates[s.label]) for s in shots], separator)
        requests.extend((prompt, candidate) for candidate in example.candidates)
    scores = score_continuations(model, tokenizer, requests, batch_size, truncate_left, show_progress)
    chunks, position = [], 0
    for example in examples:
        chunks.append(scores[position : position + len(example.candidates)])
        position += len(example.candidates)
    return chunks


def evaluate_multiple_choice(
    model,
    tokenizer,
    examples: list[MultipleChoiceExample],
    pool: list[MultipleChoiceExample],
    num_fewshot: int = 0,
    seed: int = 1234,
    separator: str = "\n\n",
    batch_size: int = 16,
    truncate_left: bool = False,
    show_progress: bool = True,
) -> dict:
    """acc / acc_norm of log-likelihood scoring (`score_examples`)."""
    scores = score_examples(
        model, tokenizer, examples, pool, num_fewshot, seed, separator, batch_size, truncate_left, show_progress
    )
    correct = correct_norm = 0
    for example, chunk in zip(examples, scores):
        normalised = [s / max(len(c), 1) for s, c in zip(chunk, example.candidates)]
        correct += int(max(range(len(chunk)), key=chunk.__getitem__) == example.label)
        correct_norm += int(max(range(len(chunk)), key=normalised.__getitem__) == example.label)
    return {
        "acc": correct / len(examples),
        "acc_norm": correct_norm / len(examples),
        "examples": len(examples),
        "num_fewshot": num_fewshot,
    }


def template_examples(
    rows, template: str, choices: list[str], label_column: str, what: str = "the task file"
) -> list[MultipleChoiceExample]:
    """Multiple-choice examples from labelled rows (lm-evaluation-harness style): the prompt is `template` filled
    with the row's columns (`{column}`), the candidates are the `choices` (verbalisers, one per label), and the label
    is the index of the right choice or the choice itself (surrounding spaces ignored)."""
    columns = list(rows.column_names)  # a datasets.Dataset
    fields = {name for _, name, _, _ in string.Formatter().parse(template) if name}
    missing = sorted(fields - set(columns))
    if missing:
        raise ArgumentError(f"--template names {missing}, which are not columns of {what}; its columns are {columns}.")
    if label_column not in columns:
        raise ArgumentError(f"--label_column {label_column!r} is not a column of {what}; its columns are {columns}.")
    if len(choices) < 2:
        raise ArgumentError(f"--choices needs at least two verbalisers (one per label), got {choices}.")
    by_name = {choice.strip(): index for index, choice in enumerate(choices)}
    examples = []
    for index, row in enumerate(rows):
        label = row[label_column]
        if isinstance(label, str) and label.strip() in by_name:
            label = by_name[label.strip()]
        elif isinstance(label, str) and label.strip().isdigit():  # an index read as text (a string column)
            label = int(label)
        if isinstance(label, bool) or not isinstance(label, int) or not 0 <= label < len(choices):
            raise DataError(
                f"Row {index} of {what} has label {row[label_column]!r}: give the index of the right "
                f"choice (0 to {len(choices) - 1}) or one of {sorted(by_name)}."
            )
        examples.append(
            MultipleChoiceExample(template.format(**{name: row[name] for name in fields}), list(choices), label)
        )
    if not examples:
        raise DataError(f"{what} has no rows.")
    return examples


def acceptability_by_threshold(
    model,
    tokenizer,
    calibration: list[tuple[str, int]],
    test: list[tuple[str, int]],
    batch_size: int = 16,
    show_progress: bool = True,
) -> dict:
    """The GPT-1 paper's zero-shot heuristic for acceptability: a sentence's average token log-probability,
    thresholded; the threshold is the one that is most accurate on the `calibration` examples."""

    def average_logprobs(items):
        scores = score_continuations(
            model, tokenizer, [("", text) for text, _ in items], batch_size, show_progress=show_progress
        )
        lengths = [len(ids) for ids in encode_texts(tokenizer, [text for text, _ in items])]
        return [s / max(n, 1) for s, n in zip(scores, lengths)]

    calibration_scores = average_logprobs(calibration)
    labels = [label for _, label in calibration]
    best = max(
        sorted(set(calibration_scores)),
        key=lambda t: sum((s >= t) == bool(y) for s, y in zip(calibration_scores, labels)),
    )
    test_scores = average_logprobs(test)
    accuracy = sum((s >= best) == bool(y) for s, (_, y) in zip(test_scores, test)) / len(test)
    return {"acc": accuracy, "threshold": best, "examples": len(test)}
