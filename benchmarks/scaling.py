"""Developer tooling, not part of the installed package: how pretraining's data path scales with the corpus.

For each corpus size (made deterministically from the built-in corpus: seeded reshuffles of its documents, written
as 10 MB text files) and each path (map-style: datasets.map into an Arrow cache; streaming: read, tokenise and pack on
the fly), `scripts/pretrain.py` runs in a fresh process with its own datasets cache, a tokenizer given (so that the
data path alone is measured) and a tiny model, and stops after a few training steps. Recorded: time from the
process start to the first training step, peak resident memory of the whole process tree (workers included, sampled
every 50 ms), and the disk the caches take. Preparation throughput is the corpus size over the time to the first step
(map-style, which prepares everything first) or the text rate of the stream itself (streaming, measured by reading
blocks from it for a fixed time, no model).
"""

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
SHARD_BYTES = 10_000_000

# Run inside the measured process: stop the Trainer at its first step and report the time.
_STOP_AT_FIRST_STEP = """
import json, os, sys, time
sys.path.insert(0, sys.argv[1])
from transformers import Trainer
def first_step(self, *args, **kwargs):
    print("FIRST_STEP " + json.dumps({"seconds": time.time() - float(os.environ["SCALING_T0"])}), flush=True)
    os._exit(0)
Trainer.training_step = first_step
import pretrain
pretrain.main(sys.argv[2:])
"""

# Run inside the measured process: read blocks from the stream for `seconds`, report the text rate.
_STREAM_RATE = """
import json, sys, time
import datasets
from transformers import AutoTokenizer
from gpt_hf.data.documents import load_text_stream
from gpt_hf.data.packing import PackedStream
files, tokenizer_dir, seconds, workers = sys.argv[1].split(","), sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
stream = load_text_stream(files=files)
blocks = PackedStream(stream["train"], tokenizer, 256, seed=42, shuffle_buffer_size=10_000)
import torch
loader = torch.utils.data.DataLoader(blocks, batch_size=None, num_workers=workers)
start, tokens = None, 0
for block in loader:
    if start is None:  # buffer filled: the steady rate from here
        start = time.perf_counter()
    tokens += len(block["input_ids"])
    if time.perf_counter() - start > seconds:
        break
print("RATE " + json.dumps({"tokens_per_s": tokens / (time.perf_counter() - start)}), flush=True)
"""


def build_scaled_corpus(folder: Path, megabytes: float, seed: int = 0) -> list[str]:
    """>= `megabytes` MB of text: the built-in corpus's documents, reshuffled with `seed`, `seed + 1`, ... and
    written as paragraphs (blank line between documents) into 10 MB files. The same files for the same arguments."""
    from gpt_hf.data.corpus import builtin_corpus

    documents, files, written, part, round_ = builtin_corpus(), [], 0, None, seed
    folder.mkdir(parents=True, exist_ok=True)
    while written < megabytes * 1e6:
        order = documents[:]
        random.Random(round_).shuffle(order)
        round_ += 1
        for document in order:
            if part is None or part.tell() >= SHARD_BYTES:
                if part:
                    part.close()
                files.append(str(folder / f"corpus-{len(files):04d}.txt"))
                part = open(files[-1], "w", encoding="utf-8")
            part.write(document + "\n\n")
            written += len(document.encode("utf-8")) + 2
            if written >= megabytes * 1e6:
                break
    part.close()
    return files


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.exists() else 0


