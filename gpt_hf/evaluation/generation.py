"""Text generation for scripts/generate.py: prompts from arguments, a file or standard input; a batch of prompts
left-padded; greedy, sampling, beam search; optional streaming of tokens as they are produced."""

import sys
from dataclasses import dataclass, field
from pathlib import Path

import torch
from transformers import TextStreamer, set_seed

from ..data.tokenizer import document_start_id
from ..errors import ArgumentError, check_at_least_one


@dataclass
class GenerationArguments:
    model_name_or_path: str = field(metadata={"help": "A gpt_hf causal-LM folder (ours, or converted)."})
    prompts: list[str] | None = field(default=None, metadata={"help": "Prompt(s); default: --prompt_file or stdin."})
    prompt_file: str | None = field(default=None, metadata={"help": "A file with one prompt per line."})
    max_new_tokens: int = field(default=50, metadata={"help": "Tokens to generate per prompt."})
    do_sample: bool = field(default=False, metadata={"help": "Sample instead of greedy / beam search."})
    temperature: float = field(default=1.0, metadata={"help": "Sampling temperature."})
    top_k: int = field(default=50, metadata={"help": "Sample among the k most likely tokens (0: all)."})
    top_p: float = field(default=1.0, metadata={"help": "Nucleus sampling probability mass."})
    num_beams: int = field(default=1, metadata={"help": "Beam search width (1: no beam search)."})
    repetition_penalty: float = field(default=1.0, metadata={"help": "> 1 discourages repeats."})
    seed: int = field(default=42, metadata={"help": "Random seed (sampling)."})
    stream: bool = field(default=False, metadata={"help": "Print tokens as they are produced (one prompt)."})
    truncate_prompt: bool = field(
        default=False,
        metadata={
            "help": "Keep the last tokens of a prompt that leaves no room for max_new_tokens "
            "(default: refuse it with an error)."
        },
    )
    trust_remote_code: bool = field(default=False, metadata={"help": "Load the model's own code from its folder."})
    compile: bool = field(
        default=False,
        metadata={
            "help": "Decode with a static KV cache and a torch.compile'd step (pays off over "
            "many tokens; the first call compiles)."
        },
    )
    compile_backend: str = field(default="inductor", metadata={"help": "torch.compile backend for --compile."})

    def __post_init__(self):
        if self.compile and self.num_beams > 1:
            raise ArgumentError("--compile decodes with a static cache of one sequence per prompt; use --num_beams 1.")
        check_at_least_one(self, "max_new_tokens", "num_beams")
        if self.temperature <= 0:
            raise ArgumentError(f"--temperature must be > 0, got {self.temperature}; use --do_sample false for greedy.")
        if self.top_k < 0:
            raise ArgumentError(f"--top_k must be >= 0 (0: no top-k filter), got {self.top_k}.")
        if not 0 < self.top_p <= 1:
            raise ArgumentError(f"--top_p must be in (0, 1], got {self.top_p}.")
        if self.repetition_penalty <= 0:
            raise ArgumentError(f"--repetition_penalty must be > 0 (1: none), got {self.repetition_penalty}.")
        if self.prompt_file is not None and not Path(self.prompt_file).is_file():
            raise ArgumentError(f"--prompt_file {self.prompt_file} does not exist.")
        if self.stream and self.num_beams > 1:
            raise ArgumentError("--stream prints one sequence as it grows; it cannot be combined with --num_beams > 1.")


