"""Developer tooling, not part of the installed package: the measurements behind `scripts/benchmark.py`.

Side-by-side speed of gpt_hf against transformers' own GPT-1 (`openai-gpt`) and GPT-2 on one config.

Each (model, workload) is measured in a fresh worker process, so peak memory is that workload's alone, and the
rounds are interleaved (A B C, A B C, ...) so that drift in a shared machine's speed hits every model alike;
ratios are taken round by round and their median reported.
"""

import json
import logging
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass

import torch

from gpt_hf.runs.arguments import cpu_has_bf16_instructions

logger = logging.getLogger(__name__)

# name -> (library, layout or None, attention implementation)
MODELS = {
    "gpt_hf-pre-sdpa": ("gpt_hf", "pre", "sdpa"),
    "gpt_hf-pre-eager": ("gpt_hf", "pre", "eager"),
    "gpt_hf-post-sdpa": ("gpt_hf", "post", "sdpa"),
    "gpt2-eager": ("gpt2", None, "eager"),
    "gpt2-sdpa": ("gpt2", None, "sdpa"),
    "openai-gpt": ("openai-gpt", None, "eager"),
}
WORKLOADS = ("train-fp32", "train-bf16", "generate", "train-fp32-plain-loss")  # the last: gpt_hf without the
# fused LM-head loss (its logits materialised, as transformers' models do), to measure what the fusion buys
# Peak dense bf16 tensor throughput, for model FLOPs utilisation on GPUs (override with --peak_tflops).
PEAK_BF16_TFLOPS = {"H100": 989.0, "H200": 989.0, "A100": 312.0}


@dataclass
class BenchConfig:
    n_layer: int = 6
    n_embd: int = 384
    n_head: int = 6
    n_positions: int = 256
    vocab_size: int = 8192
    batch_size: int = 8
    train_steps: int = 5
    new_tokens: int = 128
    prompt_tokens: int = 16
    generate_batch_size: int = 1  # prompts decoded together in the generate workload
    device: str = "cpu"
    compile: bool = False


def build_model(name: str, cfg: BenchConfig):
    """The named model, randomly initialised on `cfg`'s sizes (dropout 0.1 everywhere, as in both papers)."""
    library, layout, attn = MODELS[name]
    sizes = dict(
        n_layer=cfg.n_layer,
        n_embd=cfg.n_embd,
        n_head=cfg.n_head,
        n_positions=cfg.n_positions,
        vocab_size=cfg.vocab_size,
    )
    if library == "gpt_hf":
        from gpt_hf.model.configuration_gpt_hf import GPTHFConfig
        from gpt_hf.model.modeling_gpt_hf import GPTHFForCausalLM

        return GPTHFForCausalLM._from_config(GPTHFConfig(**sizes, norm_position=layout), attn_implementation=attn)
    if library == "gpt2":
        from transformers import GPT2Config, GPT2LMHeadModel

        config = GPT2Config(**sizes, bos_token_id=0, eos_token_id=0)
        return GPT2LMHeadModel._from_config(config, attn_implementation=attn)
    from transformers import OpenAIGPTConfig, OpenAIGPTLMHeadModel

    return OpenAIGPTLMHeadModel(OpenAIGPTConfig(**sizes))


