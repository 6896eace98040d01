"""The paper's task input transformations, token by token, and the padding collator."""

import pytest
import torch

from gpt_hf import GPTHFForMultipleChoice, GPTHFForSequenceClassification
from gpt_hf.data.tokenizer import special_token_ids, train_tokenizer
from gpt_hf.tasks.transforms import IGNORE_INDEX, TaskCollator, TaskTransform, fit_lengths

from conftest import tiny_config

CORPUS = ["the cat sat on the mat", "a dog ran to the park", "is it raining today", "yes it is"] * 20
S, D, E, PAD = 2, 3, 4, 1  # start, delimiter, extract, pad ids of a gpt_hf-trained tokenizer


@pytest.fixture(scope="module")
def tokenizer():
    return train_tokenizer(texts=CORPUS, flavour="bytelevel", vocab_size=300, show_progress=False)[0]


def ids(tokenizer, text):
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def test_layouts_token_by_token(tokenizer):
    transform = TaskTransform(tokenizer, max_length=64)
    cat, dog = ids(tokenizer, "the cat sat"), ids(tokenizer, "a dog ran")
    assert transform.classification("the cat sat")["input_ids"] == [S, *cat, E]
    assert transform.entailment("the cat sat", "a dog ran")["input_ids"] == [S, *cat, D, *dog, E]
    assert transform.similarity("the cat sat", "a dog ran")["input_ids"] == [
        [S, *cat, D, *dog, E],
        [S, *dog, D, *cat, E],
    ]
    yes, no = ids(tokenizer, "yes"), ids(tokenizer, "no")
    assert transform.multiple_choice("is it raining", ["yes", "no"])["input_ids"] == [
        [S, *ids(tokenizer, "is it raining"), D, *yes, E],
        [S, *ids(tokenizer, "is it raining"), D, *no, E],
    ]


def test_batched_form_equals_single_examples_and_works_in_datasets_map(tokenizer):
    datasets = pytest.importorskip("datasets")
    transform = TaskTransform(tokenizer, max_length=32)
    premises, hypotheses = ["the cat sat", "a dog ran to the park"], ["yes it is", "is it"]
    batch = transform.entailment(premises, hypotheses)["input_ids"]
    assert batch == [transform.entailment(p, h)["input_ids"] for p, h in zip(premises, hypotheses)]
    data = datasets.Dataset.from_dict(
        {"context": ["is it raining", "the cat"], "a": ["yes", "sat"], "b": ["no", "ran"], "label": [0, 1]}
    )
    mapped = data.map(
        lambda b: transform.multiple_choice(b["context"], [list(x) for x in zip(b["a"], b["b"])]), batched=True
    )
    assert mapped[0]["input_ids"] == transform.multiple_choice("is it raining", ["yes", "no"])["input_ids"]
    assert mapped.column_names == ["context", "a", "b", "label", "input_ids"]


def test_fit_lengths_is_longest_first():
    assert fit_lengths([3, 4], 10) == [3, 4]
    assert fit_lengths([2, 20], 10) == [2, 8]  # the short segment is kept whole
    assert fit_lengths([20, 20], 10) == [5, 5]
    assert fit_lengths([20, 21], 11) == [6, 5]  # ties are taken from the later segment, like transformers
    assert fit_lengths([30, 2, 9], 15) == [7, 2, 6]


def test_truncation_keeps_special_tokens_and_fits(tokenizer):
    transform = TaskTransform(tokenizer, max_length=12)
    long_text = " ".join(CORPUS[:6])
    single = transform.classification(long_text)["input_ids"]
    assert len(single) == 12 and single[0] == S and single[-1] == E
    pair = transform.entailment(long_text, "yes")["input_ids"]
    assert len(pair) == 12 and pair[-1] == E and pair[-3:] == [D, *ids(tokenizer, "yes"), E]
    for rows in (
        transform.similarity(long_text, long_text)["input_ids"],
        transform.multiple_choice(long_text, [long_text, "no"])["input_ids"],
    ):
        assert all(len(row) <= 12 and row[0] == S and row[-1] == E and D in row for row in rows)


