"""Evaluation without gradient updates: sliding-window perplexity, and zero/few-shot scoring by log-likelihood as
GPT-2/GPT-3 evaluate (each candidate continuation scored by the summed log-probability of its tokens after the
prompt; `acc` takes the argmax of the sum, `acc_norm` of the sum divided by the candidate's length in characters).

Rows are right-padded in batches; with causal attention padding after a row never changes its scores.
"""

import json
import math
import random
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch.nn import functional as F
from tqdm.auto import tqdm

from .data import DocumentArguments, load_table_files, load_text_dataset, read_escapes
from .errors import ArgumentError, DataError, check_at_least_one
from .loading import load_model_and_tokenizer
from .saving import check_writable_file
from .self_labelled import self_labelled_dataset
from .tokenization import document_start_id, encode_texts


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
    for start in tqdm(range(0, len(rows), batch_size), desc=desc, disable=not show_progress):
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


# --- the evaluation run (scripts/evaluate.py) -----------------------------------------------------------------------

ACCEPTABILITY_PROMPT = "{text}\nQuestion: is the sentence above well-formed English? Answer:"
ACCEPTABILITY_VERBALISERS = (" no", " yes")  # label 0, label 1


@dataclass(frozen=True)
class ZeroShotTask:
    """A built-in zero/few-shot task over a self-labelled data set (`self_labelled.TASKS`).

    example: one row of the data set -> the scored example (a context and its candidate continuations).
    threshold_baseline: also report GPT-1's zero-shot heuristic for it (the mean log-probability of the text,
        thresholded on the validation split: `acceptability_by_threshold`).
    """

    example: Callable[[dict], MultipleChoiceExample]
    threshold_baseline: bool = False


BUILTIN_TASKS = {
    "continuation": ZeroShotTask(
        lambda row: MultipleChoiceExample(row["context"], [" " + c for c in row["choices"]], row["label"])
    ),
    "acceptability": ZeroShotTask(
        lambda row: MultipleChoiceExample(
            ACCEPTABILITY_PROMPT.format(text=row["text"]), list(ACCEPTABILITY_VERBALISERS), row["label"]
        ),
        threshold_baseline=True,
    ),
}
# The GPT-1 paper, section 5 (zero-shot behaviours): "For SST-2 (sentiment analysis), we append the token very to
# each example and restrict the language model's output distribution to only the words positive and negative".
SENTIMENT_TEMPLATE = "{text} very"
SENTIMENT_CHOICES = (" negative", " positive")  # label 0, label 1


@dataclass
class EvaluationArguments(DocumentArguments):
    model_name_or_path: str = field(metadata={"help": "A gpt_hf causal-LM folder (pretrained, fine-tuned, converted)."})
    perplexity_files: list[str] | None = field(
        default=None,
        metadata={"help": "Text files (globs) for perplexity; default: the built-in corpus's validation split."},
    )
    tasks: list[str] | None = field(
        default=None,
        metadata={
            "help": "Zero/few-shot tasks over the built-in self-labelled data: continuation, "
            "acceptability (default: both, unless --task_file is given)."
        },
    )
    num_fewshot: list[int] = field(
        default_factory=lambda: [0, 1, 4], metadata={"help": "Numbers of demonstrations k to evaluate."}
    )
    max_examples: int = field(default=300, metadata={"help": "Examples per task (from the test split)."})
    stride: int | None = field(
        default=None, metadata={"help": "Sliding-window stride for perplexity (default: the context length)."}
    )
    separator: str = field(default="\n\n", metadata={"help": "Text between demonstrations and the query."})
    seed: int = field(default=1234, metadata={"help": "Seed for drawing demonstrations (from the train split)."})
    batch_size: int = field(default=16, metadata={"help": "Rows per forward pass."})
    truncate_left: bool = field(
        default=True,
        metadata={"help": "Drop the oldest prompt tokens when a k-shot prompt exceeds the context (false: an error)."},
    )
    task_file: str | None = field(
        default=None,
        metadata={
            "help": "Your own labelled file (csv / json / jsonl / parquet) to evaluate zero/few-"
            "shot with --template and --choices; then the built-in tasks and perplexity "
            "run only if asked for (--tasks, --perplexity_files)."
        },
    )
    template: str | None = field(
        default=None,
        metadata={
            "help": "Prompt for each row of --task_file, with {column} placeholders, e.g. "
            "'Review: {text}\\nSentiment:'."
        },
    )
    choices: list[str] | None = field(
        default=None,
        metadata={
            "help": "Verbalisers, one per label in label order, e.g. ' negative' ' positive' "
            "(leading spaces matter to BPE)."
        },
    )
    label_column: str = field(
        default="label",
        metadata={"help": "Column of --task_file with the label: the index of the right choice, or the choice itself."},
    )
    fewshot_file: str | None = field(
        default=None,
        metadata={
            "help": "Labelled file (same columns) to draw k-shot demonstrations from; needed "
            "for --num_fewshot > 0 with --task_file."
        },
    )
    sentiment_heuristic: bool = field(
        default=False,
        metadata={
            "help": "The GPT-1 paper's zero-shot sentiment heuristic on --task_file: append "
            f"'{SENTIMENT_TEMPLATE[len('{text}') :]}' to the text and compare the "
            "likelihoods of ' negative' (label 0) and ' positive' (label 1); sets "
            "--template and --choices (--text_column names the text)."
        },
    )
    text_column: str = field(default="text", metadata={"help": "With --sentiment_heuristic: the text column."})
    trust_remote_code: bool = field(default=False, metadata={"help": "Load the model's own code from its folder."})
    output_file: str | None = field(default=None, metadata={"help": "Also write the results JSON here."})

    def __post_init__(self):
        super().__post_init__()
        if self.tasks is None:
            self.tasks = [] if self.task_file else list(BUILTIN_TASKS)
        if self.sentiment_heuristic:
            if self.template or self.choices:
                raise ArgumentError(
                    "--sentiment_heuristic sets --template and --choices itself; give one or the other."
                )
            self.template, self.choices = (
                SENTIMENT_TEMPLATE.replace("{text}", "{" + self.text_column + "}"),
                list(SENTIMENT_CHOICES),
            )
        if self.template is not None:  # typed on a command line: '\n' means a newline, as in lm-evaluation-harness
            self.template = read_escapes(self.template, "--template")
        if self.task_file is not None:
            if not self.template or not self.choices:
                raise ArgumentError("--task_file needs --template and --choices (or --sentiment_heuristic true).")
            if max(self.num_fewshot) > 0 and self.fewshot_file is None:
                raise ArgumentError(
                    f"--num_fewshot {max(self.num_fewshot)} with --task_file needs --fewshot_file (the "
                    "labelled rows to draw demonstrations from); or pass --num_fewshot 0."
                )
        elif self.template or self.choices or self.fewshot_file or self.sentiment_heuristic:
            raise ArgumentError(
                "--template / --choices / --fewshot_file / --sentiment_heuristic apply to --task_file; "
                "give the file to evaluate."
            )
        unknown = sorted(set(self.tasks) - set(BUILTIN_TASKS))
        if unknown:
            raise ArgumentError(f"Unknown evaluation task(s) {unknown}; choose from {sorted(BUILTIN_TASKS)}.")
        if any(k < 0 for k in self.num_fewshot):
            raise ArgumentError(f"--num_fewshot values must be >= 0, got {self.num_fewshot}.")
        check_at_least_one(self, "max_examples", "batch_size", "stride")
        if self.output_file is not None:
            check_writable_file(self.output_file, "--output_file")