def _run_measured(command: list[str], env: dict) -> tuple[str, float, float]:
    """(stdout, peak RSS, peak private RSS) in MB of the process and all its descendants, sampled every 50 ms.

    Private = RSS minus shared pages: datasets memory-maps its Arrow files, and the pages of a mapped file that a
    process has read count in its RSS although they are page cache the kernel can drop at any time."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    peak, peak_private, done = 0, 0, threading.Event()

    def sample():
        nonlocal peak, peak_private
        root = psutil.Process(process.pid)
        while not done.is_set():
            try:
                memory = [p.memory_info() for p in [root, *root.children(recursive=True)] if p.is_running()]
                peak = max(peak, sum(m.rss for m in memory))
                peak_private = max(peak_private, sum(m.rss - m.shared for m in memory))
            except psutil.Error:
                pass
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, stderr = process.communicate()
    done.set()
    sampler.join()
    if process.returncode != 0:
        raise RuntimeError(f"{command[:4]} failed:\n{stderr[-3000:]}")
    return stdout, peak / 1e6, peak_private / 1e6


def tokenizer_for_runs(folder: Path) -> Path:
    """A byte-level tokenizer (vocab 8192) trained once on the built-in corpus, shared by every run."""
    from gpt_hf.data.corpus import builtin_corpus
    from gpt_hf.data.tokenizer import train_tokenizer

    tokenizer, _ = train_tokenizer(
        texts=builtin_corpus(), flavour="bytelevel", vocab_size=8192, show_progress=False, model_max_length=256
    )
    tokenizer.save_pretrained(folder)
    return folder


def measure_path(files: list[str], tokenizer_dir: Path, streaming: bool, workers: int, workdir: Path) -> dict:
    """Time to the first step, peak memory and cache disk of one `scripts/pretrain.py` run on `files`."""
    run_dir = Path(tempfile.mkdtemp(dir=workdir))
    env = {
        **os.environ,
        "HF_HOME": str(run_dir / "hf"),
        "HF_DATASETS_CACHE": str(run_dir / "hf" / "datasets"),
        "SCALING_T0": repr(time.time()),
    }
    argv = [
        "--train_files",
        *files,
        "--output_dir",
        str(run_dir / "out"),
        "--config_name",
        "tiny",
        "--config_overrides",
        json.dumps({"n_positions": 256}),
        "--tokenizer_name_or_path",
        str(tokenizer_dir),
        "--block_size",
        "256",
        "--per_device_train_batch_size",
        "8",
        "--max_steps",
        "5",
        "--use_cpu",
        "--report_to",
        "none",
        "--save_strategy",
        "no",
        "--disable_tqdm",
        "true",
    ]
    if streaming:
        argv += ["--streaming", "true", "--dataloader_num_workers", str(workers)]
    else:
        argv += ["--preprocessing_num_workers", str(workers)]
    stdout, peak_mb, private_mb = _run_measured(
        [sys.executable, "-c", _STOP_AT_FIRST_STEP, str(ROOT / "scripts"), *argv], env
    )
    seconds = json.loads(stdout.split("FIRST_STEP ", 1)[1].splitlines()[0])["seconds"]
    cache_mb = _folder_bytes(run_dir / "hf") / 1e6
    shutil.rmtree(run_dir, ignore_errors=True)
    return {"first_step_s": seconds, "peak_rss_mb": peak_mb, "peak_private_mb": private_mb, "cache_mb": cache_mb}


def measure_stream_rate(files: list[str], tokenizer_dir: Path, workers: int, seconds: float = 20.0) -> float:
    """MB of text per second that the stream turns into blocks (steady state, after the shuffle buffer fills)."""
    stdout, _, _ = _run_measured(
        [sys.executable, "-c", _STREAM_RATE, ",".join(files), str(tokenizer_dir), str(seconds), str(workers)],
        {**os.environ},
    )
    tokens_per_s = json.loads(stdout.split("RATE ", 1)[1].splitlines()[0])["tokens_per_s"]
    return tokens_per_s * _bytes_per_token(files[0], tokenizer_dir) / 1e6


def _bytes_per_token(path: str, tokenizer_dir: Path) -> float:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir, model_max_length=10**9)  # one long text, on purpose
    text = Path(path).read_text(encoding="utf-8")[:2_000_000]
    return len(text.encode("utf-8")) / len(tokenizer(text, add_special_tokens=False)["input_ids"])


PATHS = ("map-style", "streaming", "store")

# Run inside the measured process: the raw `tokenizers` rate on the same text, the ceiling of every data path.
_RAW_RATE = """
import json, sys, time
from transformers import AutoTokenizer
files, tokenizer_dir, max_bytes = sys.argv[1].split(","), sys.argv[2], int(sys.argv[3])
backend = AutoTokenizer.from_pretrained(tokenizer_dir).backend_tokenizer
texts, size = [], 0
for path in files:
    for document in open(path, encoding="utf-8").read().split("\\n\\n"):
        texts.append(document)
        size += len(document.encode())
    if size >= max_bytes:
        break
start = time.perf_counter()
for i in range(0, len(texts), 1000):
    backend.encode_batch_fast(texts[i : i + 1000], add_special_tokens=False)
