"""Worker for tests/test_distributed.py: a few training steps of a tiny GPT under FSDP2 on CPU over gloo.

The wrapping is what accelerate's FSDP2 plugin applies with `transformer_layer_cls_to_wrap: GPTHFBlock` (torch's
`fully_shard` on each block, then on the root); checkpoints are torch.distributed.checkpoint (DCP) folders, as
accelerate's SHARDED_STATE_DICT writes; the final model is gathered into a full state dict and saved by rank 0 with
`save_pretrained`. accelerate itself selects FSDP only on accelerator devices, so on CPU this drives torch directly.

Usage: torchrun --nproc_per_node N tests/fsdp_worker.py OUTPUT_DIR STEPS SAVE_EVERY KILL_AT_STEP(-1: never)
Batches are made from the step number, so every run (and every world size) sees the same global batches.
"""

import json
import os
import signal
import sys
from pathlib import Path

import torch
import torch.distributed as dist
import torch.distributed.checkpoint as dcp
from torch.distributed.checkpoint.state_dict import (
    StateDictOptions,
    get_model_state_dict,
    get_state_dict,
    set_state_dict,
)
from torch.distributed.fsdp import fully_shard

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gpt_hf import GPTHFForCausalLM  # noqa: E402
from gpt_hf.model.layers_gpt_hf import GPTHFBlock

from conftest import tiny_config  # noqa: E402

GLOBAL_BATCH, LENGTH = 8, 32


def batch(step: int) -> torch.Tensor:
    return torch.randint(0, 95, (GLOBAL_BATCH, LENGTH), generator=torch.Generator().manual_seed(1000 + step))


def main(output_dir: str, steps: int, save_every: int, kill_at: int) -> None:
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    output = Path(output_dir)
    torch.manual_seed(0)  # the same initial weights on every rank
    model = GPTHFForCausalLM(tiny_config())
    for module in model.modules():
        if isinstance(module, GPTHFBlock):
            fully_shard(module)
    fully_shard(model)  # the root holds the embeddings and the tied LM head
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)

    start, losses = 0, []
    complete = sorted(
        (p for p in output.glob("checkpoint-*") if (p / ".metadata").is_file()), key=lambda p: int(p.name.split("-")[1])
    )
    if complete:  # resume from the last complete DCP checkpoint (DCP writes .metadata last)
        model_state, optimizer_state = get_state_dict(model, optimizer)
        state = {"model": model_state, "optimizer": optimizer_state}
        dcp.load(state, checkpoint_id=str(complete[-1]))
        set_state_dict(model, optimizer, model_state_dict=state["model"], optim_state_dict=state["optimizer"])
        start = int(complete[-1].name.split("-")[1])
        losses = json.loads((complete[-1] / "losses.json").read_text())

    for step in range(start, steps):
        if step == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        rows = batch(step)[rank::world]  # this rank's share of the global batch
        loss = model(input_ids=rows, labels=rows).loss
        loss.backward()  # FSDP averages the gradients over ranks: the global batch's mean gradient
        optimizer.step()
        optimizer.zero_grad()
        mean = loss.detach().clone()
        dist.all_reduce(mean)
        losses.append(mean.item() / world)
        if (step + 1) % save_every == 0:
            folder = output / f"checkpoint-{step + 1}"
            model_state, optimizer_state = get_state_dict(model, optimizer)
            dcp.save({"model": model_state, "optimizer": optimizer_state}, checkpoint_id=str(folder))
            if rank == 0:
                (folder / "losses.json").write_text(json.dumps(losses))
            dist.barrier()

    full = get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    if rank == 0:
        plain = GPTHFForCausalLM(tiny_config())
        plain.load_state_dict(full)
        plain.save_pretrained(output / "final")  # one model.safetensors, config with auto_map, code files
        (output / "losses.json").write_text(json.dumps(losses))
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1], *map(int, sys.argv[2:5]))
