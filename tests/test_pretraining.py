"""scripts/pretrain.py end to end on a tiny model and a small corpus made here: learning, exact resume, crash-safe
checkpoints, streaming, outputs and early errors. Multi-process runs: test_distributed.py."""

import json
import math
import os
import subprocess
import sys
import textwrap
from collections import Counter

import pytest
import torch
from safetensors.torch import load_file

from gpt_hf.output.checkpoint_folders import CHECKPOINT_COMPLETE, last_complete_checkpoint
from gpt_hf.runs.trainer import GPTTrainer

from conftest import ROOT, SCRIPTS, activation_checkpointing_flag, flags, run_pretraining

SCRIPT = SCRIPTS / "pretrain.py"


def test_loss_falls_well_below_unigram_entropy(corpus, tmp_path):
    out = tmp_path / "run"
    summary = run_pretraining(
        flags(
            corpus,
            out,
            "--max_steps",
            "250",
            "--learning_rate",
            "3e-3",
            "--eval_strategy",
            "steps",
            "--eval_steps",
            "125",
        )
    )
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(out)
    ids = tokenizer(corpus.read_text(encoding="utf-8"), add_special_tokens=False)["input_ids"]
    counts = Counter(ids)
    unigram_entropy = -sum(c / len(ids) * math.log(c / len(ids)) for c in counts.values())
    assert summary["eval_loss"] < 0.6 * unigram_entropy, (summary["eval_loss"], unigram_entropy)
    assert summary["tokens_seen"] == 250 * 8 * 32
    assert summary["eval_perplexity"] == pytest.approx(math.exp(summary["eval_loss"]), rel=1e-6)
    # the finished folder: model + code + tokenizer + generation config + model card + metrics
    names = {p.name for p in out.iterdir()}
    assert {
        "model.safetensors",
        "config.json",
        "modeling_gpt_hf.py",
        "configuration_gpt_hf.py",
        "tokenizer.json",
        "generation_config.json",
        "README.md",
        "summary.json",
        "all_results.json",
    } <= names
    generation = json.loads((out / "generation_config.json").read_text())
    assert generation["eos_token_id"] == tokenizer.eos_token_id and generation["pad_token_id"] == tokenizer.pad_token_id
    assert "perplexity" in (out / "README.md").read_text()
    assert summary["sample"].startswith("the")
    state = json.loads((out / "checkpoint-250" / "trainer_state.json").read_text())
    assert any("eval_perplexity" in entry for entry in state["log_history"])


def test_recipe_defaults_and_weight_decay_groups(tmp_path):
    from gpt_hf import GPTHFForCausalLM
    from gpt_hf.runs.pretrain_arguments import PretrainTrainingArguments

    from conftest import tiny_config

    args = PretrainTrainingArguments(output_dir=str(tmp_path), use_cpu=True, report_to="none")
    assert (
        args.learning_rate,
        str(args.lr_scheduler_type.value),
        args.warmup_steps,
        args.weight_decay,
        args.max_grad_norm,
    ) == (2.5e-4, "cosine", 2000, 0.01, 1.0)
    model = GPTHFForCausalLM(tiny_config())
    trainer = GPTTrainer(model=model, args=args)
    optimizer = trainer.create_optimizer()
    by_decay = {group["weight_decay"]: {id(p) for p in group["params"]} for group in optimizer.param_groups}
    names = {id(p): n for n, p in model.named_parameters()}
    decayed, not_decayed = {names[i] for i in by_decay[0.01]}, {names[i] for i in by_decay[0.0]}
    assert "transformer.wte.weight" in decayed and "transformer.h.0.attn.c_attn.weight" in decayed
    assert all(n.endswith("bias") or ".ln_" in n for n in not_decayed)
    assert "transformer.h.0.ln_1.weight" in not_decayed and "transformer.h.1.mlp.c_fc.bias" in not_decayed


def test_resume_reproduces_the_uninterrupted_run(corpus, tmp_path):
    # dropout stays on: the RNG state must be restored too
    common = ("--max_steps", "20", "--save_steps", "10", "--learning_rate", "1e-3", "--seed", "7")
    full = tmp_path / "full"
    run_pretraining(flags(corpus, full, *common))
    resumed = tmp_path / "resumed"
    resumed.mkdir()
    # "stop at step 10": start a new run from the uninterrupted run's step-10 checkpoint
    (resumed / "tokenizer.json").write_bytes((full / "tokenizer.json").read_bytes())
    (resumed / "tokenizer_config.json").write_bytes((full / "tokenizer_config.json").read_bytes())
    import shutil

    shutil.copytree(full / "checkpoint-10", resumed / "checkpoint-10")
    run_pretraining(flags(corpus, resumed, *common, "--resume_from_checkpoint", "last"))
    expected, actual = load_file(str(full / "model.safetensors")), load_file(str(resumed / "model.safetensors"))
    assert expected.keys() == actual.keys()
    for key in expected:
        torch.testing.assert_close(actual[key], expected[key], atol=1e-6, rtol=0, msg=key)


