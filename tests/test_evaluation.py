"""Perplexity, zero/few-shot scoring and generation on a tiny model built here."""

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import gpt_hf
from gpt_hf import evaluation
from gpt_hf.evaluation import (
    MultipleChoiceExample,
    build_fewshot_prompt,
    evaluate_multiple_choice,
    perplexity,
    score_continuations,
)
from gpt_hf.generation import GenerationArguments, generate_texts, read_prompts
from gpt_hf.tokenization import special_token_ids, train_tokenizer

from conftest import tiny_config

ROOT = Path(__file__).resolve().parents[1]
TEXTS = ["The parser reads the file and returns a list of tokens.", "A socket closes when the server stops.",
         "Each thread checks the lock before it writes the value."] * 10


@pytest.fixture(scope="module")
def lm(tmp_path_factory):
    tokenizer, _ = train_tokenizer(texts=TEXTS, flavour="bytelevel", vocab_size=320, show_progress=False,
                                   model_max_length=32)
    torch.manual_seed(0)
    model = gpt_hf.GPTHFForCausalLM(tiny_config(n_positions=32, **special_token_ids(tokenizer))).eval()
    folder = tmp_path_factory.mktemp("lm")
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return model, tokenizer, folder


def test_perplexity_is_exp_of_the_mean_token_loss(lm):
    model, tokenizer, _ = lm
    text = TEXTS[0]
    ids = torch.tensor([tokenizer(text)["input_ids"]])
    assert ids.shape[1] <= 32
    with torch.no_grad():
        loss = model(ids, labels=ids).loss.item()
    result = perplexity(model, tokenizer, [text], show_progress=False)
    assert result["tokens"] == ids.shape[1] - 1
    assert result["loss"] == pytest.approx(loss, rel=1e-5)
    assert result["perplexity"] == pytest.approx(math.exp(loss), rel=1e-5)
    assert result["bits_per_byte"] == pytest.approx(loss * result["tokens"] / math.log(2) / len(text.encode()))


def test_sliding_window_with_stride_equal_to_context_is_non_overlapping_chunks(lm):
    model, tokenizer, _ = lm
    text = " ".join(TEXTS[:6])
    ids = tokenizer(text)["input_ids"]
    assert len(ids) > 64
    nll, count = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(ids), 32):
            chunk = torch.tensor([ids[start: start + 32]])
            if chunk.shape[1] < 2:
                continue
            nll += model(chunk, labels=chunk).loss.item() * (chunk.shape[1] - 1)
            count += chunk.shape[1] - 1
    result = perplexity(model, tokenizer, [text], stride=32, show_progress=False)
    assert result["tokens"] == count
    assert result["loss"] == pytest.approx(nll / count, rel=1e-5)
    # a smaller stride scores every token but the first exactly once, with more context
    overlapping = perplexity(model, tokenizer, [text], stride=8, show_progress=False)
    assert overlapping["tokens"] == len(ids) - 1


def test_batched_scores_equal_one_by_one(lm):
    model, tokenizer, _ = lm
    requests = [(TEXTS[i % 3][:20], " value") for i in range(5)] + [("", "The parser"), ("A", " socket closes.")]
    batched = score_continuations(model, tokenizer, requests, batch_size=16, show_progress=False)
    single = [score_continuations(model, tokenizer, [r], batch_size=1, show_progress=False)[0] for r in requests]
    assert batched == pytest.approx(single, abs=1e-4)


def test_fewshot_prompt_layout_is_exact():
    prompt = build_fewshot_prompt("Q3 ->", [("Q1 ->", " A1"), ("Q2 ->", " A2")], separator="\n###\n")
    assert prompt == "Q1 -> A1\n###\nQ2 -> A2\n###\nQ3 ->"
    assert build_fewshot_prompt("Q ->", []) == "Q ->"


def test_acc_and_acc_norm_disagree_on_a_constructed_example(monkeypatch):
    # candidate 0: short, higher total log-prob; candidate 1: long, higher log-prob per character
    monkeypatch.setattr(evaluation, "score_continuations", lambda *a, **k: [-2.0, -4.0])
    example = MultipleChoiceExample("prompt", [" a", " bbbbbbbbbbb"], label=1)
    result = evaluate_multiple_choice(None, None, [example], pool=[], num_fewshot=0, show_progress=False)
    assert (result["acc"], result["acc_norm"]) == (0.0, 1.0)


def test_demonstrations_come_from_the_pool_with_a_seed(monkeypatch):
    seen = []
    monkeypatch.setattr(evaluation, "score_continuations", lambda m, t, requests, *a, **k: seen.extend(requests)
                        or [0.0] * len(requests))
    pool = [MultipleChoiceExample(f"P{i}:", [" x", " y"], label=i % 2) for i in range(10)]
    example = MultipleChoiceExample("Q:", [" x", " y"], label=0)
    evaluate_multiple_choice(None, None, [example], pool, num_fewshot=2, seed=7, separator=" | ", show_progress=False)
    first = seen[0][0]
    assert first.endswith(" | Q:") and first.count(" | ") == 2
    seen.clear()
    evaluate_multiple_choice(None, None, [example], pool, num_fewshot=2, seed=7, separator=" | ", show_progress=False)
    assert seen[0][0] == first


