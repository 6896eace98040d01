"""gpt_hf with the tools people already run, without workarounds: PEFT LoRA from a task type alone, TRL's SFTTrainer
(defaults, padding-free packing, a chat dataset), pipelines on text longer than the context, quantisation (torchao
int8 weight-only, bitsandbytes 8-bit) and `transformers serve` (scripts/serve.py). Each tool that is not installed
is skipped with the reason; the lock installs them all."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
import torch
from datasets import Dataset

import gpt_hf
from gpt_hf.data.templates import with_chat_template
from gpt_hf.data.tokenizer import special_token_ids, train_tokenizer

from conftest import ROOT, SCRIPTS, random_ids, tiny_config
from test_finetuning import prose

WORDS = " ".join(prose(7, 30)).split()


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A tiny pre-LN language model with a gpt_hf tokenizer (context 64), saved as pretraining saves it."""
    path = tmp_path_factory.mktemp("lm")
    tokenizer, _ = train_tokenizer(texts=prose(0, 60), flavour="bytelevel", vocab_size=320, show_progress=False)
    model = gpt_hf.GPTHFForCausalLM(
        tiny_config(
            norm_position="pre",
            initializer_range=0.3,  # decisive (conftest)
            **special_token_ids(tokenizer),
        )
    )
    model.save_pretrained(path)
    gpt_hf.data.tokenizer.save_tokenizer(tokenizer, path, model.config)
    return path


def load(folder, auto="AutoModelForCausalLM", **kwargs):
    import transformers

    return getattr(transformers, auto).from_pretrained(folder, **kwargs), transformers.AutoTokenizer.from_pretrained(
        folder
    )


def test_the_saved_tokenizer_truncates_at_the_models_context(folder):
    _, tokenizer = load(folder)
    assert tokenizer.model_max_length == 64
    assert len(tokenizer(" ".join(WORDS), truncation=True)["input_ids"]) == 64


@pytest.mark.parametrize(
    "task_type, auto", [("CAUSAL_LM", "AutoModelForCausalLM"), ("SEQ_CLS", "AutoModelForSequenceClassification")]
)
def test_peft_lora_needs_only_the_task_type(folder, task_type, auto):
    peft = pytest.importorskip("peft")
    model, _ = load(folder, auto, **({"num_labels": 2} if task_type == "SEQ_CLS" else {}))
    lora = peft.get_peft_model(model, peft.LoraConfig(task_type=task_type, r=4))  # no target_modules
    wrapped = {name.split(".lora_A")[0].split(".")[-1] for name, _ in lora.named_parameters() if "lora_A" in name}
    assert wrapped == {"c_attn"}, wrapped  # GPT-2's choice: the fused q/k/v projection
    ids = torch.cat([random_ids(2, 8), torch.full((2, 1), model.config.extract_token_id)], dim=1)
    out = lora(input_ids=ids, labels=ids if task_type == "CAUSAL_LM" else torch.tensor([0, 1]))
    out.loss.backward()
    assert all(p.grad is not None for n, p in lora.named_parameters() if "lora_" in n)


def _sft(folder, tmp_path, dataset, **options):
    trl = pytest.importorskip("trl")
    model, tokenizer = load(folder)
    config = trl.SFTConfig(
        output_dir=str(tmp_path / "sft"),
        max_steps=2,
        per_device_train_batch_size=2,
        report_to="none",
        use_cpu=True,
        save_strategy="no",
        logging_steps=1,
        **options,
    )
    trainer = trl.SFTTrainer(model=model, args=config, train_dataset=dataset, processing_class=tokenizer)
    return trainer, trainer.train()


def test_trl_sft_with_defaults_names_the_max_length_to_set_and_trains_with_it(folder, tmp_path):
    long_rows = Dataset.from_dict({"text": [" ".join(WORDS[i : i + 120]) for i in range(0, 480, 120)]})
    with pytest.raises(ValueError, match=r"with TRL, SFTConfig\(max_length=64\)"):
        _sft(folder, tmp_path, long_rows)  # TRL's default max_length is 1024: it never reads the tokenizer
    _, result = _sft(folder, tmp_path, long_rows, max_length=64)
    assert result.global_step == 2 and result.training_loss > 0


def test_trl_padding_free_packing_trains_rows_joined_beyond_the_context(folder, tmp_path):
    rows = Dataset.from_dict({"text": [" ".join(WORDS[i : i + 12]) for i in range(0, 240, 12)]})
    trainer, result = _sft(folder, tmp_path, rows, max_length=64, packing=True)  # bfd, position ids restart
    assert result.global_step == 2
    batch = next(iter(trainer.get_train_dataloader()))
    assert batch["input_ids"].shape == (1, batch["position_ids"].shape[-1]) and batch["input_ids"].shape[-1] > 64
    assert int(batch["position_ids"].max()) < 64  # documents joined in one row, positions restarting per document


