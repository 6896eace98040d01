"""Evaluation without gradient updates: sliding-window perplexity, and zero/few-shot scoring by log-likelihood as
GPT-2/GPT-3 evaluate (each candidate continuation scored by the summed log-probability of its tokens after the
prompt; `acc` takes the argmax of the sum, `acc_norm` of the sum divided by the candidate's length in characters).

Rows are right-padded in batches; with causal attention padding after a row never changes its scores.
"""

import math
import random
from dataclasses import dataclass, field

import torch
from torch.nn import functional as F
from tqdm.auto import tqdm

from .tokenization import encode_texts


def _context_length(model) -> int:
    return model.config.n_positions


@torch.no_grad()
def _token_logprobs(model, rows: list[list[int]], batch_size: int, desc: str, show_progress: bool = True):
    """Log-probability of every token of every row given the tokens before it (first token: none)."""
    model.eval()
    device = next(model.parameters()).device
    results = []
    order = sorted(range(len(rows)), key=lambda i: -len(rows[i]))  # similar lengths together: less padding
    for start in tqdm(range(0, len(rows), batch_size), desc=desc, disable=not show_progress):
        batch = [rows[i] for i in order[start: start + batch_size]]
        width = max(len(row) for row in batch)
        ids = torch.zeros(len(batch), width, dtype=torch.long)
        mask = torch.zeros(len(batch), width, dtype=torch.long)
        for index, row in enumerate(batch):
            ids[index, : len(row)] = torch.tensor(row)
            mask[index, : len(row)] = 1
        logits = model(ids.to(device), attention_mask=mask.to(device)).logits.float()
        logprobs = F.log_softmax(logits[:, :-1], dim=-1).gather(-1, ids[:, 1:, None].to(device)).squeeze(-1)
        for index, row in enumerate(batch):
            results.append(logprobs[index, : len(row) - 1].cpu())
    unsorted = [None] * len(rows)
    for position, index in enumerate(order):
        unsorted[index] = results[position]
    return unsorted


def perplexity(model, tokenizer, texts: list[str], stride: int | None = None, batch_size: int = 8,
               show_progress: bool = True) -> dict:
    """Sliding-window perplexity over documents longer than the context: windows of `n_positions` tokens advance by
    `stride` (default: the full context), and each window scores only the tokens the previous one did not.
    Returns scored tokens, mean loss (nats/token), perplexity and bits per byte (UTF-8 bytes of the texts)."""
    window = _context_length(model)
    stride = stride or window
    if not 1 <= stride <= window:
        raise ValueError(f"stride must be in [1, {window}] (the context length), got {stride}.")
    rows, targets_from = [], []
    total_bytes = 0
    for text, ids in zip(texts, encode_texts(tokenizer, texts)):
        total_bytes += len(text.encode("utf-8"))
        previous_end = 0
        for begin in range(0, max(len(ids) - 1, 1), stride):
            end = min(begin + window, len(ids))
            rows.append(ids[begin:end])
            targets_from.append(max(previous_end - begin, 1) - 1)  # index into the row's predictions
            previous_end = end
            if end == len(ids):
                break
    if not rows or all(len(row) < 2 for row in rows):
        raise ValueError("No text to score: every document is shorter than two tokens.")
    logprobs = _token_logprobs(model, rows, batch_size, "Perplexity", show_progress)
    scored = [lp[start:] for lp, start in zip(logprobs, targets_from)]
    nll = -sum(float(s.sum()) for s in scored)
    tokens = sum(len(s) for s in scored)
    return {"tokens": tokens, "loss": nll / tokens, "perplexity": math.exp(nll / tokens),
            "bits_per_byte": nll / math.log(2) / total_bytes}