def _sync(device):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def measure(name: str, workload: str, cfg: BenchConfig) -> dict:
    """Run one workload on one model in this process; returns tokens/s and peak memory (MiB)."""
    torch.manual_seed(0)
    model = build_model(name, cfg).to(cfg.device)
    compiled_generate = cfg.compile and workload == "generate"
    if cfg.compile and not compiled_generate:
        model.forward = torch.compile(model.forward)
    generator = torch.Generator().manual_seed(0)
    batch = torch.randint(0, cfg.vocab_size, (cfg.batch_size, cfg.n_positions), generator=generator).to(cfg.device)
    if cfg.device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    rss_before = _current_rss_mib()

    if workload.startswith("train"):
        model.train()
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
        use_bf16 = workload == "train-bf16"
        # gpt_hf's Trainer computes the training loss without the (B, T, V) logits (the fused LM-head loss)
        fused = {"skip_logits": True} if name.startswith("gpt_hf") and workload != "train-fp32-plain-loss" else {}

        def step():
            with torch.autocast(device_type=cfg.device.split(":")[0], dtype=torch.bfloat16, enabled=use_bf16):
                loss = model(batch, labels=batch, **fused).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)

        step()  # warm-up: allocator, autocast caches, compilation
        _sync(cfg.device)
        times = []
        for _ in range(cfg.train_steps):
            start = time.perf_counter()
            step()
            _sync(cfg.device)
            times.append(time.perf_counter() - start)
        seconds = statistics.median(times)
        tokens = batch.numel()
    else:
        model.eval()
        prompt = batch[: cfg.generate_batch_size, : cfg.prompt_tokens]
        kwargs = dict(
            max_new_tokens=cfg.new_tokens,
            min_new_tokens=cfg.new_tokens,
            do_sample=False,
            pad_token_id=0,
            attention_mask=torch.ones_like(prompt),
        )
        if compiled_generate:  # transformers' own compiled decoding: static cache + one compiled step
            from gpt_hf.evaluation.generation import compiled_decoding

            kwargs.update(cache_implementation="static", compile_config=compiled_decoding(model))
        with torch.no_grad():
            # warm-up; a compiled step is compiled for the static cache's length, so warm up at the full length
            model.generate(
                prompt, **(kwargs if compiled_generate else {**kwargs, "max_new_tokens": 8, "min_new_tokens": 8})
            )
            _sync(cfg.device)
            start = time.perf_counter()
            model.generate(prompt, **kwargs)
            _sync(cfg.device)
            seconds = time.perf_counter() - start
        tokens = cfg.new_tokens * prompt.shape[0]

    if cfg.device.startswith("cuda"):
        peak = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - rss_before
    result = {"model": name, "workload": workload, "tokens_per_s": tokens / seconds, "peak_mib": peak}
    if workload.startswith("train") and cfg.device.startswith("cuda"):
        result["mfu"] = model_flops_utilisation(model, cfg, tokens / seconds)
    return result


def _current_rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def model_flops_utilisation(model, cfg: BenchConfig, tokens_per_s: float, peak_tflops: float | None = None):
    """6·N FLOPs per token for the weights plus the attention term 12·L·T·C (PaLM appendix B convention)."""
    params = sum(p.numel() for p in model.parameters())
    flops_per_token = 6 * params + 12 * cfg.n_layer * cfg.n_positions * cfg.n_embd
    if peak_tflops is None:
        device_name = torch.cuda.get_device_name()
        peak_tflops = next((v for k, v in PEAK_BF16_TFLOPS.items() if k in device_name), None)
    return None if peak_tflops is None else flops_per_token * tokens_per_s / (peak_tflops * 1e12)


def run_worker(name: str, workload: str, cfg: BenchConfig) -> dict:
    """Measure in a fresh interpreter so memory peaks and allocator state do not leak between models."""
    return _worker_result([name, workload, json.dumps(cfg.__dict__)])


