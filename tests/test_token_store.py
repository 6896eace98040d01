"""The prepared token store (scripts/prepare_data.py, pretrain.py --data_dir): Megatron-format shards that other
trainers read, every training token in exactly one block per epoch, exact resume after kill -9 without a replay,
disjoint reads across processes, a preparation that continues after a kill, and clear errors for a store that is
incomplete or from another tokenizer."""

import json
import shutil
import struct
import subprocess
import sys

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from test_distributed import ENV, TORCHRUN, free_port, losses
from test_pretraining import KILL_AT_STEP

from gpt_hf.data import token_store
from gpt_hf.data.token_store import PrepareArguments, TokenStore, prepare_store
from gpt_hf.errors import ArgumentError, DataError
from gpt_hf.output.checkpoint_folders import last_complete_checkpoint

from conftest import NO_DROPOUT, SCRIPTS, run_pretraining


def prepare(corpus, folder, **options) -> dict:
    values = dict(
        train_files=[str(corpus)],
        output_dir=str(folder),
        tokenizer_vocab_size=300,
        shard_tokens=3000,
        validation_split_fraction=0.1,
        **options,
    )
    return prepare_store(PrepareArguments(**values))


@pytest.fixture(scope="module")
def store(corpus, tmp_path_factory):
    folder = tmp_path_factory.mktemp("store") / "grammar"
    prepare(corpus, folder)
    return folder


def train_flags(store, output_dir, *extra):
    return [
        "--data_dir",
        str(store),
        "--output_dir",
        str(output_dir),
        "--config_name",
        "tiny",
        "--config_overrides",
        json.dumps({"n_positions": 32, **NO_DROPOUT}),
        "--block_size",
        "32",
        "--per_device_train_batch_size",
        "8",
        "--use_cpu",
        "--report_to",
        "none",
        "--logging_steps",
        "1",
        "--disable_tqdm",
        "true",
        "--sample_prompt",
        "the",
        *extra,
    ]


def test_shards_are_megatron_indexed_datasets_of_whole_documents(store):
    metadata = json.loads((store / "metadata.json").read_text())
    assert metadata["dtype"] == "uint16" and metadata["vocab_size"] == 300
    train = metadata["splits"]["train"]
    assert len(train["shards"]) > 1 and train["tokens"] == sum(s["tokens"] for s in train["shards"])
    eos = metadata["eos_token_id"]
    for shard in train["shards"] + metadata["splits"]["validation"]["shards"]:
        tokens = np.fromfile(store / f"{shard['name']}.bin", np.uint16)  # 2 bytes a token, nothing else
        raw = (store / f"{shard['name']}.idx").read_bytes()  # read as Megatron's MMapIndexedDataset does
        assert raw[:9] == b"MMIDIDX\x00\x00"
        version, dtype_code, sequences, documents = struct.unpack("<QBQQ", raw[9:34])
        assert (version, dtype_code, sequences, documents) == (1, 8, shard["documents"], shard["documents"] + 1)
        lengths = np.frombuffer(raw, np.int32, sequences, 34)
        pointers = np.frombuffer(raw, np.int64, sequences, 34 + 4 * sequences)
        boundaries = np.frombuffer(raw, np.int64, sequences + 1, 34 + 12 * sequences)
        assert lengths.sum() == tokens.size == shard["tokens"]
        assert (pointers == 2 * np.concatenate([[0], np.cumsum(lengths)[:-1]])).all()
        assert (boundaries == np.arange(sequences + 1)).all()
        assert (tokens[np.cumsum(lengths) - 1] == eos).all()  # every document ends with <|endoftext|>
    # the validation documents are held out whole: none of them is in the training shards
    tokenizer = TokenStore(store).tokenizer()
    blocks = TokenStore(store).blocks("train", 1)
    train_text = tokenizer.decode(blocks.tokens(0, len(blocks)))
    validation = TokenStore(store).blocks("validation", 1)
    held_out = tokenizer.decode(validation.tokens(0, len(validation))).split(tokenizer.eos_token)
    assert held_out[0] and not any(document and document in train_text for document in held_out)


def test_every_training_token_is_in_exactly_one_block_an_epoch(store):
    stream = TokenStore(store).blocks("train", 1)
    everything = stream.tokens(0, len(stream))
    for block_size in (16, 7):  # any block size from the same store; blocks span shard boundaries
        blocks = TokenStore(store).blocks("train", block_size)
        assert len(blocks) == everything.size // block_size  # the tail shorter than a block is left out
        expected = torch.from_numpy(everything[: len(blocks) * block_size].astype(np.int64)).view(-1, block_size)
        order = list(torch.utils.data.RandomSampler(blocks, generator=torch.Generator().manual_seed(0)))
        assert sorted(order) == list(range(len(blocks)))  # an epoch: each block once
        loader = torch.utils.data.DataLoader(blocks, batch_size=4, sampler=order, num_workers=2)  # workers map
        assert torch.equal(torch.cat([batch["input_ids"] for batch in loader]), expected[order])  # their own shards


