"""Multi-process training on CPU over gloo: DDP with torchrun on one node and on two simulated nodes (the Trainer
path of scripts/pretrain.py), and FSDP2 sharding of the model with checkpoints that survive kill -9."""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from conftest import NO_DROPOUT, ROOT, SCRIPTS, flags, run_pretraining, tiny_config

TORCHRUN = [sys.executable, "-m", "torch.distributed.run"]


def free_port() -> str:
    """A port nobody listens on now, so that test runs side by side on one machine do not meet at the same one."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return str(probe.getsockname()[1])


ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def losses(output_dir: Path) -> list[float]:
    state = json.loads(next(output_dir.glob("checkpoint-*/trainer_state.json")).read_text())
    return [entry["loss"] for entry in state["log_history"] if "loss" in entry]


def test_two_processes_on_one_node_and_on_two_nodes_match_one_process_also_streaming(corpus, tmp_path):
    from gpt_hf.data.tokenizer import train_tokenizer

    tokenizer, _ = train_tokenizer(
        files=corpus, flavour="bytelevel", vocab_size=300, show_progress=False, model_max_length=32
    )
    tokenizer.save_pretrained(tmp_path / "tok")
    common = [
        "--tokenizer_name_or_path",
        str(tmp_path / "tok"),
        "--max_steps",
        "8",
        "--logging_steps",
        "1",
        "--save_steps",
        "8",
        "--learning_rate",
        "1e-3",
        "--seed",
        "3",
    ]
    run_pretraining(flags(corpus, tmp_path / "single", *common, overrides=NO_DROPOUT))

    def argv(name):
        values = flags(corpus, tmp_path / name, *common, overrides=NO_DROPOUT) + ["--ddp_backend", "gloo"]
        values[values.index("--per_device_train_batch_size") + 1] = "4"  # 2 processes x 4 = the global batch of 8
        return values

    env = {**ENV, "HF_HOME": str(tmp_path / "hf")}
    one_node = subprocess.run(
        [
            *TORCHRUN,
            "--nproc_per_node",
            "2",
            "--master_port",
            free_port(),
            str(SCRIPTS / "pretrain.py"),
            *argv("one-node"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert one_node.returncode == 0, one_node.stderr[-3000:]
    # two "nodes" of one process each, meeting at a c10d rendezvous on this machine (README: multi-node)
    endpoint = f"127.0.0.1:{free_port()}"
    nodes = [
        subprocess.Popen(
            [
                *TORCHRUN,
                "--nnodes",
                "2",
                "--node_rank",
                str(rank),
                "--nproc_per_node",
                "1",
                "--rdzv_backend",
                "c10d",
                "--rdzv_endpoint",
                endpoint,
                "--rdzv_id",
                "test",
                str(SCRIPTS / "pretrain.py"),
                *argv("two-nodes"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for rank in (0, 1)
    ]
    errors = [node.communicate(timeout=600)[1] for node in nodes]
    assert [node.returncode for node in nodes] == [0, 0], errors[0][-3000:] + errors[1][-3000:]
    single, double, spread = (losses(tmp_path / name) for name in ("single", "one-node", "two-nodes"))
    assert len(single) == len(double) == len(spread) == 8
    assert max(abs(a - b) for a, b in zip(single, double)) <= 1e-4, (single, double)
    assert max(abs(a - b) for a, b in zip(double, spread)) <= 1e-4, (double, spread)

    # streaming: the main process reads the stream and hands each process its share of every batch
    streaming = ["--streaming", "true", "--shuffle_buffer_size", "32"]
    run_pretraining(flags(corpus, tmp_path / "stream-single", *common, *streaming, overrides=NO_DROPOUT))
    stream_two = subprocess.run(
        [
            *TORCHRUN,
            "--nproc_per_node",
            "2",
            "--master_port",
            free_port(),
            str(SCRIPTS / "pretrain.py"),
            *argv("stream-two"),
            *streaming,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert stream_two.returncode == 0, stream_two.stderr[-3000:]
    one, two = losses(tmp_path / "stream-single"), losses(tmp_path / "stream-two")
    assert len(one) == len(two) == 8 and max(abs(a - b) for a, b in zip(one, two)) <= 1e-4, (one, two)


def test_fsdp_on_cpu_is_refused_rather_than_silently_ddp(tmp_path):
    from gpt_hf.runs.pretrain_arguments import PretrainTrainingArguments

    with pytest.raises(ValueError, match="FSDP .* needs GPUs or another accelerator: accelerate applies it only there"):
        PretrainTrainingArguments(
            output_dir=str(tmp_path),
            use_cpu=True,
            fsdp="full_shard",
            fsdp_config={"transformer_layer_cls_to_wrap": ["GPTHFBlock"]},
        )


def run_fsdp(output_dir: Path, steps: int, save_every: int, kill_at: int = -1):
    return subprocess.run(
        [
            *TORCHRUN,
            "--nproc_per_node",
            "2",
            "--master_port",
            free_port(),
            str(ROOT / "tests" / "fsdp_worker.py"),
            str(output_dir),
            str(steps),
            str(save_every),
            str(kill_at),
        ],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=600,
    )


@pytest.mark.skipif(
    tuple(int(v) for v in torch.__version__.split("+")[0].split(".")[:2]) < (2, 7),
    reason="FSDP2 runs on CPU processes from torch 2.7 (2.6 has it for GPUs only)",
)
def test_fsdp2_two_cpu_processes_match_one_process_and_resume_after_sigkill(tmp_path):
    import fsdp_worker

    from gpt_hf import GPTHFForCausalLM

    torch.manual_seed(0)
    model = GPTHFForCausalLM(tiny_config())
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    expected_losses = []
    for step in range(6):  # the same global batches in one process, without FSDP
        rows = fsdp_worker.batch(step)
        loss = model(input_ids=rows, labels=rows).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        expected_losses.append(loss.item())

    done = run_fsdp(tmp_path / "sharded", steps=6, save_every=3)
    assert done.returncode == 0, done.stderr[-3000:]
    sharded_losses = json.loads((tmp_path / "sharded" / "losses.json").read_text())
    assert max(abs(a - b) for a, b in zip(expected_losses, sharded_losses)) <= 1e-4, (expected_losses, sharded_losses)
    final = load_file(str(tmp_path / "sharded" / "final" / "model.safetensors"))  # one file, gathered from shards
    for name, value in model.state_dict().items():
        if name in final:
            torch.testing.assert_close(final[name], value, atol=1e-5, rtol=1e-4, msg=name)

    killed = tmp_path / "killed"
    died = run_fsdp(killed, steps=6, save_every=3, kill_at=4)  # after checkpoint-3, mid-way to 6
    assert died.returncode != 0 and not (killed / "final").exists()
    assert (killed / "checkpoint-3" / ".metadata").is_file() and not (killed / "checkpoint-6").exists()
    resumed = run_fsdp(killed, steps=6, save_every=3)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert json.loads((killed / "losses.json").read_text()) == pytest.approx(sharded_losses, abs=1e-6)
    for name, value in load_file(str(killed / "final" / "model.safetensors")).items():
        torch.testing.assert_close(value, final[name], atol=1e-6, rtol=0, msg=name)

    # the gathered folder is an ordinary remote-code model
    loader = (
        "import sys; sys.modules['gpt_hf'] = None\n"
        "from transformers import AutoModelForCausalLM\n"
        "print(type(AutoModelForCausalLM.from_pretrained(sys.argv[1], trust_remote_code=True)).__name__)"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", loader, str(killed / "final")],
        capture_output=True,
        text=True,
        env={**ENV, "HF_HOME": str(tmp_path / "hf")},
    )
    assert loaded.stdout.strip() == "GPTHFForCausalLM", loaded.stderr[-2000:]


def children(pid: int) -> list[int]:
    """Process ids whose parent is `pid` (from /proc: the workers torchrun started)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return sorted(found)