def test_scoring_errors(lm):
    model, tokenizer, _ = lm
    with pytest.raises(ValueError, match=r"num_fewshot=5 is larger than the demonstration pool \(2 examples\)"):
        evaluate_multiple_choice(model, tokenizer, [MultipleChoiceExample("q", [" a"], 0)],
                                 [MultipleChoiceExample("q", [" a"], 0)] * 2, num_fewshot=5, show_progress=False)
    with pytest.raises(ValueError, match="Example 0 has an empty candidate list"):
        evaluate_multiple_choice(model, tokenizer, [MultipleChoiceExample("q", [], 0)], [], show_progress=False)
    long_prompt = " ".join(TEXTS[:5])
    with pytest.raises(ValueError, match=r"more than the model's context of 32; .* truncate_left=True"):
        score_continuations(model, tokenizer, [(long_prompt, " value")], show_progress=False)
    kept = score_continuations(model, tokenizer, [(long_prompt, " value")], truncate_left=True, show_progress=False)
    assert math.isfinite(kept[0])
    with pytest.raises(ValueError, match="A candidate of .* tokens does not fit the model's context of 32"):
        score_continuations(model, tokenizer, [("q", " " + long_prompt)], truncate_left=True, show_progress=False)
    with pytest.raises(ValueError, match="Empty continuation"):
        score_continuations(model, tokenizer, [("q", "")], show_progress=False)


def test_generation_is_reproducible_and_streaming_prints_the_same_text(lm, capsys):
    model, tokenizer, _ = lm
    args = GenerationArguments(model_name_or_path="x", max_new_tokens=8, do_sample=True, top_k=20, seed=3)
    first = generate_texts(model, tokenizer, ["The parser"], args)
    assert generate_texts(model, tokenizer, ["The parser"], args) == first
    capsys.readouterr()
    streamed = generate_texts(model, tokenizer, ["The parser"], GenerationArguments(
        model_name_or_path="x", max_new_tokens=8, do_sample=True, top_k=20, seed=3, stream=True))
    assert streamed == first
    assert capsys.readouterr().out.strip() == first[0].strip()


def test_left_padded_prompt_batch_equals_single_prompts(lm):
    model, tokenizer, _ = lm
    args = GenerationArguments(model_name_or_path="x", max_new_tokens=6, num_beams=1)
    prompts = ["The parser reads the file", "A"]
    batch = generate_texts(model, tokenizer, prompts, args)
    assert batch == [generate_texts(model, tokenizer, [p], args)[0] for p in prompts]
    beams = generate_texts(model, tokenizer, prompts, GenerationArguments(model_name_or_path="x", max_new_tokens=4,
                                                                          num_beams=3, repetition_penalty=1.3))
    assert len(beams) == 2 and all(b.startswith(p) for b, p in zip(beams, prompts))


def test_generation_errors_and_prompt_sources(lm, tmp_path):
    model, tokenizer, _ = lm
    args = GenerationArguments(model_name_or_path="x", max_new_tokens=20)
    with pytest.raises(ValueError, match=r"must be at most 12 \(context 32\)\. Shorten it or pass --truncate_prompt"):
        generate_texts(model, tokenizer, [" ".join(TEXTS[:2])], args)
    args.truncate_prompt = True
    assert len(generate_texts(model, tokenizer, [" ".join(TEXTS[:2])], args)) == 1
    with pytest.raises(ValueError, match="--stream .* --num_beams"):
        GenerationArguments(model_name_or_path="x", stream=True, num_beams=2)
    (tmp_path / "prompts.txt").write_text("one\n\ntwo\n")
    assert read_prompts(GenerationArguments(model_name_or_path="x", prompt_file=str(tmp_path / "prompts.txt"))) == [
        "one", "two"]
    import io

    assert read_prompts(GenerationArguments(model_name_or_path="x"), stdin=io.StringIO("from stdin\n")) == [
        "from stdin"]
    with pytest.raises(ValueError, match="No prompt given"):
        read_prompts(GenerationArguments(model_name_or_path="x"), stdin=io.StringIO(""))


def test_text_generation_pipeline(lm):
    from transformers import pipeline

    _, _, folder = lm
    generator = pipeline("text-generation", model=str(folder), device="cpu")
    out = generator("The parser", max_new_tokens=5, do_sample=False)
    assert out[0]["generated_text"].startswith("The parser")


def test_generate_and_evaluate_scripts(lm, tmp_path):
    _, tokenizer, folder = lm
    long_context = tmp_path / "long-context"  # the built-in tasks' sentences need more than 32 positions
    gpt_hf.GPTHFForCausalLM(tiny_config(n_positions=512, **special_token_ids(tokenizer))).save_pretrained(long_context)
    tokenizer.save_pretrained(long_context)
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "generate.py"), "--model_name_or_path",
                           str(folder), "--prompts", "The parser", "A socket", "--max_new_tokens", "5"],
                          capture_output=True, text=True, check=True)
    assert "The parser" in done.stdout and "A socket" in done.stdout
    results_file = tmp_path / "results.json"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "evaluate.py"), "--model_name_or_path", str(long_context),
                    "--max_examples", "6", "--num_fewshot", "0", "1", "--output_file", str(results_file)],
                   capture_output=True, text=True, check=True)
    results = json.loads(results_file.read_text())
    assert {"perplexity", "continuation/0-shot", "continuation/1-shot", "acceptability/1-shot",
            "acceptability/gpt1_threshold_zero_shot"} <= set(results)
    assert 0.0 <= results["continuation/1-shot"]["acc_norm"] <= 1.0