def test_resume_after_sigkill_gives_the_uninterrupted_weights(store, tmp_path):
    common = ("--max_steps", "20", "--save_steps", "10", "--learning_rate", "1e-3", "--seed", "5")
    full = tmp_path / "full"
    run_pretraining(train_flags(store, full, *common))
    killed = tmp_path / "killed"
    argv = train_flags(store, killed, *common)
    died = subprocess.run(
        [sys.executable, "-c", KILL_AT_STEP, str(SCRIPTS), "15", *argv], capture_output=True, text=True
    )
    assert died.returncode == -9, died.stderr[-2000:]
    assert last_complete_checkpoint(killed) == killed / "checkpoint-10"
    run_pretraining(argv + ["--resume_from_checkpoint", "last"])
    expected, actual = load_file(full / "model.safetensors"), load_file(killed / "model.safetensors")
    for key in expected:
        torch.testing.assert_close(actual[key], expected[key], atol=0, rtol=0, msg=key)


def test_two_processes_read_disjoint_blocks_and_give_the_losses_of_one(store, tmp_path):
    common = ("--max_steps", "6", "--save_steps", "6", "--learning_rate", "1e-3", "--seed", "3")
    run_pretraining(train_flags(store, tmp_path / "single", *common))
    argv = train_flags(store, tmp_path / "two", *common, "--ddp_backend", "gloo")
    argv[argv.index("--per_device_train_batch_size") + 1] = "4"  # 2 processes x 4 = the global batch of 8
    done = subprocess.run(
        [*TORCHRUN, "--nproc_per_node", "2", "--master_port", free_port(), str(SCRIPTS / "pretrain.py"), *argv],
        capture_output=True,
        text=True,
        env={**ENV, "HF_HOME": str(tmp_path / "hf")},
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    one, two = losses(tmp_path / "single"), losses(tmp_path / "two")
    assert len(one) == len(two) == 6 and max(abs(a - b) for a, b in zip(one, two)) <= 1e-4, (one, two)


def test_a_killed_preparation_continues_from_its_last_complete_shard(corpus, store, tmp_path, monkeypatch):
    written, real_write, real_encode = [], token_store.write_shard, token_store._encode_documents

    def dies_after_two_shards(prefix, tokens, lengths):
        if prefix.name.startswith("train") and len(written) == 3:  # validation, then two training shards
            raise KeyboardInterrupt  # the kill, between two shards
        written.append(prefix.name)
        return real_write(prefix, tokens, lengths)

    monkeypatch.setattr(token_store, "write_shard", dies_after_two_shards)
    with pytest.raises(KeyboardInterrupt):
        prepare(corpus, tmp_path / "store")
    monkeypatch.undo()
    with pytest.raises(DataError, match=r"has no metadata.json: an unfinished preparation \(rerun the same "):
        TokenStore(tmp_path / "store")
    encoded = []

    def counting(tokenizer, texts, dtype):
        encoded.append(len(texts))
        return real_encode(tokenizer, texts, dtype)

    monkeypatch.setattr(token_store, "_encode_documents", counting)
    prepare(corpus, tmp_path / "store")  # the same command again
    metadata = json.loads((tmp_path / "store" / "metadata.json").read_text())
    reference = json.loads((store / "metadata.json").read_text())
    assert metadata["splits"] == reference["splits"]
    for path in sorted(store.glob("*.bin")) + sorted(store.glob("*.idx")):
        assert (tmp_path / "store" / path.name).read_bytes() == path.read_bytes(), path.name
    two_shards = sum(shard["documents"] for shard in reference["splits"]["train"]["shards"][:2])
    assert sum(encoded) == reference["splits"]["train"]["documents"] - two_shards  # the rest only, tokenised


def test_two_tokenising_processes_write_the_same_store(corpus, store, tmp_path):
    prepare(corpus, tmp_path / "parallel", preprocessing_num_workers=2)
    for path in sorted(store.glob("*.bin")) + sorted(store.glob("*.idx")):
        assert (tmp_path / "parallel" / path.name).read_bytes() == path.read_bytes(), path.name


def test_a_store_that_is_incomplete_or_from_another_tokenizer_is_refused_before_any_work(corpus, store, tmp_path):
    from gpt_hf.data.tokenizer import train_tokenizer

    other, _ = train_tokenizer(
        texts=["entirely different text " * 20] * 5, flavour="bytelevel", vocab_size=280, show_progress=False
    )
    other.save_pretrained(tmp_path / "other")
    with pytest.raises(ArgumentError, match=r"--tokenizer_name_or_path: this tokenizer is not the one token store"):
        run_pretraining(train_flags(store, tmp_path / "a", "--tokenizer_name_or_path", str(tmp_path / "other")))
    broken = tmp_path / "broken"
    shutil.copytree(store, broken)
    shard = broken / "train-00001.bin"  # the grammar corpus makes several shards of 3000 tokens
    shard.write_bytes(shard.read_bytes()[:-10])
    with pytest.raises(DataError, match=r"train-00001.bin has \d+ bytes where the metadata says \d+: a truncated"):
        run_pretraining(train_flags(broken, tmp_path / "b"))
    (broken / "metadata.json").unlink()
    with pytest.raises(DataError, match=r"has no metadata.json: not a token store"):
        run_pretraining(train_flags(broken, tmp_path / "c"))
    with pytest.raises(ArgumentError, match=r"--data_dir trains from a prepared token store; --train_files would"):
        run_pretraining(train_flags(store, tmp_path / "d", "--train_files", str(corpus)))
    for name in "abcd":
        assert not (tmp_path / name).exists()
    with pytest.raises(ArgumentError, match="already holds a complete token store"):
        prepare(corpus, store)