def test_collator_shapes_masks_and_targets(tokenizer):
    transform = TaskTransform(tokenizer, max_length=32)
    collate = TaskCollator(pad_token_id=PAD)
    single = collate([{**transform.classification(t), "label": i} for i, t in enumerate(["the cat", "a dog ran to"])])
    assert single["input_ids"].shape == single["attention_mask"].shape == single["lm_targets"].shape
    assert single["input_ids"].dim() == 2 and single["labels"].tolist() == [0, 1]
    short = single["attention_mask"][0].sum()
    assert (single["input_ids"][0, short:] == PAD).all() and (single["lm_targets"][0, short:] == IGNORE_INDEX).all()
    assert torch.equal(single["lm_targets"][1], single["input_ids"][1])

    pairs = collate(
        [
            {**transform.similarity("the cat", "a dog"), "labels": 0.5},
            {**transform.similarity("yes", "is it raining today"), "labels": 1.0},
        ]
    )
    assert pairs["input_ids"].shape[:2] == (2, 2) and pairs["labels"].dtype == torch.float32
    example = transform.multiple_choice("is it", ["yes", "no", "maybe"])
    choices = TaskCollator(pad_token_id=PAD, pad_to_multiple_of=8)([{**example, "label": 2}] * 3)
    longest = max(len(row) for row in example["input_ids"])
    assert choices["input_ids"].shape == (3, 3, -(-longest // 8) * 8) and choices["labels"].dtype == torch.long
    assert choices["attention_mask"][0].sum(-1).tolist() == [len(row) for row in example["input_ids"]]
    multi_hot = collate([{"input_ids": [S, 5, E], "labels": [1, 0, 1]}, {"input_ids": [S, E], "labels": [0, 0, 1]}])
    assert multi_hot["labels"].dtype == torch.float32 and multi_hot["labels"].shape == (2, 3)


def test_collated_batches_run_through_the_task_heads(tokenizer):
    config = tiny_config(**special_token_ids(tokenizer))
    transform, collate = TaskTransform(tokenizer, max_length=config.n_positions), TaskCollator(PAD)
    classifier = GPTHFForSequenceClassification(config)
    batch = collate(
        [
            {**transform.similarity("the cat", "a dog"), "label": 0},
            {**transform.similarity("yes", "it is raining"), "label": 1},
        ]
    )
    out = classifier(**batch)
    assert out.logits.shape == (2, 2) and out.lm_loss is not None
    out.loss.backward()
    chooser = GPTHFForMultipleChoice(config)
    batch = collate([{**transform.multiple_choice("is it", ["yes", "no"]), "label": 1}] * 2)
    assert chooser(**batch).logits.shape == (2, 2)


def test_clear_errors(tokenizer):
    transform = TaskTransform(tokenizer, max_length=32)
    with pytest.raises(ValueError, match=r"hypothesis is empty in example\(s\) \[1\]"):
        transform.entailment(["a", "b"], ["yes", "  "])
    with pytest.raises(ValueError, match="Example 0 has no choices"):
        transform.multiple_choice("is it", [])
    with pytest.raises(TypeError, match="text must be a str or a list of str, got int"):
        transform.classification(5)
    with pytest.raises(ValueError, match="different numbers of choices"):
        TaskCollator(PAD)([{"input_ids": [[S, E], [S, E]]}, {"input_ids": [[S, E]] * 3}])
    with pytest.raises(ValueError, match="no start, delimiter, extract token"):
        TaskTransform(type("Plain", (), {"model_max_length": 64})())
    with pytest.raises(ValueError, match="max_length=2 is not a usable context length"):
        TaskTransform(tokenizer, max_length=2)


def test_the_topic_task_is_offline_deterministic_and_split_by_module():
    from gpt_hf.tasks.benchmarks import BENCHMARKS
    from gpt_hf.tasks.self_labelled import TOPIC_FAMILIES, topic_dataset

    data = BENCHMARKS["topic"].load(seed=3)
    assert BENCHMARKS["topic"].task == "classification" and BENCHMARKS["topic"].offline
    texts = {split: set(dataset["text"]) for split, dataset in data.items()}
    assert not (
        texts["train"] & texts["validation"] or texts["train"] & texts["test"] or texts["validation"] & texts["test"]
    )
    assert set(data["train"]["label"]) == set(TOPIC_FAMILIES) and len(data["train"]) > 1000
    assert len(data["validation"]) > 50 and len(data["test"]) > 50
    assert topic_dataset(3)["test"]["text"] == data["test"]["text"]  # the same seed, the same rows
    assert topic_dataset(4)["test"]["text"] != data["test"]["text"]  # another seed holds out other modules
    with pytest.raises(ValueError, match="reads no other corpus"):
        BENCHMARKS["topic"].load(seed=3, corpus_files=["x.txt"])