def _worker_result(arguments: list[str]) -> dict:
    """Run `python benchmarks/measure.py ARGUMENTS` and read the JSON line it prints last."""
    done = subprocess.run([sys.executable, __file__, *arguments], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"Benchmark worker {arguments[:-1]} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_benchmark(cfg: BenchConfig, models: list[str], workloads: list[str], rounds: int) -> list[dict]:
    """Interleaved rounds over models for each workload; returns one summary row per (workload, model)."""
    unknown = sorted(set(models) - set(MODELS)) + sorted(set(workloads) - set(WORKLOADS))
    if unknown:
        raise ValueError(f"Unknown models/workloads {unknown}; models: {sorted(MODELS)}, workloads: {WORKLOADS}.")
    if cfg.compile and "generate" in workloads and "openai-gpt" in models:
        raise ValueError(
            "openai-gpt has no KV cache, so no compiled decoding: leave it out of --models with --compile "
            "true and --workloads generate."
        )
    if cfg.device == "cpu" and "train-bf16" in workloads and not cpu_has_bf16_instructions():
        logger.warning(
            "Skipping train-bf16: this CPU (%s) has no bf16 instructions, so bf16 there is emulated and "
            "no one would train that way.",
            torch.backends.cpu.get_cpu_capability(),
        )
        workloads = [w for w in workloads if w != "train-bf16"]
    rows = []
    for workload in workloads:
        per_round = []
        for index in range(rounds):
            results = {}
            for name in models:
                results[name] = run_worker(name, workload, cfg)
                logger.info(
                    "round %d %-18s %-10s %10.1f tok/s", index + 1, name, workload, results[name]["tokens_per_s"]
                )
            per_round.append(results)
        for name in models:
            speeds = [r[name]["tokens_per_s"] for r in per_round]
            row = {
                "workload": workload,
                "model": name,
                "tokens_per_s": statistics.median(speeds),
                "peak_mib": statistics.median(r[name]["peak_mib"] for r in per_round),
            }
            for reference in ("gpt2-eager", "gpt2-sdpa", "openai-gpt"):
                if reference in models:
                    row[f"vs {reference}"] = statistics.median(
                        r[name]["tokens_per_s"] / r[reference]["tokens_per_s"] for r in per_round
                    )
            if "mfu" in per_round[0][name]:
                row["mfu"] = statistics.median(r[name]["mfu"] or 0.0 for r in per_round)
            rows.append(row)
    return rows


def format_table(rows: list[dict]) -> str:
    """A Markdown table: tokens/s, peak memory, and the per-round median speed ratio against each reference."""
    ratio_columns = [c for c in ("vs gpt2-eager", "vs gpt2-sdpa", "vs openai-gpt") if any(c in r for r in rows)]
    extra = ["mfu"] if any("mfu" in r for r in rows) else []
    header = ["workload", "model", "tokens/s", "peak MiB", *ratio_columns, *extra]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [row["workload"], row["model"], f"{row['tokens_per_s']:.0f}", f"{row['peak_mib']:.0f}"]
        cells += [f"{row[c]:.2f}x" if c in row else "" for c in ratio_columns]
        cells += [f"{row['mfu']:.1%}" for _ in extra if "mfu" in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# --- tokenizer suite ----------------------------------------------------------------------------------------------

_DIRECT_TRAINING = """
import sys
from gpt_hf.data.tokenizer import build_pipeline, build_trainer
tokenizer = build_pipeline(sys.argv[1])
tokenizer.train(sys.argv[4:], build_trainer(sys.argv[1], int(sys.argv[2]), 2, show_progress=False))
tokenizer.save(sys.argv[3] + "/tokenizer.json")
"""


def build_text_corpus(folder, megabytes: float) -> list[str]:
    """An offline corpus of >= `megabytes` MB: the Python files of the standard library and installed packages
    (docstrings, comments and code), concatenated into 8 MB files in `folder`. Deterministic for one environment."""
    import sysconfig
    from pathlib import Path

    roots = [Path(sysconfig.get_paths()["stdlib"]), Path(sysconfig.get_paths()["purelib"])]
    sources = sorted(p for root in roots for p in root.rglob("*.py") if p.is_file())
    folder, files, written, part = Path(folder), [], 0, None
    for source in sources:
        if written >= megabytes * 1e6:
            break
        if part is None or part.tell() > 8e6:
            if part:
                part.close()
            files.append(str(folder / f"corpus-{len(files):03d}.txt"))
            part = open(files[-1], "w", encoding="utf-8")
        text = source.read_bytes().decode("utf-8", errors="ignore")
        part.write(text + "\n")
        written += len(text.encode("utf-8")) + 1
    if part:
        part.close()
    if written < megabytes * 1e6:
        raise ValueError(f"Only {written / 1e6:.1f} MB of Python files found; ask for fewer --corpus_mb.")
    return files


def run_tokenizer_benchmark(flavour: str, vocab_size: int, megabytes: float, rounds: int, workdir) -> list[dict]:
    """Whole-process time of scripts/train_tokenizer.py vs the same pipeline trained directly with `tokenizers`,
    then task-transform encoding through `datasets.map` vs raw `encode_batch`."""
    from pathlib import Path

    from transformers import PreTrainedTokenizerFast

    from gpt_hf.tasks.transforms import TaskTransform

    workdir = Path(workdir)
    files = build_text_corpus(workdir, megabytes)
    corpus_mb = sum(Path(f).stat().st_size for f in files) / 1e6
    script = Path(__file__).resolve().parents[1] / "scripts" / "train_tokenizer.py"
    ratios, ours_s, direct_s = [], [], []
    for index in range(rounds):
        out_ours, out_direct = workdir / f"ours-{index}", workdir / f"direct-{index}"
        out_direct.mkdir()
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", _DIRECT_TRAINING, flavour, str(vocab_size), str(out_direct), *files],
            check=True,
            capture_output=True,
        )
        direct_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                str(script),
                "--files",
                *files,
                "--flavour",
                flavour,
                "--vocab_size",
                str(vocab_size),
                "--output_dir",
                str(out_ours),
            ],
            check=True,
            capture_output=True,
        )
        ours_s.append(time.perf_counter() - start)
        ratios.append(ours_s[-1] / direct_s[-1])
        logger.info("round %d: script %.2fs, direct %.2fs", index + 1, ours_s[-1], direct_s[-1])
    rows = [
        {
            "workload": f"train {flavour} tokenizer ({corpus_mb:.0f} MB)",
            "ours_mb_s": corpus_mb / statistics.median(ours_s),
            "reference_mb_s": corpus_mb / statistics.median(direct_s),
            "time_ratio": statistics.median(ratios),
        }
    ]

    import datasets

    datasets.disable_progress_bars()
    tokenizer = PreTrainedTokenizerFast.from_pretrained(str(workdir / "ours-0"))
    lines = [line for line in open(files[0], encoding="utf-8").read().splitlines() if line.strip()][:200_000]
    megabytes_encoded = sum(len(line.encode("utf-8")) for line in lines) / 1e6
    transform = TaskTransform(tokenizer, max_length=1_000_000)
    dataset = datasets.Dataset.from_dict({"text": lines})
    raw_s, map_s = [], []
    for _ in range(rounds):
        start = time.perf_counter()
        tokenizer.backend_tokenizer.encode_batch(lines, add_special_tokens=False)
        raw_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        dataset.map(
            lambda batch: transform.classification(batch["text"]),
            batched=True,
            keep_in_memory=True,
            remove_columns=["text"],
        )
        map_s.append(time.perf_counter() - start)
    rows.append(
        {
            "workload": f"task transform via datasets.map ({megabytes_encoded:.0f} MB)",
            "ours_mb_s": megabytes_encoded / statistics.median(map_s),
            "reference_mb_s": megabytes_encoded / statistics.median(raw_s),
            "time_ratio": statistics.median(m / r for m, r in zip(map_s, raw_s)),
        }
    )
    return rows


