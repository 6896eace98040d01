"""Perplexity, zero/few-shot scoring and generation on a tiny model built here."""

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import gpt_hf
from gpt_hf.data.tokenizer import special_token_ids, train_tokenizer
from gpt_hf.evaluation import scoring
from gpt_hf.evaluation.generation import GenerationArguments, generate_texts, read_prompts
from gpt_hf.evaluation.scoring import (
    MultipleChoiceExample,
    build_fewshot_prompt,
    evaluate_multiple_choice,
    perplexity,
    score_continuations,
)

from conftest import tiny_config

ROOT = Path(__file__).resolve().parents[1]
TEXTS = [
    "The parser reads the file and returns a list of tokens.",
    "A socket closes when the server stops.",
    "Each thread checks the lock before it writes the value.",
] * 10


@pytest.fixture(scope="module")
def lm(tmp_path_factory):
    tokenizer, _ = train_tokenizer(
        texts=TEXTS, flavour="bytelevel", vocab_size=320, show_progress=False, model_max_length=32
    )
    torch.manual_seed(0)
    model = gpt_hf.GPTHFForCausalLM(tiny_config(n_positions=32, **special_token_ids(tokenizer))).eval()
    folder = tmp_path_factory.mktemp("lm")
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return model, tokenizer, folder


def test_perplexity_scores_every_token_once_the_first_after_bos(lm):
    model, tokenizer, _ = lm
    text = TEXTS[0]
    ids = tokenizer(text)["input_ids"]
    stream = torch.tensor([[tokenizer.bos_token_id, *ids]])
    assert stream.shape[1] <= 32 and tokenizer.bos_token_id == tokenizer.eos_token_id
    with torch.no_grad():
        loss = model(stream, labels=stream).loss.item()  # mean over every token of the text, the first included
    result = perplexity(model, tokenizer, [text], show_progress=False)
    assert result["tokens"] == len(ids)
    assert result["loss"] == pytest.approx(loss, rel=1e-5)
    assert result["perplexity"] == pytest.approx(math.exp(loss), rel=1e-5)
    assert result["bits_per_byte"] == pytest.approx(loss * result["tokens"] / math.log(2) / len(text.encode()))


def lm_eval_rolling_windows(token_list, prefix_token, max_seq_len, context_len):
    """lm-evaluation-harness's `utils.get_rolling_token_windows` (MIT licence), as its HFLM.loglikelihood_rolling
    calls it (context_len=1): (input tokens, predicted tokens) pairs."""
    pred_len = max_seq_len - context_len + 1
    predicted = 0
    first_seq_len = min(max_seq_len, len(token_list))
    yield [prefix_token] + token_list[: first_seq_len - 1], token_list[:first_seq_len]
    predicted += first_seq_len
    while predicted < len(token_list):
        window_pred_len = min(len(token_list) - predicted, pred_len)
        window_end = predicted + window_pred_len
        yield (
            token_list[window_end - max_seq_len - 1 : window_end - 1],
            token_list[window_end - window_pred_len : window_end],
        )
        predicted += window_pred_len


def test_default_stride_equals_lm_evaluation_harness_loglikelihood_rolling(lm):
    model, tokenizer, _ = lm
    texts = [" ".join(TEXTS[:7]), TEXTS[1], "A"]
    total, count = 0.0, 0
    with torch.no_grad():
        for text in texts:
            ids = tokenizer(text)["input_ids"]
            for inputs, predicted in lm_eval_rolling_windows(ids, tokenizer.bos_token_id, 32, context_len=1):
                logprobs = model(torch.tensor([inputs])).logits.log_softmax(-1)[0, -len(predicted) :]
                total += logprobs.gather(-1, torch.tensor(predicted)[:, None]).sum().item()
                count += len(predicted)
    assert len(tokenizer(texts[0])["input_ids"]) > 64  # several windows
    result = perplexity(model, tokenizer, texts, show_progress=False)
    assert result["tokens"] == count == sum(len(tokenizer(t)["input_ids"]) for t in texts)
    assert result["loss"] == pytest.approx(-total / count, rel=1e-5)


@pytest.mark.parametrize("stride", [1, 8, 31, 32])
def test_any_stride_scores_each_token_once_with_at_least_window_minus_stride_context(stride):
    ids, window = list(range(100, 190)), 32
    rows = scoring.rolling_windows(ids, prefix=0, window=window, stride=stride)
    scored = [token for row, count in rows for token in row[-count:]]
    assert scored == ids  # every token once, in order
    for row, count in rows:
        assert len(row) <= window + 1
        first_context = len(row) - count  # tokens before the row's first scored token
        position = ids.index(row[-count]) + 1  # its index in [prefix] + ids
        assert first_context >= min(window - stride, position)


