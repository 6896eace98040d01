"""Speed of gpt_hf vs transformers' GPT-2 (eager, sdpa) and GPT-1 on one config, in one run; prints ratios.
With --suite tokenizer: tokenizer training through scripts/train_tokenizer.py vs the raw `tokenizers` pipeline on a
>= 50 MB offline corpus, and task-transform encoding through datasets.map vs raw encode_batch.

Reference run (CPU, the issue's config 6 x 384 x 6, ctx 256, vocab 8192, batch 8):
    python scripts/benchmark.py --rounds 5
GPU (adds model FLOPs utilisation), e.g. the gpt1 preset:
    python scripts/benchmark.py --device cuda --n_layer 12 --n_embd 768 --n_head 12 --n_positions 512 \
        --vocab_size 40478 --batch_size 32 --workloads train-bf16 --models gpt_hf-post-sdpa
Tokenizers:
    python scripts/benchmark.py --suite tokenizer --corpus_mb 50 --rounds 3
Pretraining (Trainer overhead vs a bare PyTorch loop, data preparation MB/s):
    python scripts/benchmark.py --suite pretrain --corpus_mb 50 --rounds 3
Scaling of the pretraining data path with the corpus (docs/scaling.md), map-style vs streaming vs a token store:
    python scripts/benchmark.py --suite scaling --sizes_mb 20 200 1000 --workers 1 2 --resume_mb 200
"""

import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from gpt_hf.cli import entry_points

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))  # the measurements: repo tooling, not
# part of the installed package
from measure import (  # noqa: E402
    MODELS,
    WORKLOADS,
    BenchConfig,
    format_table,
    format_tokenizer_table,
    run_benchmark,
    run_data_preparation,
    run_tokenizer_benchmark,
    run_trainer_overhead,
)
from scaling import format_scaling_table, run_scaling  # noqa: E402

from gpt_hf.errors import ArgumentError

SUITES = ("model", "tokenizer", "pretrain", "scaling")


@dataclass
class BenchmarkArguments:
    models: list[str] = field(
        default_factory=lambda: ["gpt_hf-pre-sdpa", "gpt_hf-pre-eager", "gpt2-eager", "gpt2-sdpa", "openai-gpt"],
        metadata={"help": f"Models to compare, from {sorted(MODELS)}."},
    )
    workloads: list[str] = field(
        default_factory=lambda: list(WORKLOADS), metadata={"help": f"Workloads, from {WORKLOADS}."}
    )
    rounds: int = field(default=3, metadata={"help": "Interleaved rounds; medians are reported."})
    suite: str = field(
        default="model",
        metadata={
            "help": "'model' (training / generation), 'tokenizer', "
            "'pretrain' (Trainer overhead, data preparation) or "
            "'scaling' (data path vs corpus size)."
        },
    )
    tokenizer_flavour: str = field(default="bytelevel", metadata={"help": "Tokenizer suite: flavour to train."})
    tokenizer_vocab_size: int = field(default=32000, metadata={"help": "Tokenizer suite: vocabulary size."})
    corpus_mb: float = field(default=50.0, metadata={"help": "Tokenizer suite: corpus size in MB."})
    sizes_mb: list[float] = field(
        default_factory=lambda: [20.0, 200.0, 1000.0], metadata={"help": "Scaling suite: corpus sizes in MB."}
    )
    workers: list[int] = field(
        default_factory=lambda: [1, 2],
        metadata={
            "help": "Scaling suite: --preprocessing_num_workers (map-style) / --dataloader_num_workers (streaming)."
        },
    )
    paths: list[str] = field(
        default_factory=lambda: ["map-style", "streaming", "store"],
        metadata={
            "help": "Scaling suite: data paths to measure (map-style, streaming, store: a prepared token store)."
        },
    )
    resume_mb: float | None = field(
        default=None,
        metadata={"help": "Scaling suite: also time resuming at 10 / 50 / 90 % of an epoch of the store of this size."},
    )
    workdir: str | None = field(
        default=None,
        metadata={
            "help": "Scaling suite: folder for the corpora and caches "
            "(default: a temporary folder; needs ~4x the "
            "largest size free)."
        },
    )

    def __post_init__(self):
        if self.rounds < 1:
            raise ArgumentError(f"--rounds must be >= 1, got {self.rounds}.")
        if self.suite not in SUITES:
            raise ArgumentError(f"--suite must be one of {SUITES}, got {self.suite!r}.")
        if min(self.workers) < 1 or min(self.sizes_mb) <= 0:
            raise ArgumentError(f"--workers must be >= 1 and --sizes_mb > 0, got {self.workers} and {self.sizes_mb}.")


def run(args: BenchmarkArguments, cfg: BenchConfig) -> None:
    if args.suite == "tokenizer":
        with tempfile.TemporaryDirectory() as workdir:
            rows = run_tokenizer_benchmark(
                args.tokenizer_flavour, args.tokenizer_vocab_size, args.corpus_mb, args.rounds, workdir
            )
        print(format_tokenizer_table(rows))
        return
    if args.suite == "pretrain":
        print("| workload | Trainer tokens/s | bare loop tokens/s | Trainer / bare |\n|---|---|---|---|")
        for row in run_trainer_overhead(cfg, args.rounds):
            print(
                f"| {row['workload']} | {row['trainer_tokens_per_s']:.0f} | {row['bare_tokens_per_s']:.0f} | "
                f"{row['ratio']:.2f}x |"
            )
        with tempfile.TemporaryDirectory() as workdir:
            prep = run_data_preparation(args.corpus_mb, workdir)
        print(
            f"\nData preparation of {prep['corpus_mb']:.0f} MB (load + tokenise + pack, num_proc=2): "
            f"{prep['ours_mb_s']:.1f} MB/s; raw encode_batch: {prep['encode_batch_mb_s']:.1f} MB/s"
        )
        return
    if args.suite == "scaling":
        with tempfile.TemporaryDirectory(dir=args.workdir) as workdir:
            print(
                format_scaling_table(
                    run_scaling(args.sizes_mb, args.workers, Path(workdir), args.paths, args.resume_mb)
                )
            )
        return
    rows = run_benchmark(cfg, args.models, args.workloads, args.rounds)
    print(format_table(rows))


parse, main = entry_points((BenchmarkArguments, BenchConfig), run)

if __name__ == "__main__":
    sys.exit(main())
