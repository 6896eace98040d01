"""Tokenizer training (both flavours), special tokens, saving/loading without gpt_hf, sources and errors."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gpt_hf.data.tokenizer import (
    SPECIAL_TOKENS,
    check_tokenizer_matches_config,
    encode_texts,
    is_padded_vocab,
    save_tokenizer,
    special_token_ids,
    train_tokenizer,
)

from conftest import tiny_config

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "train_tokenizer.py"
ENGLISH = [
    "The quick brown fox jumps over the lazy dog.",
    "A tokenizer splits text into words, and words into sub-word units.",
    "Generative pre-training learns a language model; fine-tuning adapts it to a task.",
    "Costs are $5 and <e> is just text, as is <|extract|> when typed by a user.",
] * 30
KOREAN = [
    "안녕하세요. 오늘 날씨가 좋습니다.",
    "언어 모델은 다음 단어를 예측합니다.",
    "한국어 텍스트도 잘 처리되어야 합니다.",
    "사전 학습된 모델을 미세 조정합니다.",
] * 30


@pytest.fixture(scope="module")
def bytelevel():
    return train_tokenizer(
        texts=ENGLISH + KOREAN, flavour="bytelevel", vocab_size=400, min_frequency=2, show_progress=False
    )[0]


@pytest.fixture(scope="module")
def gpt1():
    return train_tokenizer(
        texts=ENGLISH + KOREAN, flavour="gpt1", vocab_size=500, min_frequency=2, show_progress=False
    )[0]


def merges_of(tokenizer):
    merges = json.loads(tokenizer.backend_tokenizer.to_str())["model"]["merges"]
    return [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in merges]


def seed_words():
    return ["low"] * 5 + ["lower"] * 2 + ["newest"] * 6 + ["widest"] * 3


def test_seed_example_learns_es_then_est_bytelevel():
    tokenizer, _ = train_tokenizer(
        texts=seed_words(), flavour="bytelevel", vocab_size=261 + 5, min_frequency=1, show_progress=False
    )
    assert merges_of(tokenizer)[:2] == [("e", "s"), ("es", "t")]  # pair counts 9 and 9


def test_seed_example_gpt1_flavour_with_end_of_word_suffix():
    tokenizer, _ = train_tokenizer(
        texts=seed_words(), flavour="gpt1", vocab_size=40, min_frequency=1, show_progress=False
    )
    assert merges_of(tokenizer)[:2] == [("e", "s"), ("es", "t</w>")]  # GPT-1 marks word ends with </w>


def test_special_tokens_are_named_and_first(bytelevel, gpt1):
    for tokenizer in (bytelevel, gpt1):
        ids = special_token_ids(tokenizer)
        assert (
            ids["eos_token_id"],
            ids["pad_token_id"],
            ids["start_token_id"],
            ids["delimiter_token_id"],
            ids["extract_token_id"],
        ) == (0, 1, 2, 3, 4)
        assert ids["bos_token_id"] == ids["eos_token_id"] == 0  # GPT-2's convention: <|endoftext|> is both
        assert tokenizer.padding_side == "left"
        assert tokenizer.cls_token == SPECIAL_TOKENS.extract and tokenizer.sep_token == SPECIAL_TOKENS.delimiter
        assert tokenizer.extract_token == SPECIAL_TOKENS.extract
    assert gpt1.unk_token == SPECIAL_TOKENS.unk and bytelevel.unk_token is None


@pytest.mark.parametrize(
    "text",
    [
        "<|extract|> <|start|> <|delimiter|> <|pad|> <|endoftext|>",
        "$ <e> $$",
        "<|unk|>",
        "a<|extract|>b",
        "<|start|><|delimiter|>",
    ],
)
def test_user_text_never_produces_special_ids_in_our_pipelines(bytelevel, gpt1, text):
    for tokenizer in (bytelevel, gpt1):
        (ids,) = encode_texts(tokenizer, [text])
        specials = set(special_token_ids(tokenizer).values()) - {None, len(tokenizer)}
        assert not set(ids) & (specials - {tokenizer.unk_token_id}), (text, ids)
        assert not tokenizer.backend_tokenizer.encode_special_tokens  # the tokenizer's own setting is restored
    assert bytelevel.decode(encode_texts(bytelevel, [text])[0]) == text


@pytest.mark.parametrize("flavour", ["bytelevel", "gpt1"])
def test_special_token_strings_map_to_their_ids_as_in_transformers(bytelevel, gpt1, flavour):
    tokenizer = bytelevel if flavour == "bytelevel" else gpt1
    text_ids = tokenizer("hello", add_special_tokens=False)["input_ids"]
    # TRL's SFTTrainer appends eos_token to the text: it must become the one eos id, not "< | end ... | >"
    assert tokenizer("hello" + tokenizer.eos_token)["input_ids"] == text_ids + [tokenizer.eos_token_id]
    assert tokenizer(tokenizer.extract_token)["input_ids"] == [tokenizer.extract_token_id]


def test_added_special_tokens_stay_whole_and_task_transforms_still_split_them(bytelevel):
    import copy

    from gpt_hf.tasks.transforms import TaskTransform

    tokenizer = copy.deepcopy(bytelevel)
    tokenizer.add_special_tokens({"additional_special_tokens": ["<|user|>"]})
    user_id = tokenizer.convert_tokens_to_ids("<|user|>")
    assert user_id == len(bytelevel)
    assert tokenizer("<|user|> hi")["input_ids"][0] == user_id
    row = TaskTransform(tokenizer, max_length=64).classification("<|user|> a <|extract|> b")["input_ids"]
    assert row[0] == tokenizer.start_token_id and row[-1] == tokenizer.extract_token_id
    assert user_id not in row and row.count(tokenizer.extract_token_id) == 1


unicode_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)),  # lone surrogates cannot be UTF-8 encoded
    min_size=0,
    max_size=60,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    text=unicode_text
    | st.sampled_from(["👩‍👩‍👧 🎉", "\x00\x07\t\r\n", "漢字かなカナ", "é = e\u0301", "ｆｕｌｌ　ｗｉｄｔｈ"])
)
def test_bytelevel_round_trips_any_string(bytelevel, text):
    assert bytelevel.decode(bytelevel(text)["input_ids"]) == text


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCXYZ .,;!?'-0123456789", max_size=60))
def test_gpt1_round_trips_up_to_lowercasing_and_spacing(gpt1, text):
    decoded = gpt1.decode(gpt1(text)["input_ids"])
    normalized = gpt1.backend_tokenizer.normalizer.normalize_str(text)
    if gpt1.unk_token in decoded:  # characters never seen in training (digits here) become the unknown token
        return
    assert "".join(decoded.split()) == "".join(normalized.split())


def test_gpt1_normalises_like_the_original_encoder(gpt1):
    normalizer = gpt1.backend_tokenizer.normalizer
    assert normalizer.normalize_str("  “Hello”—it’s  ＡＢＣ…\n") == '"hello"-it\'s abc...'


def test_gpt1_unknown_characters_map_to_unk(gpt1):
    ids = gpt1("fox ☃ dog")["input_ids"]
    assert gpt1.unk_token_id in ids
    assert gpt1.convert_ids_to_tokens(ids)[0] == "fox</w>"


def test_korean_trains_in_both_flavours(bytelevel, gpt1):
    sentence = "언어 모델은 한국어 텍스트를 처리합니다."
    assert bytelevel.decode(bytelevel(sentence)["input_ids"]) == sentence
    ids = gpt1(sentence)["input_ids"]
    assert gpt1.unk_token_id not in ids  # Hangul syllables are symbols of the alphabet, not unknowns
    assert "".join(gpt1.decode(ids).split()) == "".join(sentence.split())


LOADER = textwrap.dedent(
    """
    import json, sys
    sys.modules["gpt_hf"] = None
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(sys.argv[1])
    texts = json.loads(sys.argv[2])
    print(json.dumps({"ids": tok(texts)["input_ids"], "extract": tok.extract_token_id, "start": tok.start_token_id,
                      "split": tok.split_special_tokens, "max": tok.model_max_length, "bos": tok.bos_token_id,
                      "side": tok.padding_side}))
    """
)


@pytest.mark.parametrize("flavour", ["bytelevel", "gpt1"])
def test_saved_folder_loads_with_autotokenizer_without_gpt_hf(tmp_path, flavour, bytelevel, gpt1):
    tokenizer = bytelevel if flavour == "bytelevel" else gpt1
    save_tokenizer(tokenizer, tmp_path)
    texts = ["The fox, the dog.", "안녕하세요 <|extract|>"]
    done = subprocess.run(
        [sys.executable, "-c", LOADER, str(tmp_path), json.dumps(texts)],
        check=True,
        capture_output=True,
        text=True,
        env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"},
        stdin=subprocess.DEVNULL,
    )
    loaded = json.loads(done.stdout)
    assert loaded["ids"] == tokenizer(texts)["input_ids"]
    assert (loaded["extract"], loaded["start"], loaded["split"], loaded["max"]) == (4, 2, False, 512)
    assert (loaded["bos"], loaded["side"]) == (0, "left")
    assert "custom code" not in done.stderr and "model of type" not in done.stderr  # quiet: no prompt, no warning


def test_tokenizer_and_config_must_agree(bytelevel, tmp_path):
    config = tiny_config(
        vocab_size=400,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=0,
        start_token_id=2,
        delimiter_token_id=3,
        extract_token_id=4,
    )
    check_tokenizer_matches_config(bytelevel, config)
    assert is_padded_vocab(50257, 50304) and is_padded_vocab(40478, 40512)  # GPT-2 / GPT-1 padded to 64: accepted
    assert not is_padded_vocab(270, 320)
    config.vocab_size = 1000  # a tokenizer trained for another model
    with pytest.raises(
        ValueError,
        match=r"tokenizer has 400 tokens but config.vocab_size=1000: a tokenizer trained "
        r"for another model",
    ):
        check_tokenizer_matches_config(bytelevel, config)
    config.extract_token_id = 7
    config.vocab_size = 300
    with pytest.raises(
        ValueError,
        match=r"tokenizer has 400 tokens but config.vocab_size=300.*extract_token_id: "
        r"tokenizer 4 vs config 7",
    ):
        save_tokenizer(bytelevel, tmp_path / "tok", config=config)
    assert not (tmp_path / "tok").exists()


def test_files_source_and_summary(tmp_path):
    (tmp_path / "a.txt").write_text("\n".join(ENGLISH), encoding="utf-8")
    (tmp_path / "b.txt").write_text("\n".join(KOREAN), encoding="utf-8")
    tokenizer, summary = train_tokenizer(
        files=str(tmp_path / "*.txt"), flavour="bytelevel", vocab_size=350, show_progress=False
    )
    assert summary.vocab_size == len(tokenizer) == 350
    assert summary.corpus_bytes == sum(p.stat().st_size for p in tmp_path.glob("*.txt"))
    assert 1.0 < summary.tokens_per_word < 10.0


def test_datasets_source_streams_a_column():
    datasets = pytest.importorskip("datasets")
    dataset = datasets.Dataset.from_dict({"text": ENGLISH, "id": list(range(len(ENGLISH)))})
    tokenizer, summary = train_tokenizer(dataset=dataset, flavour="gpt1", vocab_size=300, show_progress=False)
    assert summary.corpus_bytes == sum(len(t.encode()) for t in ENGLISH)
    with pytest.raises(
        ValueError, match=r"Text column 'sentence' not in the dataset; its columns are \['text', 'id'\]"
    ):
        train_tokenizer(dataset=dataset, text_column="sentence", show_progress=False)
    streamed = datasets.Dataset.from_dict({"text": ENGLISH}).to_iterable_dataset()
    assert train_tokenizer(dataset=streamed, flavour="gpt1", vocab_size=300, show_progress=False)[0] is not None


def test_clear_errors(tmp_path):
    with pytest.raises(ValueError, match=r"corpus \(texts\) is empty"):
        train_tokenizer(texts=["", "   "], show_progress=False)
    (tmp_path / "empty.txt").write_text("\n\n")
    with pytest.raises(ValueError, match="is empty"):
        train_tokenizer(files=tmp_path / "empty.txt", show_progress=False)
    (tmp_path / "latin1.txt").write_bytes("caf\u00e9 ok".encode("utf-8") + b"\nna\xefve\n")
    with pytest.raises(ValueError, match=r"latin1.txt is not valid UTF-8: byte 0xef at offset 11"):
        train_tokenizer(files=tmp_path / "latin1.txt", show_progress=False)
    with pytest.raises(ValueError, match=r"No file matches .*missing\*.txt"):
        train_tokenizer(files=str(tmp_path / "missing*.txt"), show_progress=False)
    with pytest.raises(
        ValueError,
        match=r"--vocab_size 100 is too small for a bytelevel tokenizer: it must hold the "
        r"byte alphabet \(256\) \+ the special tokens; use at least 261",
    ):
        train_tokenizer(texts=ENGLISH, flavour="bytelevel", vocab_size=100, show_progress=False)
    with pytest.raises(ValueError, match=r"vocab_size=20 is smaller than the corpus alphabet"):
        train_tokenizer(texts=ENGLISH, flavour="gpt1", vocab_size=20, show_progress=False)
    with pytest.raises(ValueError, match="Unknown tokenizer flavour 'gpt3'"):
        train_tokenizer(texts=ENGLISH, flavour="gpt3", vocab_size=300, show_progress=False)
    with pytest.raises(ValueError, match="exactly one text source"):
        train_tokenizer(texts=ENGLISH, files=["x"], show_progress=False)
    with pytest.raises(TypeError, match="Expected an iterator of str"):
        train_tokenizer(texts=[b"bytes"], show_progress=False)


def test_train_tokenizer_script(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(ENGLISH + KOREAN), encoding="utf-8")
    out = tmp_path / "tok"
    done = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--files",
            str(corpus),
            "--flavour",
            "bytelevel",
            "--vocab_size",
            "320",
            "--output_dir",
            str(out),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    assert "Summary: flavour=bytelevel vocab_size=320" in done.stdout
    assert (out / "tokenizer.json").is_file()
    bad = subprocess.run(
        [sys.executable, str(SCRIPT), "--files", str(tmp_path / "nope.txt"), "--output_dir", str(tmp_path / "tok2")],
        capture_output=True,
        text=True,
    )
    assert bad.returncode != 0 and "No file matches" in bad.stderr and not (tmp_path / "tok2").exists()
    help_text = subprocess.run([sys.executable, str(SCRIPT), "--help"], check=True, capture_output=True, text=True)
    assert "--min_frequency" in help_text.stdout and "Minimum pair count" in help_text.stdout