def evaluate_folder(args: EvaluationArguments) -> dict:
    """Load the model folder (checked: complete files, tokenizer agreeing with the model), evaluate it, and write
    the results JSON to --output_file if given."""
    from transformers import AutoModelForCausalLM

    model, tokenizer = load_model_and_tokenizer(
        AutoModelForCausalLM, args.model_name_or_path, trust_remote_code=args.trust_remote_code
    )
    results = run_evaluation(model, tokenizer, args)
    if args.output_file:
        Path(args.output_file).write_text(json.dumps(results, indent=2))
    return results


def run_evaluation(model, tokenizer, args: EvaluationArguments) -> dict:
    results = {}
    if args.task_file:  # read and check the user's file before any scoring
        results.update(evaluate_task_file(model, tokenizer, args))
    if args.perplexity_files is not None:  # the user's files: every document
        corpus = load_text_dataset(files=args.perplexity_files, validation_fraction=None, **args.document_options)
        texts = list(corpus["train"]["text"])
    elif not args.task_file:  # the built-in corpus: its held-out documents
        texts = list(load_text_dataset(validation_fraction=0.05, seed=42)["validation"]["text"])
    if args.perplexity_files is not None or not args.task_file:
        results["perplexity"] = perplexity(model, tokenizer, texts, stride=args.stride, batch_size=args.batch_size)

    for task in args.tasks:
        zero_shot = BUILTIN_TASKS[task]
        data = self_labelled_dataset(task)
        test = data["test"].select(range(min(args.max_examples, len(data["test"]))))
        examples = [zero_shot.example(row) for row in test]
        pool = [zero_shot.example(row) for row in data["train"].select(range(min(2000, len(data["train"]))))]
        if zero_shot.threshold_baseline:
            calibration = data["validation"].select(range(min(args.max_examples, len(data["validation"]))))
            results[f"{task}/gpt1_threshold_zero_shot"] = acceptability_by_threshold(
                model,
                tokenizer,
                [(r["text"], r["label"]) for r in calibration],
                [(r["text"], r["label"]) for r in test],
                batch_size=args.batch_size,
            )
        for k in args.num_fewshot:
            results[f"{task}/{k}-shot"] = evaluate_multiple_choice(
                model,
                tokenizer,
                examples,
                pool,
                num_fewshot=k,
                seed=args.seed,
                separator=args.separator,
                batch_size=args.batch_size,
                truncate_left=args.truncate_left,
            )
    return results


def evaluate_task_file(model, tokenizer, args: EvaluationArguments) -> dict:
    """Zero/few-shot accuracy on the user's labelled file with the template and verbalisers, for every k."""
    files = {"test": args.task_file, **({"train": args.fewshot_file} if args.fewshot_file else {})}
    tables = load_table_files(files, first_flag="--task_file")
    examples = template_examples(tables["test"], args.template, args.choices, args.label_column, what=args.task_file)
    examples = examples[: args.max_examples]
    pool = (
        template_examples(tables["train"], args.template, args.choices, args.label_column, what=args.fewshot_file)
        if args.fewshot_file
        else []
    )
    name = Path(args.task_file).stem
    return {
        f"{name}/{k}-shot": evaluate_multiple_choice(
            model,
            tokenizer,
            examples,
            pool,
            num_fewshot=k,
            seed=args.seed,
            separator=args.separator,
            batch_size=args.batch_size,
            truncate_left=args.truncate_left,
        )
        for k in args.num_fewshot
    }