def test_smaller_stride_gives_more_context_on_a_trained_pattern(lm):
    model, tokenizer, _ = lm
    text = " ".join(TEXTS[:6])
    coarse = perplexity(model, tokenizer, [text], stride=32, show_progress=False)
    fine = perplexity(model, tokenizer, [text], stride=8, show_progress=False)
    assert fine["tokens"] == coarse["tokens"] == len(tokenizer(text)["input_ids"])


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
    monkeypatch.setattr(scoring, "score_continuations", lambda *a, **k: [-2.0, -4.0])
    example = MultipleChoiceExample("prompt", [" a", " bbbbbbbbbbb"], label=1)
    result = evaluate_multiple_choice(None, None, [example], pool=[], num_fewshot=0, show_progress=False)
    assert (result["acc"], result["acc_norm"]) == (0.0, 1.0)


def test_demonstrations_come_from_the_pool_with_a_seed(monkeypatch):
    seen = []
    monkeypatch.setattr(
        scoring,
        "score_continuations",
        lambda m, t, requests, *a, **k: seen.extend(requests) or [0.0] * len(requests),
    )
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
        evaluate_multiple_choice(
            model,
            tokenizer,
            [MultipleChoiceExample("q", [" a"], 0)],
            [MultipleChoiceExample("q", [" a"], 0)] * 2,
            num_fewshot=5,
            show_progress=False,
        )
    with pytest.raises(ValueError, match="Example 0 has an empty candidate list"):
        evaluate_multiple_choice(model, tokenizer, [MultipleChoiceExample("q", [], 0)], [], show_progress=False)
    long_prompt = " ".join(TEXTS[:5])
    with pytest.raises(
        ValueError, match=r"more than the model's context of 32 \(\+1 predicted\); .* truncate_left=True"
    ):
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
    streamed = generate_texts(
        model,
        tokenizer,
        ["The parser"],
        GenerationArguments(model_name_or_path="x", max_new_tokens=8, do_sample=True, top_k=20, seed=3, stream=True),
    )
    assert streamed == first
    assert capsys.readouterr().out.strip() == first[0].strip()


def test_left_padded_prompt_batch_equals_single_prompts(lm):
    model, tokenizer, _ = lm
    args = GenerationArguments(model_name_or_path="x", max_new_tokens=6, num_beams=1)
    prompts = ["The parser reads the file", "A"]
    batch = generate_texts(model, tokenizer, prompts, args)
    assert batch == [generate_texts(model, tokenizer, [p], args)[0] for p in prompts]
    beams = generate_texts(
        model,
        tokenizer,
        prompts,
        GenerationArguments(model_name_or_path="x", max_new_tokens=4, num_beams=3, repetition_penalty=1.3),
    )
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
        "one",
        "two",
    ]
    import io

    assert read_prompts(GenerationArguments(model_name_or_path="x"), stdin=io.StringIO("from stdin\n")) == [
        "from stdin"
    ]
    with pytest.raises(ValueError, match="No prompt given"):
        read_prompts(GenerationArguments(model_name_or_path="x"), stdin=io.StringIO(""))


def test_empty_prompt_generates_from_bos_and_plain_generate_needs_no_prompt(lm):
    model, tokenizer, _ = lm
    args = GenerationArguments(model_name_or_path="x", max_new_tokens=5, prompts=[""])
    assert read_prompts(args) == [""]
    texts = generate_texts(model, tokenizer, ["", "The parser"], args)
    assert len(texts) == 2 and texts[1].startswith("The parser")
    with torch.no_grad():
        ids = tokenizer("", return_tensors="pt")["input_ids"]
        from_bos = model.generate(torch.tensor([[tokenizer.bos_token_id]]), max_new_tokens=5, do_sample=False)
        no_prompt = model.generate(max_new_tokens=5, do_sample=False, bos_token_id=tokenizer.bos_token_id)
    assert ids.shape[1] == 0 and torch.equal(from_bos, no_prompt)
    assert texts[0] == tokenizer.decode(from_bos[0], skip_special_tokens=True)


def test_compiled_static_cache_decoding_gives_the_eager_tokens(lm):
    model, tokenizer, _ = lm
    eager = generate_texts(
        model, tokenizer, ["The parser", "A"], GenerationArguments(model_name_or_path="x", max_new_tokens=6)
    )
    compiled = generate_texts(
        model,
        tokenizer,
        ["The parser", "A"],
        GenerationArguments(model_name_or_path="x", max_new_tokens=6, compile=True, compile_backend="aot_eager"),
    )
    assert compiled == eager