def format_tokenizer_table(rows: list[dict]) -> str:
    lines = ["| workload | ours MB/s | reference MB/s | time ours / reference |", "|---|---|---|---|"]
    lines += [
        f"| {r['workload']} | {r['ours_mb_s']:.1f} | {r['reference_mb_s']:.1f} | {r['time_ratio']:.2f} |" for r in rows
    ]
    return "\n".join(lines)


# --- pretraining suite: Trainer overhead and data preparation ------------------------------------------------------


def measure_training_loop(loop: str, precision: str, cfg: BenchConfig, steps: int = 8, skip: int = 2) -> dict:
    """Steady-state tokens/s of `steps` optimizer steps on random blocks: through GPTTrainer, or a bare loop with
    the same model, batches, AdamW, cosine schedule and gradient clipping. The first `skip` steps are not timed."""
    import datasets
    from transformers import TrainerCallback, get_cosine_schedule_with_warmup

    from gpt_hf.runs.pretrain_arguments import PretrainTrainingArguments
    from gpt_hf.runs.trainer import GPTTrainer

    torch.manual_seed(0)
    model = build_model("gpt_hf-pre-eager", cfg)
    generator = torch.Generator().manual_seed(0)
    blocks = torch.randint(0, cfg.vocab_size, (steps * cfg.batch_size, cfg.n_positions), generator=generator)
    bf16 = precision == "bf16"
    marks = []

    if loop == "trainer":

        class StepClock(TrainerCallback):
            def on_step_end(self, args, state, control, **kwargs):
                marks.append(time.perf_counter())

        import tempfile

        with tempfile.TemporaryDirectory() as output_dir:
            args = PretrainTrainingArguments(
                output_dir=output_dir,
                max_steps=steps,
                per_device_train_batch_size=cfg.batch_size,
                use_cpu=True,
                bf16=bf16,
                report_to="none",
                save_strategy="no",
                logging_steps=1000,
                disable_tqdm=True,
                warmup_steps=0.1,
                dataloader_drop_last=True,
            )
            dataset = datasets.Dataset.from_dict({"input_ids": blocks.tolist()})
            from gpt_hf.data.packing import collate_blocks

            trainer = GPTTrainer(
                model=model, args=args, train_dataset=dataset, data_collator=collate_blocks, callbacks=[StepClock()]
            )
            trainer.train()
    else:
        optimizer = torch.optim.AdamW(model.parameters(), lr=2.5e-4, weight_decay=0.01)
        scheduler = get_cosine_schedule_with_warmup(optimizer, max(1, steps // 10), steps)
        model.train()
        for batch in blocks.split(cfg.batch_size):
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                loss = model(batch, labels=batch, skip_logits=True).loss  # as GPTTrainer does
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            marks.append(time.perf_counter())
    seconds = (marks[-1] - marks[skip - 1]) / (len(marks) - skip)
    return {
        "model": loop,
        "workload": f"train-{precision}",
        "tokens_per_s": cfg.batch_size * cfg.n_positions / seconds,
        "peak_mib": 0.0,
    }


def run_trainer_overhead(cfg: BenchConfig, rounds: int) -> list[dict]:
    """Interleaved rounds of Trainer vs bare loop in fresh workers; ratio = Trainer tokens/s / bare tokens/s."""
    rows = []
    for precision in ("fp32", "bf16"):
        ratios, speeds = [], {"trainer": [], "bare": []}
        for _ in range(rounds):
            results = {}
            for loop in ("trainer", "bare"):
                results[loop] = _worker_result(["--loop", loop, precision, json.dumps(cfg.__dict__)])["tokens_per_s"]
                speeds[loop].append(results[loop])
            ratios.append(results["trainer"] / results["bare"])
            logger.info("%s: trainer %.0f tok/s, bare %.0f tok/s", precision, results["trainer"], results["bare"])
        rows.append(
            {
                "workload": f"train-{precision}",
                "trainer_tokens_per_s": statistics.median(speeds["trainer"]),
                "bare_tokens_per_s": statistics.median(speeds["bare"]),
                "ratio": statistics.median(ratios),
            }
        )
    return rows


def run_data_preparation(megabytes: float, workdir, num_proc: int = 2, vocab_size: int = 32000) -> dict:
    """MB/s of load + tokenise + pack (datasets.map, num_proc) on >= `megabytes` MB vs raw encode_batch."""
    from pathlib import Path

    import datasets

    from gpt_hf.data.documents import load_text_dataset
    from gpt_hf.data.packing import tokenize_and_pack
    from gpt_hf.data.tokenizer import train_tokenizer

    datasets.disable_caching()
    datasets.disable_progress_bars()
    files = build_text_corpus(Path(workdir), megabytes)
    corpus_mb = sum(Path(f).stat().st_size for f in files) / 1e6
    tokenizer, _ = train_tokenizer(files=files[:1], flavour="bytelevel", vocab_size=vocab_size, show_progress=False)
    start = time.perf_counter()
    raw = load_text_dataset(files=files, validation_fraction=0.01)
    tokenize_and_pack(raw, tokenizer, block_size=256, num_proc=num_proc)
    ours = time.perf_counter() - start
    lines = [line for f in files for line in open(f, encoding="utf-8").read().splitlines()]
    start = time.perf_counter()
    tokenizer.backend_tokenizer.encode_batch(lines, add_special_tokens=False)
    reference = time.perf_counter() - start
    return {"corpus_mb": corpus_mb, "ours_mb_s": corpus_mb / ours, "encode_batch_mb_s": corpus_mb / reference}


if __name__ == "__main__":  # worker entry: python benchmarks/measure.py [--loop LOOP] NAME WORKLOAD CONFIG_JSON
    logging.disable(logging.WARNING)
    import transformers

    transformers.logging.set_verbosity_error()
    if sys.argv[1] == "--loop":
        print(json.dumps(measure_training_loop(sys.argv[2], sys.argv[3], BenchConfig(**json.loads(sys.argv[4])))))
    else:
        print(json.dumps(measure(sys.argv[1], sys.argv[2], BenchConfig(**json.loads(sys.argv[3])))))