KILL_DURING_SAVE = textwrap.dedent(
    """
    import os, signal, sys
    sys.path.insert(0, sys.argv[1])
    from transformers import Trainer
    original = Trainer._save_rng_state
    def kill_on_second_checkpoint(self, output_dir):
        if self.state.global_step >= 20:  # weights and optimizer are on disk, the rest is not
            os.kill(os.getpid(), signal.SIGKILL)
        return original(self, output_dir)
    Trainer._save_rng_state = kill_on_second_checkpoint
    import pretrain
    pretrain.main(sys.argv[2:])
    """
)


def test_sigkill_while_saving_leaves_the_previous_checkpoint_usable(corpus, tmp_path):
    out = tmp_path / "run"
    argv = flags(corpus, out, "--max_steps", "30", "--save_steps", "10", "--save_total_limit", "1")
    died = subprocess.run(
        [sys.executable, "-c", KILL_DURING_SAVE, str(ROOT / "scripts"), *argv], capture_output=True, text=True
    )
    assert died.returncode == -9, died.stderr[-2000:]
    assert (out / "checkpoint-20" / "model.safetensors").is_file()  # half-written ...
    assert not (out / "checkpoint-20" / CHECKPOINT_COMPLETE).exists()  # ... and not marked complete
    from transformers.trainer_utils import get_last_checkpoint

    assert get_last_checkpoint(out).endswith("checkpoint-20")  # what plain transformers would resume from
    assert last_complete_checkpoint(out) == out / "checkpoint-10"

    # the previous checkpoint loads, also as remote code without gpt_hf
    loader = (
        "import sys; sys.modules['gpt_hf'] = None\n"
        "from transformers import AutoModelForCausalLM\n"
        "print(type(AutoModelForCausalLM.from_pretrained(sys.argv[1], trust_remote_code=True)).__name__)"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", loader, str(out / "checkpoint-10")],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "HF_HOME": str(tmp_path / "hf")},
    )
    assert loaded.stdout.strip() == "GPTHFForCausalLM"

    summary = run_pretraining(argv + ["--resume_from_checkpoint", "last"])
    assert summary["steps"] == 30
    assert not (out / "checkpoint-20").exists() or (out / "checkpoint-20" / CHECKPOINT_COMPLETE).exists()
    assert [p.name for p in out.glob("checkpoint-*")] == ["checkpoint-30"]  # save_total_limit=1 on complete ones


KILL_AT_STEP = textwrap.dedent(
    """
    import os, signal, sys
    sys.path.insert(0, sys.argv[1])
    from transformers import Trainer
    original = Trainer.training_step
    def kill_at_step(self, *args, **kwargs):
        if self.state.global_step >= int(sys.argv[2]):  # mid-epoch, after the last checkpoint
            os.kill(os.getpid(), signal.SIGKILL)
        return original(self, *args, **kwargs)
    Trainer.training_step = kill_at_step
    import pretrain
    pretrain.main(sys.argv[3:])
    """
)


def test_streaming_resume_after_sigkill_gives_the_uninterrupted_weights(corpus, tmp_path):
    # 40 documents make ~9 steps an epoch: the run crosses epoch boundaries (a new shuffle each), is killed mid-epoch
    # at step 15 and resumes from step 10; dropout stays on, so the RNG state must come back too
    common = (
        "--streaming",
        "true",
        "--max_train_documents",
        "40",
        "--shuffle_buffer_size",
        "16",
        "--max_steps",
        "20",
        "--save_steps",
        "10",
        "--learning_rate",
        "1e-3",
        "--seed",
        "5",
    )
    full = tmp_path / "full"
    summary = run_pretraining(flags(corpus, full, *common))
    assert summary["steps"] == 20 and math.isfinite(summary["eval_loss"])
    killed = tmp_path / "killed"
    argv = flags(corpus, killed, *common)
    died = subprocess.run(
        [sys.executable, "-c", KILL_AT_STEP, str(SCRIPTS), "15", *argv], capture_output=True, text=True
    )
    assert died.returncode == -9, died.stderr[-2000:]
    assert last_complete_checkpoint(killed) == killed / "checkpoint-10"
    run_pretraining(argv + ["--resume_from_checkpoint", "last"])
    expected, actual = load_file(str(full / "model.safetensors")), load_file(str(killed / "model.safetensors"))
    for key in expected:
        torch.testing.assert_close(actual[key], expected[key], atol=1e-6, rtol=0, msg=key)
    # and the stream is not a replay of one epoch: a run with another seed sees other batches
    other = run_pretraining(flags(corpus, tmp_path / "other", *common[:-1], "6"))
    assert other["train_loss"] != summary["train_loss"]