print("RAW " + json.dumps({"mb_per_s": size / 1e6 / (time.perf_counter() - start)}), flush=True)
"""


def measure_raw_rate(files: list[str], tokenizer_dir: Path, max_mb: float = 100.0) -> float:
    """MB/s of `encode_batch_fast` alone (batches of 1,000 documents, every core) on up to `max_mb` of the corpus."""
    stdout, _, _ = _run_measured(
        [sys.executable, "-c", _RAW_RATE, ",".join(files), str(tokenizer_dir), str(int(max_mb * 1e6))], {**os.environ}
    )
    return json.loads(stdout.split("RAW ", 1)[1].splitlines()[0])["mb_per_s"]


def prepare_store_measured(files: list[str], tokenizer_dir: Path, workers: int, store: Path) -> dict:
    """Prepare a token store with `scripts/prepare_data.py`; its own preparation time, peak memory and disk."""
    argv = [
        sys.executable,
        str(ROOT / "scripts" / "prepare_data.py"),
        "--train_files",
        *files,
        "--output_dir",
        str(store),
        "--tokenizer_name_or_path",
        str(tokenizer_dir),
        "--preprocessing_num_workers",
        str(workers),
        "--overwrite_output_dir",
        "true",
    ]
    _, peak_mb, private_mb = _run_measured(argv, {**os.environ})
    metadata = json.loads((store / "metadata.json").read_text())
    tokens = sum(split["tokens"] for split in metadata["splits"].values())
    bins = sum(p.stat().st_size for p in store.glob("*.bin"))
    indexes = sum(p.stat().st_size for p in store.glob("*.idx"))
    return {
        "prepare_s": metadata["seconds"],
        "tokens": tokens,
        "bin_bytes_per_token": bins / tokens,
        "idx_bytes_per_token": indexes / tokens,
        "prepare_peak_private_mb": private_mb,
        "prepare_peak_rss_mb": peak_mb,
    }


def _store_run_argv(store: Path, output_dir: Path) -> list[str]:
    return [
        "--data_dir",
        str(store),
        "--output_dir",
        str(output_dir),
        "--config_name",
        "tiny",
        "--config_overrides",
        json.dumps({"n_positions": 256}),
        "--block_size",
        "256",
        "--per_device_train_batch_size",
        "8",
        "--use_cpu",
        "--report_to",
        "none",
        "--disable_tqdm",
        "true",
    ]


def measure_store_first_step(store: Path, workdir: Path) -> dict:
    """Time from the process start to the first training step from a prepared store, and peak memory."""
    run_dir = Path(tempfile.mkdtemp(dir=workdir))
    env = {**os.environ, "HF_HOME": str(run_dir / "hf"), "SCALING_T0": repr(time.time())}
    argv = [*_store_run_argv(store, run_dir / "out"), "--max_steps", "5", "--save_strategy", "no"]
    stdout, peak_mb, private_mb = _run_measured(
        [sys.executable, "-c", _STOP_AT_FIRST_STEP, str(ROOT / "scripts"), *argv], env
    )
    shutil.rmtree(run_dir, ignore_errors=True)
    return {
        "first_step_s": json.loads(stdout.split("FIRST_STEP ", 1)[1].splitlines()[0])["seconds"],
        "peak_rss_mb": peak_mb,
        "peak_private_mb": private_mb,
    }


# Run inside the measured process: train 1 step, save its checkpoint, stop when the second step would begin.
_CHECKPOINT_THEN_STOP = """
import os, sys
sys.path.insert(0, sys.argv[1])
from transformers import Trainer
original = Trainer.training_step
def stop_after_the_first_checkpoint(self, *args, **kwargs):
    if self.state.global_step >= 1:
        os._exit(0)
    return original(self, *args, **kwargs)
