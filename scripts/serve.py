"""Serve a gpt_hf model folder with transformers' own OpenAI-compatible server (`transformers serve`):
/v1/completions, /v1/chat/completions (when the tokenizer has a chat template: gpt_hf.data.tokenizer.with_chat_template)
and /v1/responses, with continuous batching if asked.

`transformers serve` finds a model's class as an attribute of the `transformers` module, which a custom model is not;
this launcher registers gpt_hf's classes there and starts transformers' server unchanged.

Examples:
    python scripts/serve.py --model_dir outputs/tiny-pretrained --port 8000
    curl http://127.0.0.1:8000/v1/completions -H 'Content-Type: application/json' \\
        -d '{"model": "outputs/tiny-pretrained", "prompt": "The", "max_tokens": 20}'
"""

import sys
from dataclasses import dataclass, field
from importlib.metadata import entry_points

from gpt_hf.cli import entry_points as script_entry_points
from gpt_hf.interop.integrations import register_with_transformers_module
from gpt_hf.interop.loading import check_model_folder


@dataclass
class ServeArguments:
    model_dir: str = field(metadata={"help": "The gpt_hf model folder to serve (loaded when first requested)."})
    host: str = field(default="127.0.0.1", metadata={"help": "Interface to listen on."})
    port: int = field(default=8000, metadata={"help": "Port to listen on."})
    continuous_batching: bool = field(default=False, metadata={"help": "Batch concurrent requests (paged attention)."})
    serve_arguments: list[str] = field(
        default_factory=list,
        metadata={
            "help": "Further `transformers serve` flags, as one string each, e.g. --serve_arguments=--log-level=info."
        },
    )

    def __post_init__(self):
        check_model_folder(self.model_dir)


def run(args: ServeArguments) -> int:
    register_with_transformers_module()
    [command] = entry_points(group="console_scripts", name="transformers")  # transformers' own CLI
    sys.argv = [
        "transformers",
        "serve",
        args.model_dir,
        "--host",
        args.host,
        "--port",
        str(args.port),
        *(["--continuous-batching"] if args.continuous_batching else []),
        *args.serve_arguments,
    ]
    return command.load()() or 0


parse, main = script_entry_points((ServeArguments,), run)
# At import too, not only in run(): from transformers 5.25 the server loads the model in a process it spawns, which
# imports this file again (as `__mp_main__`) but never calls main(); the classes must resolve there as well.
register_with_transformers_module()

if __name__ == "__main__":
    sys.exit(main())
