"""The evaluation run behind scripts/evaluate.py: perplexity on held-out text, the built-in zero/few-shot evaluations
(`ZERO_SHOT_EVALUATIONS`, over self-labelled data sets) and a user's labelled file scored through a template and
verbalisers, all by log-likelihood (`scoring`)."""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..data.documents import load_table_files, load_text_dataset
from ..data.units import DocumentArguments, read_escapes
from ..errors import ArgumentError, check_at_least_one
from ..interop.loading import load_model_and_tokenizer
from ..output.paths import check_writable_file
from ..tasks.self_labelled import self_labelled_dataset
from .scoring import (
    MultipleChoiceExample,
    acceptability_by_threshold,
    evaluate_multiple_choice,
    perplexity,
    template_examples,
)

ACCEPTABILITY_PROMPT = "{text}\nQuestion: is the sentence above well-formed English? Answer:"
ACCEPTABILITY_VERBALISERS = (" no", " yes")  # label 0, label 1


@dataclass(frozen=True)
class ZeroShotEvaluation:
    """A built-in zero/few-shot task over a self-labelled data set (`tasks.self_labelled.BUILDERS`).

    example: one row of the data set -> the scored example (a context and its candidate continuations).
    threshold_baseline: also report GPT-1's zero-shot heuristic for it (the mean log-probability of the text,
        thresholded on the validation split: `acceptability_by_threshold`).
    """

    example: Callable[[dict], MultipleChoiceExample]
    threshold_baseline: bool = False


ZERO_SHOT_EVALUATIONS = {
    "continuation": ZeroShotEvaluation(
        lambda row: MultipleChoiceExample(row["context"], [" " + c for c in row["choices"]], row["label"])
    ),
    "acceptability": ZeroShotEvaluation(
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
            self.tasks = [] if self.task_file else list(ZERO_SHOT_EVALUATIONS)
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
        unknown = sorted(set(self.tasks) - set(ZERO_SHOT_EVALUATIONS))
        if unknown:
            raise ArgumentError(f"Unknown evaluation task(s) {unknown}; choose from {sorted(ZERO_SHOT_EVALUATIONS)}.")
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
        zero_shot = ZERO_SHOT_EVALUATIONS[task]
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