def score_continuations(model, tokenizer, requests: list[tuple[str, str]], batch_size: int = 16,
                        truncate_left: bool = False, show_progress: bool = True) -> list[float]:
    """Summed log-probability of each continuation's tokens after its context.

    A context + continuation longer than the model's context is an error unless `truncate_left`, which drops the
    oldest context tokens (never continuation tokens)."""
    window = _context_length(model)
    for context, continuation in requests:
        if not continuation:
            raise ValueError(f"Empty continuation for context {context[-60:]!r}; every candidate needs text.")
    # a k-shot prompt is shared by all of an example's candidates: encode each distinct text once
    distinct = list(dict.fromkeys(text for request in requests for text in request))
    encoded = dict(zip(distinct, encode_texts(tokenizer, distinct)))
    rows, spans = [], []
    for context, continuation in requests:
        context_ids, continuation_ids = list(encoded[context]), encoded[continuation]
        if not context_ids:  # score the first token too: condition on the end-of-text token
            context_ids = [tokenizer.eos_token_id]
        excess = len(context_ids) + len(continuation_ids) - window
        if excess > 0:
            if len(continuation_ids) >= window:
                raise ValueError(f"A candidate of {len(continuation_ids)} tokens does not fit the model's context of "
                                 f"{window} even without a prompt: {continuation[:60]!r}...")
            if not truncate_left:
                raise ValueError(
                    f"Prompt + candidate is {len(context_ids) + len(continuation_ids)} tokens, more than the model's "
                    f"context of {window}; shorten it, use fewer demonstrations, or pass truncate_left=True."
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


def evaluate_multiple_choice(model, tokenizer, examples: list[MultipleChoiceExample], pool: list[MultipleChoiceExample],
                             num_fewshot: int = 0, seed: int = 1234, separator: str = "\n\n", batch_size: int = 16,
                             truncate_left: bool = False, show_progress: bool = True) -> dict:
    """acc / acc_norm of log-likelihood scoring; k demonstrations per example drawn with `seed` from `pool` (a split
    other than the evaluated one), each shown with its correct answer."""
    if num_fewshot > len(pool):
        raise ValueError(f"num_fewshot={num_fewshot} is larger than the demonstration pool ({len(pool)} examples).")
    rng = random.Random(seed)
    requests, owners = [], []
    for index, example in enumerate(examples):
        if not example.candidates:
            raise ValueError(f"Example {index} has an empty candidate list.")
        shots = rng.sample(pool, num_fewshot)
        prompt = build_fewshot_prompt(example.prompt, [(s.prompt, s.candidates[s.label]) for s in shots], separator)
        for candidate in example.candidates:
            requests.append((prompt, candidate))
            owners.append(index)
    scores = score_continuations(model, tokenizer, requests, batch_size, truncate_left, show_progress)
    correct = correct_norm = 0
    position = 0
    for example in examples:
        count = len(example.candidates)
        chunk = scores[position: position + count]
        position += count
        normalised = [s / max(len(c), 1) for s, c in zip(chunk, example.candidates)]
        correct += int(max(range(count), key=chunk.__getitem__) == example.label)
        correct_norm += int(max(range(count), key=normalised.__getitem__) == example.label)
    return {"acc": correct / len(examples), "acc_norm": correct_norm / len(examples), "examples": len(examples),
            "num_fewshot": num_fewshot}


def acceptability_by_threshold(model, tokenizer, calibration: list[tuple[str, int]], test: list[tuple[str, int]],
                               batch_size: int = 16, show_progress: bool = True) -> dict:
    """The GPT-1 paper's zero-shot heuristic for acceptability: a sentence's average token log-probability,
    thresholded; the threshold is the one that is most accurate on the `calibration` examples."""

    def average_logprobs(items):
        scores = score_continuations(model, tokenizer, [("", text) for text, _ in items], batch_size,
                                     show_progress=show_progress)
        lengths = [len(ids) for ids in encode_texts(tokenizer, [text for text, _ in items])]
        return [s / max(n, 1) for s, n in zip(scores, lengths)]

    calibration_scores = average_logprobs(calibration)
    labels = [label for _, label in calibration]
    best = max(sorted(set(calibration_scores)), key=lambda t: sum(
        (s >= t) == bool(y) for s, y in zip(calibration_scores, labels)))
    test_scores = average_logprobs(test)
    accuracy = sum((s >= best) == bool(y) for s, (_, y) in zip(test_scores, test)) / len(test)
    return {"acc": accuracy, "threshold": best, "examples": len(test)}


# --- the evaluation run (scripts/evaluate.py) -----------------------------------------------------------------------

ACCEPTABILITY_PROMPT = "{text}\nQuestion: is the sentence above well-formed English? Answer:"
ACCEPTABILITY_VERBALISERS = (" no", " yes")  # label 0, label 1


@dataclass
class EvaluationArguments:
    model_name_or_path: str = field(metadata={"help": "A gpt_hf causal-LM folder (pretrained, fine-tuned, converted)."})
    perplexity_files: list[str] | None = field(
        default=None, metadata={"help": "Text files (globs) for perplexity; default: the built-in corpus's "
                                        "validation split."})
    tasks: list[str] = field(
        default_factory=lambda: ["continuation", "acceptability"],
        metadata={"help": "Zero/few-shot tasks over the built-in self-labelled data: continuation, acceptability."})
    num_fewshot: list[int] = field(default_factory=lambda: [0, 1, 4],
                                   metadata={"help": "Numbers of demonstrations k to evaluate."})
    max_examples: int = field(default=300, metadata={"help": "Examples per task (from the test split)."})
    stride: int | None = field(
        default=None, metadata={"help": "Sliding-window stride for perplexity (default: the context length)."})
    separator: str = field(default="\n\n", metadata={"help": "Text between demonstrations and the query."})
    seed: int = field(default=1234, metadata={"help": "Seed for drawing demonstrations (from the train split)."})
    batch_size: int = field(default=16, metadata={"help": "Rows per forward pass."})
    truncate_left: bool = field(
        default=True, metadata={"help": "Drop the oldest prompt tokens when a k-shot prompt exceeds the context "
                                        "(false: an error)."})
    trust_remote_code: bool = field(default=False, metadata={"help": "Load the model's own code from its folder."})
    output_file: str | None = field(default=None, metadata={"help": "Also write the results JSON here."})

    def __post_init__(self):
        unknown = sorted(set(self.tasks) - {"continuation", "acceptability"})
        if unknown:
            raise ValueError(f"Unknown evaluation task(s) {unknown}; choose from ['acceptability', 'continuation'].")
        if any(k < 0 for k in self.num_fewshot):
            raise ValueError(f"--num_fewshot values must be >= 0, got {self.num_fewshot}.")


def run_evaluation(model, tokenizer, args: EvaluationArguments) -> dict:
    from .data import load_text_dataset
    from .self_labelled import self_labelled_dataset

    results = {}
    corpus = load_text_dataset(files=args.perplexity_files, validation_fraction=0.05, seed=42)
    texts = list(corpus["validation"]["text"]) if args.perplexity_files is None else list(corpus["train"]["text"]) \
        + list(corpus["validation"]["text"])
    results["perplexity"] = perplexity(model, tokenizer, texts, stride=args.stride, batch_size=args.batch_size)

    for task in args.tasks:
        data = self_labelled_dataset(task)
        test = data["test"].select(range(min(args.max_examples, len(data["test"]))))
        pool_split = data["train"].select(range(min(2000, len(data["train"]))))
        if task == "continuation":
            examples = [MultipleChoiceExample(r["context"], [" " + c for c in r["choices"]], r["label"]) for r in test]
            pool = [MultipleChoiceExample(r["context"], [" " + c for c in r["choices"]], r["label"])
                    for r in pool_split]
        else:
            examples = [MultipleChoiceExample(ACCEPTABILITY_PROMPT.format(text=r["text"]), list(
                ACCEPTABILITY_VERBALISERS), r["label"]) for r in test]
            pool = [MultipleChoiceExample(ACCEPTABILITY_PROMPT.format(text=r["text"]), list(
                ACCEPTABILITY_VERBALISERS), r["label"]) for r in pool_split]
            calibration = data["validation"].select(range(min(args.max_examples, len(data["validation"]))))
            results[f"{task}/gpt1_threshold_zero_shot"] = acceptability_by_threshold(
                model, tokenizer, [(r["text"], r["label"]) for r in calibration],
                [(r["text"], r["label"]) for r in test], batch_size=args.batch_size)
        for k in args.num_fewshot:
            results[f"{task}/{k}-shot"] = evaluate_multiple_choice(
                model, tokenizer, examples, pool, num_fewshot=k, seed=args.seed, separator=args.separator,
                batch_size=args.batch_size, truncate_left=args.truncate_left)
    return results