def test_a_chat_fine_tune_keeps_its_template_and_renders_a_conversation(folder, tmp_path):
    conversations = [
        [
            {"role": "user", "content": " ".join(WORDS[i : i + 5])},
            {"role": "assistant", "content": " ".join(WORDS[i + 5 : i + 9])},
        ]
        for i in range(0, 120, 10)
    ]
    model, tokenizer = load(folder)
    with_chat_template(tokenizer)
    trl = pytest.importorskip("trl")
    config = trl.SFTConfig(
        output_dir=str(tmp_path / "chat"),
        max_steps=2,
        per_device_train_batch_size=2,
        report_to="none",
        use_cpu=True,
        save_strategy="no",
        max_length=64,
        assistant_only_loss=True,
    )
    trainer = trl.SFTTrainer(
        model=model,
        args=config,
        train_dataset=Dataset.from_dict({"messages": conversations}),
        processing_class=tokenizer,
    )
    trainer.train()
    trainer.save_model(tmp_path / "chat-model")
    import transformers

    saved = transformers.AutoTokenizer.from_pretrained(tmp_path / "chat-model")
    rendered = saved.apply_chat_template(conversations[0], tokenize=False, add_generation_prompt=False)
    assert rendered == (
        f"<|start|>user<|delimiter|>{conversations[0][0]['content']}<|endoftext|>"
        f"<|start|>assistant<|delimiter|>{conversations[0][1]['content']}<|endoftext|>"
    )


def test_pipeline_classifies_text_longer_than_the_context(folder):
    import transformers

    from gpt_hf.data.templates import with_task_template

    model, tokenizer = load(folder, "AutoModelForSequenceClassification", num_labels=2)
    classify = transformers.pipeline("text-classification", model=model, tokenizer=with_task_template(tokenizer))
    [result] = classify(" ".join(WORDS[:300]), truncation=True)
    assert result["label"] in model.config.id2label.values()


def test_torchao_int8_weight_only_quantises_the_whole_model_lm_head_included(folder):
    torchao = pytest.importorskip("torchao")
    from torchao.quantization import Int8WeightOnlyConfig, quantize_

    model, _ = load(folder)
    ids = random_ids(2, 10)
    with torch.no_grad():
        reference = model(ids).logits
        quantize_(model, Int8WeightOnlyConfig())  # the tied head gets its own int8 copy; the embedding stays
        for batch in (1, 2, 8):  # the LM head's path at every decoding batch size
            model(random_ids(batch, 3))
        quantised = model(ids).logits
    assert type(model.lm_head.weight).__name__ == "Int8Tensor", type(model.lm_head.weight)
    assert (quantised - reference).abs().max() < 0.05 * reference.abs().max() + 1e-3
    assert torchao.__version__


def test_bitsandbytes_8bit_loads_and_runs_on_cpu(folder):
    pytest.importorskip("bitsandbytes")
    import transformers

    model = transformers.AutoModelForCausalLM.from_pretrained(
        folder, quantization_config=transformers.BitsAndBytesConfig(load_in_8bit=True), device_map="cpu"
    )
    with torch.no_grad():
        assert torch.isfinite(model(random_ids(1, 6)).logits).all()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("continuous_batching", [False, True], ids=["plain", "continuous-batching"])
def test_transformers_serve_answers_a_completion_request(folder, tmp_path, continuous_batching):
    from transformers.utils.import_utils import is_serve_available

    if not is_serve_available():
        pytest.skip("transformers serve needs fastapi, uvicorn, pydantic and openai (transformers[serving])")
    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            str(SCRIPTS / "serve.py"),
            "--model_dir",
            str(folder),
            "--port",
            str(port),
            "--continuous_batching",
            str(continuous_batching).lower(),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")},
    )
    try:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/completions",
            method="POST",
            headers={"Content-Type": "application/json"},
            data=json.dumps({"model": str(folder), "prompt": "The parser", "max_tokens": 5}).encode(),
        )
        deadline, answer = time.time() + 120, None
        while answer is None and time.time() < deadline and server.poll() is None:
            try:
                answer = json.loads(urllib.request.urlopen(request, timeout=60).read())
            except OSError:
                time.sleep(1)
        assert answer is not None, server.stdout.read() if server.poll() is not None else "no answer in 120 s"
        model, tokenizer = load(folder)
        prompt = tokenizer("The parser", return_tensors="pt")
        greedy = model.generate(**prompt, max_new_tokens=5, do_sample=False)[0, prompt["input_ids"].shape[1] :]
        assert answer["choices"][0]["text"] == tokenizer.decode(greedy), answer  # the server's tokens are generate's
    finally:
        server.terminate()
        server.wait(timeout=30)