Trainer.training_step = stop_after_the_first_checkpoint
import pretrain
pretrain.main(sys.argv[2:])
"""


def measure_store_resume(store: Path, workdir: Path, fractions=(0.1, 0.5, 0.9)) -> list[dict]:
    """Seconds from the process start to the first resumed step, resuming at `fractions` of the first epoch: a
    checkpoint of step 1 whose trainer state is set to the step at that fraction (the Trainer then skips that many
    batches: indices, no data read)."""
    from gpt_hf.data.token_store import TokenStore

    blocks = len(TokenStore(store).blocks("train", 256))
    steps = blocks // 8
    run_dir = Path(tempfile.mkdtemp(dir=workdir))
    argv = [
        *_store_run_argv(store, run_dir / "out"),
        "--max_steps",
        str(steps),
        "--save_steps",
        "1",
        "--save_total_limit",
        "1",
    ]
    _run_measured([sys.executable, "-c", _CHECKPOINT_THEN_STOP, str(ROOT / "scripts"), *argv], {**os.environ})
    first = run_dir / "out" / "checkpoint-1"
    rows = []
    for fraction in fractions:
        step = int(steps * fraction)
        checkpoint = first.with_name(f"checkpoint-{step}")
        shutil.copytree(first, checkpoint)
        state = json.loads((checkpoint / "trainer_state.json").read_text())
        state["global_step"] = step
        (checkpoint / "trainer_state.json").write_text(json.dumps(state))
        env = {**os.environ, "SCALING_T0": repr(time.time())}
        stdout, _, private_mb = _run_measured(
            [
                sys.executable,
                "-c",
                _STOP_AT_FIRST_STEP,
                str(ROOT / "scripts"),
                *argv,
                "--resume_from_checkpoint",
                str(checkpoint),
            ],
            env,
        )
        seconds = json.loads(stdout.split("FIRST_STEP ", 1)[1].splitlines()[0])["seconds"]
        rows.append(
            {"fraction": fraction, "step": step, "of_steps": steps, "resume_s": seconds, "peak_private_mb": private_mb}
        )
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
        shutil.rmtree(checkpoint)
    shutil.rmtree(run_dir, ignore_errors=True)
    return rows


def run_scaling(
    sizes_mb: list[float], workers: list[int], workdir: Path, paths=PATHS, resume_mb: float | None = None
) -> list[dict]:
    """One row per (size, path, workers); with the store path, also the resume times at 10 / 50 / 90 % of an epoch of
    the `resume_mb` store."""
    tokenizer_dir = tokenizer_for_runs(workdir / "tokenizer")
    rows = []
    for size in sizes_mb:
        corpus_dir = workdir / f"corpus-{size:g}MB"
        files = build_scaled_corpus(corpus_dir, size)
        corpus_mb = _folder_bytes(corpus_dir) / 1e6
        raw_rate = measure_raw_rate(files, tokenizer_dir)
        if "store" in paths:
            for count in workers:
                store = workdir / "store"
                prepared = prepare_store_measured(files, tokenizer_dir, count, store)
                result = measure_store_first_step(store, workdir)
                rows.append(
                    {
                        "corpus_mb": corpus_mb,
                        "path": "store",
                        "workers": count,
                        "prep_mb_s": corpus_mb / prepared["prepare_s"],
                        "raw_mb_s": raw_rate,
                        "cache_mb": _folder_bytes(store) / 1e6,
                        **prepared,
                        **result,
                    }
                )
                print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
            if resume_mb is not None and abs(size - resume_mb) < 1e-9:
                for row in measure_store_resume(store, workdir):
                    rows.append({"corpus_mb": corpus_mb, "path": "store resume", **row})
            shutil.rmtree(workdir / "store", ignore_errors=True)
        for streaming in [path == "streaming" for path in paths if path != "store"]:
            for count in workers:
                result = measure_path(files, tokenizer_dir, streaming, count, workdir)
                rate = (
                    measure_stream_rate(files, tokenizer_dir, count)
                    if streaming
                    else corpus_mb / result["first_step_s"]
                )
                rows.append(
                    {
                        "corpus_mb": corpus_mb,
                        "path": "streaming" if streaming else "map-style",
                        "workers": count,
                        "prep_mb_s": rate,
                        "raw_mb_s": raw_rate,
                        **result,
                    }
                )
                print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
        shutil.rmtree(corpus_dir, ignore_errors=True)
    return rows


def format_scaling_table(rows: list[dict]) -> str:
    lines = [
        "| corpus | path | workers | time to first step | preparation | raw tokenizers | preparation / raw | "
        "peak private memory | peak RSS | disk |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    resumes = []
    for row in rows:
        if row["path"] == "store resume":
            resumes.append(
                f"| {row['corpus_mb']:.0f} MB | {row['fraction']:.0%} (step {row['step']:,} of "
                f"{row['of_steps']:,}) | {row['resume_s']:.1f} s | {row['peak_private_mb'] / 1e3:.2f} GB |"
            )
            continue
        disk = f"{row['cache_mb']:.0f} MB"
        if row["path"] == "store":
            disk += f" ({row['bin_bytes_per_token']:.2f} + {row['idx_bytes_per_token']:.2f} B/token)"
        lines.append(
            f"| {row['corpus_mb']:.0f} MB | {row['path']} | {row['workers']} | {row['first_step_s']:.1f} s | "
            f"{row['prep_mb_s']:.2f} MB/s | {row['raw_mb_s']:.2f} MB/s | "
            f"{row['prep_mb_s'] / row['raw_mb_s']:.2f}x | {row['peak_private_mb'] / 1e3:.2f} GB | "
            f"{row['peak_rss_mb'] / 1e3:.2f} GB | {disk} |"
        )
    if resumes:
        lines += [
            "",
            "| store | resumed at | time to the first resumed step | peak private memory |",
            "|---|---|---|---|",
            *resumes,
        ]
    return "\n".join(lines)