def test_streaming_needs_max_steps_and_enough_text(corpus, tmp_path):
    with pytest.raises(ValueError, match="--streaming needs --max_steps"):
        run_pretraining(flags(corpus, tmp_path / "a", "--streaming", "true"))
    with pytest.raises(ValueError, match=r"--dataloader_num_workers 2 exceeds the stream's 1 shards \(one per file\)"):
        run_pretraining(
            flags(corpus, tmp_path / "a", "--streaming", "true", "--max_steps", "5", "--dataloader_num_workers", "2")
        )
    short = tmp_path / "short.txt"
    short.write_text("the cat sees the dog .\n\nthe fox .\n")
    argv = flags(short, tmp_path / "b", "--streaming", "true", "--max_steps", "5", "--validation_files", str(corpus))
    with pytest.raises(ValueError, match="training stream holds fewer than 32 tokens"):
        run_pretraining(argv)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


@pytest.mark.parametrize(
    "extra, overrides, match",
    [
        (["--train_files", "/nonexistent/*.txt"], None, "No file matches"),
        (["--text_column", "body"], None, r"Text column 'body' not in the train split"),
        (["--block_size", "64"], None, r"--block_size 64 exceeds the model's n_positions=32"),
        (["--tokenizer_vocab_size", "200"], None, r"--tokenizer_vocab_size 200 is too small for a bytelevel tokenizer"),
        (["--config_name", "gpt5"], None, r"neither a preset"),
    ],
)
def test_bad_input_fails_before_training_and_writes_nothing(corpus, tmp_path, extra, overrides, match):
    out = tmp_path / "never"
    argv = flags(corpus, out, "--max_steps", "5", overrides=overrides)
    for flag in extra[::2]:  # replace flags already present
        if flag in argv:
            index = argv.index(flag)
            del argv[index : index + 2]
    with pytest.raises(ValueError, match=match):
        run_pretraining(argv + extra)
    assert not out.exists()


def test_tokenizer_that_does_not_match_the_model_is_refused(corpus, tmp_path):
    from gpt_hf import GPTHFForCausalLM

    from conftest import tiny_config

    model_dir = tmp_path / "model"
    GPTHFForCausalLM(tiny_config(n_positions=32)).save_pretrained(model_dir)  # vocab 99, its own special ids
    from gpt_hf.data.tokenizer import train_tokenizer

    train_tokenizer(files=corpus, flavour="bytelevel", vocab_size=300, show_progress=False)[0].save_pretrained(
        tmp_path / "tok"
    )
    argv = flags(corpus, tmp_path / "out", "--max_steps", "5")
    del argv[argv.index("--config_name") : argv.index("--config_name") + 4]  # drop --config_name/--config_overrides
    with pytest.raises(ValueError, match=r"tokenizer has 300 tokens but config.vocab_size=99"):
        run_pretraining(
            argv + ["--model_name_or_path", str(model_dir), "--tokenizer_name_or_path", str(tmp_path / "tok")]
        )
    assert not (tmp_path / "out").exists()


def test_existing_output_folder_needs_overwrite(corpus, tmp_path):
    out = tmp_path / "busy"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    with pytest.raises(ValueError, match="is not empty; pass --overwrite_output_dir"):
        run_pretraining(flags(corpus, out, "--max_steps", "5"))


@pytest.mark.parametrize(
    "options",
    [
        ["--bf16", "true", "--gradient_accumulation_steps", "2", activation_checkpointing_flag(), "true"],
        ["--torch_compile", "true", "--torch_compile_backend", "aot_eager"],
    ],
    ids=["bf16-accumulation-checkpointing", "torch-compile"],
)
def test_training_options_users_expect(corpus, tmp_path, options):
    summary = run_pretraining(flags(corpus, tmp_path / "run", "--max_steps", "6", "--save_strategy", "no", *options))
    assert summary["steps"] == 6 and math.isfinite(summary["train_loss"])
    accumulation = 2 if "--gradient_accumulation_steps" in options else 1
    assert summary["tokens_seen"] == 6 * 8 * 32 * accumulation


def test_help_documents_every_argument():
    done = subprocess.run([sys.executable, str(SCRIPT), "--help"], capture_output=True, text=True, check=True)
    for flag, words in [
        ("--train_files", "built-in corpus"),
        ("--block_size", "n_positions"),
        ("--config_overrides", "JSON object"),
        ("--short_run_warmup_fraction", "short runs"),
        ("--learning_rate", "2.5e-4"),
    ]:
        assert flag in done.stdout and words in done.stdout, flag


def test_overwriting_a_folder_drops_the_earlier_runs_checkpoints(corpus, tmp_path):
    out = tmp_path / "reused"
    stale = out / "checkpoint-900"
    stale.mkdir(parents=True)
    (stale / CHECKPOINT_COMPLETE).write_text("{}")
    run_pretraining(
        flags(
            corpus,
            out,
            "--max_steps",
            "4",
            "--save_steps",
            "2",
            "--save_total_limit",
            "1",
            "--overwrite_output_dir",
            "true",
        )
    )
    assert [p.name for p in out.glob("checkpoint-*")] == ["checkpoint-4"]