def test_saved_lm_tokenizer_pads_left_so_batched_generate_equals_one_at_a_time(lm):
    from transformers import AutoTokenizer

    model, _, folder = lm
    tokenizer = AutoTokenizer.from_pretrained(folder)
    prompts = ["The parser reads the file", "A"]
    batch = tokenizer(prompts, return_tensors="pt", padding=True)
    with torch.no_grad():
        together = model.generate(**batch, max_new_tokens=6, do_sample=False, pad_token_id=tokenizer.pad_token_id)
        alone = [
            model.generate(**tokenizer(p, return_tensors="pt"), max_new_tokens=6, do_sample=False) for p in prompts
        ]
    decoded = tokenizer.batch_decode(together, skip_special_tokens=True)
    assert decoded == [tokenizer.decode(a[0], skip_special_tokens=True) for a in alone]


def test_folder_checks_before_evaluation_and_generation(lm, tmp_path):
    import shutil

    from gpt_hf.evaluation.evaluate import EvaluationArguments, evaluate_folder
    from gpt_hf.evaluation.generation import generate_from_folder

    model, tokenizer, folder = lm
    mismatched = tmp_path / "mismatched"
    gpt_hf.GPTHFForCausalLM(
        tiny_config(
            n_positions=32,
            vocab_size=1000,
            **{k: v for k, v in special_token_ids(tokenizer).items() if k != "vocab_size"},
        )
    ).save_pretrained(mismatched)
    tokenizer.save_pretrained(mismatched)
    with pytest.raises(ValueError, match=r"tokenizer has 320 tokens but config.vocab_size=1000"):
        evaluate_folder(EvaluationArguments(model_name_or_path=str(mismatched), tasks=[]))
    truncated = tmp_path / "truncated"
    shutil.copytree(folder, truncated)
    (truncated / "model.safetensors").write_bytes((folder / "model.safetensors").read_bytes()[:100])
    with pytest.raises(ValueError, match=r"truncated/model.safetensors is incomplete or corrupt"):
        generate_from_folder(GenerationArguments(model_name_or_path=str(truncated), prompts=["The"]))
    (truncated / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"truncated/config.json is not valid JSON"):
        generate_from_folder(GenerationArguments(model_name_or_path=str(truncated), prompts=["The"]))
    for bad, match in [
        (dict(temperature=0.0), "--temperature must be > 0"),
        (dict(top_p=1.5), "--top_p must be in"),
        (dict(num_beams=0), "--num_beams must be >= 1"),
        (dict(top_k=-1), "--top_k must be >= 0"),
        (dict(prompt_file=str(tmp_path / "none.txt")), "--prompt_file .*none.txt does not exist"),
    ]:
        with pytest.raises(ValueError, match=match):
            GenerationArguments(model_name_or_path="x", **bad)
    for bad, match in [
        (dict(batch_size=0), "--batch_size must be >= 1"),
        (dict(stride=0), "--stride must be >= 1"),
        (dict(output_file=str(tmp_path / "no" / "r.json")), "its folder .* does not exist"),
        (dict(output_file=str(tmp_path)), "is a folder; give a file path"),
    ]:
        with pytest.raises((ValueError, OSError), match=match):
            EvaluationArguments(model_name_or_path="x", **bad)


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
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "generate.py"),
            "--model_name_or_path",
            str(folder),
            "--prompts",
            "The parser",
            "A socket",
            "--max_new_tokens",
            "5",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "The parser" in done.stdout and "A socket" in done.stdout
    results_file = tmp_path / "results.json"
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "evaluate.py"),
            "--model_name_or_path",
            str(long_context),
            "--max_examples",
            "6",
            "--num_fewshot",
            "0",
            "1",
            "--output_file",
            str(results_file),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    results = json.loads(results_file.read_text())
    assert {
        "perplexity",
        "continuation/0-shot",
        "continuation/1-shot",
        "acceptability/1-shot",
        "acceptability/gpt1_threshold_zero_shot",
    } <= set(results)
    assert 0.0 <= results["continuation/1-shot"]["acc_norm"] <= 1.0


def hand_loglikelihood(model, tokenizer, prompt: str, continuation: str) -> float:
    """log p(continuation | prompt), token by token, from one forward pass of the plain model."""
    context = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    target = tokenizer(continuation, add_special_tokens=False)["input_ids"]
    ids = torch.tensor([context + target])
    with torch.no_grad():
        logprobs = torch.log_softmax(model(ids).logits[0], dim=-1)
    return sum(logprobs[len(context) - 1 + i, token].item() for i, token in enumerate(target))


def write_rows(path: Path, rows: list[dict]) -> str:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return str(path)