def test_sigterm_to_one_process_stops_both_at_the_same_step_and_the_run_resumes_exactly(corpus, tmp_path):
    from gpt_hf.data.tokenizer import train_tokenizer
    from gpt_hf.output.checkpoint_folders import CHECKPOINT_COMPLETE

    tokenizer, _ = train_tokenizer(
        files=corpus, flavour="bytelevel", vocab_size=300, show_progress=False, model_max_length=32
    )
    tokenizer.save_pretrained(tmp_path / "tok")
    # unbuffered: the workers' log lines must reach this test as they are written (a pipe is block-buffered, and a
    # 40-step run can end before a buffer fills: then the signal would come after training)
    env = {**ENV, "HF_HOME": str(tmp_path / "hf"), "PYTHONUNBUFFERED": "1"}

    def torchrun(name, *extra, **kwargs):
        argv = flags(
            corpus,
            tmp_path / name,
            "--tokenizer_name_or_path",
            str(tmp_path / "tok"),
            "--max_steps",
            "40",
            "--logging_steps",
            "1",
            "--save_steps",
            "1000",
            "--seed",
            "3",
            "--ddp_backend",
            "gloo",
            "--disable_tqdm",
            "true",
            *extra,
            overrides=NO_DROPOUT,
        )
        argv[argv.index("--per_device_train_batch_size") + 1] = "4"
        return [*TORCHRUN, "--nproc_per_node", "2", "--master_port", free_port(), str(SCRIPTS / "pretrain.py"), *argv]

    agent = subprocess.Popen(
        torchrun("run"), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True
    )
    watchdog = threading.Timer(240, os.killpg, (agent.pid, signal.SIGKILL))  # processes that disagree would hang
    watchdog.start()
    output = []
    try:
        for line in agent.stdout:
            output.append(line)
            if "'loss'" in line:  # both workers are training: the signal reaches one of them only
                os.kill(children(agent.pid)[-1], signal.SIGTERM)
                break
        output += agent.stdout.readlines()
        agent.wait()
    finally:
        watchdog.cancel()
    stops = {line.split("at step ")[1].split(":")[0] for line in output if "Stopped by SIGTERM at step" in line}
    assert len(stops) == 1, "".join(output[-40:])  # every process that said so stopped at the same step
    step = int(stops.pop())
    assert 0 < step < 40 and (tmp_path / "run" / f"checkpoint-{step}" / CHECKPOINT_COMPLETE).is_file()

    resumed = subprocess.run(
        torchrun("run", "--resume_from_checkpoint", "last"), capture_output=True, text=True, env=env, timeout=300
    )
    straight = subprocess.run(torchrun("straight"), capture_output=True, text=True, env=env, timeout=300)
    assert resumed.returncode == straight.returncode == 0, resumed.stderr[-2000:] + straight.stderr[-2000:]
    first, second = (load_file(tmp_path / name / "model.safetensors") for name in ("run", "straight"))
    for key, value in second.items():
        torch.testing.assert_close(first[key], value, rtol=0, atol=0, msg=key)