def read_prompts(args: GenerationArguments, stdin=None) -> list[str]:
    """The prompts: --prompts as given (an empty prompt generates from BOS), else the lines of --prompt_file or
    standard input (blank lines skipped)."""
    if args.prompts is not None and len(args.prompts):
        return list(args.prompts)
    if args.prompt_file:
        try:
            with open(args.prompt_file, encoding="utf-8-sig") as handle:
                prompts = [line.rstrip("\n") for line in handle if line.strip()]
        except UnicodeDecodeError as err:
            raise ArgumentError(f"--prompt_file {args.prompt_file} is not UTF-8 text ({err.reason}).") from None
    else:
        prompts = [line.rstrip("\n") for line in (stdin or sys.stdin) if line.strip()]
    if not prompts:
        raise ArgumentError(
            "No prompt given: pass --prompts, --prompt_file, or lines on standard input "
            "(--prompts '' generates from the beginning-of-text token)."
        )
    return prompts


def generate_texts(model, tokenizer, prompts: list[str], args: GenerationArguments) -> list[str]:
    """Continuations (prompt included) for every prompt; prompts are left-padded into one batch."""
    context = model.config.n_positions
    budget = context - args.max_new_tokens
    if budget < 1:
        raise ArgumentError(
            f"--max_new_tokens {args.max_new_tokens} leaves no room for a prompt in a context of {context}."
        )
    tokenizer.padding_side = "left"  # generation appends on the right: pad on the left
    encoded = tokenizer(prompts, add_special_tokens=False)["input_ids"]
    if any(not ids for ids in encoded):  # an empty prompt: start from BOS, as a document does in pretraining
        start = document_start_id(tokenizer)
        encoded = [ids or [start] for ids in encoded]
    for prompt, ids in zip(prompts, encoded):
        if len(ids) > budget and not args.truncate_prompt:
            raise ArgumentError(
                f"Prompt {prompt[:40]!r}... is {len(ids)} tokens; with max_new_tokens={args.max_new_tokens} it must "
                f"be at most {budget} (context {context}). Shorten it or pass --truncate_prompt."
            )
    batch = tokenizer.pad({"input_ids": [ids[-budget:] for ids in encoded]}, return_tensors="pt")
    batch = {k: v.to(model.device) for k, v in batch.items()}
    set_seed(args.seed)
    streamer = None
    if args.stream:
        if len(prompts) != 1:
            raise ArgumentError("--stream shows one sequence as it is produced; give a single prompt.")
        streamer = TextStreamer(tokenizer, skip_special_tokens=True)  # prints to stdout as tokens arrive
    options = dict(
        max_new_tokens=args.max_new_tokens,
        do_sample=args.do_sample,
        num_beams=args.num_beams,
        repetition_penalty=args.repetition_penalty,
        pad_token_id=tokenizer.pad_token_id,
    )
    if args.do_sample:
        options.update(temperature=args.temperature, top_k=args.top_k, top_p=args.top_p)
    if args.compile:
        options.update(cache_implementation="static", compile_config=compiled_decoding(model, args.compile_backend))
    model.eval()
    with torch.no_grad():
        output = model.generate(**batch, streamer=streamer, **options)
    return tokenizer.batch_decode(output, skip_special_tokens=True)


def compiled_decoding(model, backend: str = "inductor"):
    """transformers' automatic compilation of the decoding step (static cache, one graph), also on CPU, where
    transformers would not turn it on by itself. "reduce-overhead" (CUDA graphs) on GPUs; plain on CPU."""
    from transformers import CompileConfig

    config = CompileConfig(
        fullgraph=True,
        dynamic=False,
        backend=backend,
        mode="reduce-overhead" if model.device.type == "cuda" else "default",
    )
    config._compile_all_devices = True  # read by GenerationMixin._valid_auto_compile_criteria
    return config


def generate_from_folder(args: GenerationArguments, stdin=None) -> list[str]:
    """Read the prompts, load the model folder (checked against its tokenizer) and generate."""
    from transformers import AutoModelForCausalLM

    from ..interop.loading import load_model_and_tokenizer

    prompts = read_prompts(args, stdin)
    model, tokenizer = load_model_and_tokenizer(
        AutoModelForCausalLM, args.model_name_or_path, trust_remote_code=args.trust_remote_code
    )
    return generate_texts(model, tokenizer, prompts, args)
