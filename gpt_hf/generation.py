"""Text generation for scripts/generate.py: prompts from arguments, a file or standard input; a batch of prompts
left-padded; greedy, sampling, beam search; optional streaming of tokens as they are produced."""

import sys
from dataclasses import dataclass, field

import torch
from transformers import TextStreamer, set_seed


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
        default=False, metadata={"help": "Keep the last tokens of a prompt that leaves no room for max_new_tokens "
                                         "(default: refuse it with an error)."})
    trust_remote_code: bool = field(default=False, metadata={"help": "Load the model's own code from its folder."})

    def __post_init__(self):
        if self.max_new_tokens < 1:
            raise ValueError(f"--max_new_tokens must be >= 1, got {self.max_new_tokens}.")
        if self.stream and self.num_beams > 1:
            raise ValueError("--stream prints one sequence as it grows; it cannot be combined with --num_beams > 1.")


def read_prompts(args: GenerationArguments, stdin=None) -> list[str]:
    if args.prompts:
        return list(args.prompts)
    if args.prompt_file:
        with open(args.prompt_file, encoding="utf-8") as handle:
            prompts = [line.rstrip("\n") for line in handle if line.strip()]
    else:
        prompts = [line.rstrip("\n") for line in (stdin or sys.stdin) if line.strip()]
    if not prompts:
        raise ValueError("No prompt given: pass --prompts, --prompt_file, or lines on standard input.")
    return prompts


def generate_texts(model, tokenizer, prompts: list[str], args: GenerationArguments) -> list[str]:
    """Continuations (prompt included) for every prompt; prompts are left-padded into one batch."""
    context = model.config.n_positions
    budget = context - args.max_new_tokens
    if budget < 1:
        raise ValueError(f"--max_new_tokens {args.max_new_tokens} leaves no room for a prompt in a context of {context}.")
    tokenizer.padding_side = "left"  # generation appends on the right: pad on the left
    encoded = tokenizer(prompts, add_special_tokens=False)["input_ids"]
    for prompt, ids in zip(prompts, encoded):
        if len(ids) > budget and not args.truncate_prompt:
            raise ValueError(
                f"Prompt {prompt[:40]!r}... is {len(ids)} tokens; with max_new_tokens={args.max_new_tokens} it must "
                f"be at most {budget} (context {context}). Shorten it or pass --truncate_prompt."
            )
    batch = tokenizer.pad({"input_ids": [ids[-budget:] for ids in encoded]}, return_tensors="pt")
    batch = {k: v.to(model.device) for k, v in batch.items()}
    set_seed(args.seed)
    streamer = None
    if args.stream:
        if len(prompts) != 1:
            raise ValueError("--stream shows one sequence as it is produced; give a single prompt.")
        streamer = TextStreamer(tokenizer, skip_special_tokens=True)  # prints to stdout as tokens arrive
    options = dict(max_new_tokens=args.max_new_tokens, do_sample=args.do_sample, num_beams=args.num_beams,
                   repetition_penalty=args.repetition_penalty, pad_token_id=tokenizer.pad_token_id)
    if args.do_sample:
        options.update(temperature=args.temperature, top_k=args.top_k, top_p=args.top_p)
    model.eval()
    with torch.no_grad():
        output = model.generate(**batch, streamer=streamer, **options)
    return tokenizer.batch_decode(output, skip_special_tokens=True)