def test_template_and_verbalisers_score_the_hand_computed_log_likelihood(lm, tmp_path):
    model, tokenizer, _ = lm
    from gpt_hf.evaluation.evaluate import EvaluationArguments, run_evaluation
    from gpt_hf.evaluation.scoring import score_examples, template_examples

    rows = [
        {"sentence": "The parser reads", "name": "file", "answer": "yes"},
        {"sentence": "A socket closes", "name": "server", "answer": "0"},
    ]
    task = write_rows(tmp_path / "task.jsonl", rows)
    template, choices = "{sentence} the {name}. Ok?", [" no", " yes"]
    import datasets

    examples = template_examples(datasets.Dataset.from_list(rows), template, choices, "answer")
    assert [e.prompt for e in examples] == ["The parser reads the file. Ok?", "A socket closes the server. Ok?"]
    assert [e.label for e in examples] == [1, 0]  # the choice by name, or its index
    scores = score_examples(model, tokenizer, examples, [], show_progress=False)
    expected = [[hand_loglikelihood(model, tokenizer, e.prompt, c) for c in choices] for e in examples]
    assert scores == [pytest.approx(row, abs=1e-4) for row in expected]

    # the same through scripts/evaluate.py's arguments: acc is the argmax of the hand-computed scores
    fewshot = write_rows(tmp_path / "train.jsonl", [{"sentence": "Each thread", "name": "lock", "answer": "1"}] * 3)
    args = EvaluationArguments(
        model_name_or_path="unused",
        task_file=task,
        template=template,
        choices=choices,
        label_column="answer",
        fewshot_file=fewshot,
        num_fewshot=[0, 2],
    )
    results = run_evaluation(model, tokenizer, args)
    assert set(results) == {"task/0-shot", "task/2-shot"}  # no built-in task or perplexity unless asked
    hits = [max(range(2), key=row.__getitem__) == e.label for row, e in zip(expected, examples)]
    assert results["task/0-shot"]["acc"] == sum(hits) / 2


def test_gpt1_sentiment_heuristic_compares_positive_and_negative_after_very(lm, tmp_path):
    model, tokenizer, _ = lm
    from gpt_hf.evaluation.evaluate import EvaluationArguments, run_evaluation

    rows = [{"review": "The parser reads the file", "label": "positive"}, {"review": "A socket closes", "label": "0"}]
    args = EvaluationArguments(
        model_name_or_path="unused",
        task_file=write_rows(tmp_path / "sst.jsonl", rows),
        sentiment_heuristic=True,
        text_column="review",
        num_fewshot=[0],
    )
    assert (args.template, args.choices) == ("{review} very", [" negative", " positive"])
    results = run_evaluation(model, tokenizer, args)
    labels = [1, 0]
    predictions = [
        int(
            hand_loglikelihood(model, tokenizer, row["review"] + " very", " positive")
            > hand_loglikelihood(model, tokenizer, row["review"] + " very", " negative")
        )
        for row in rows
    ]
    assert results["sst/0-shot"]["acc"] == sum(p == y for p, y in zip(predictions, labels)) / 2


@pytest.mark.parametrize(
    "extra, rows, match",
    [
        ({}, [{"text": "x", "label": 2}], r"Row 0 of .* has label 2: give the index of the right choice \(0 to 1\)"),
        ({}, [{"text": "x", "label": "maybe"}], r"has label 'maybe'.* or one of \['no', 'yes'\]"),
        ({"template": "{body}?"}, [{"text": "x", "label": 0}], r"--template names \['body'\], which are not columns"),
        ({"label_column": "gold"}, [{"text": "x", "label": 0}], r"--label_column 'gold' is not a column"),
    ],
)
def test_template_evaluation_errors_name_the_problem(lm, tmp_path, extra, rows, match):
    from gpt_hf.evaluation.evaluate import EvaluationArguments, run_evaluation

    options = {"template": "{text}?", "choices": [" no", " yes"], **extra}
    args = EvaluationArguments(
        model_name_or_path="unused", task_file=write_rows(tmp_path / "t.jsonl", rows), num_fewshot=[0], **options
    )
    with pytest.raises(ValueError, match=match):
        run_evaluation(lm[0], lm[1], args)
    with pytest.raises(ValueError, match="--num_fewshot 1 with --task_file needs --fewshot_file"):
        EvaluationArguments(model_name_or_path="unused", task_file="t.jsonl", num_fewshot=[1], **options)
    with pytest.raises(ValueError, match="apply to --task_file"):
        EvaluationArguments(model_name_or_path="unused", template="{text}")
    typed = EvaluationArguments(
        model_name_or_path="unused",
        task_file="t.jsonl",
        template=r"Q: {text}\nA:",
        choices=[" no", " yes"],
        num_fewshot=[0],
    )
    assert typed.template == "Q: {text}\nA:"  # a backslash-n typed on the command line is a newline
