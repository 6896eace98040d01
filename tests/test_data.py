"""Corpora, the built-in corpus, dataset loading (gpt_hf.data.documents) and packing (gpt_hf.data.packing)."""

import json

import pytest

from gpt_hf.data.corpus import _extract_builtin_corpus, builtin_corpus
from gpt_hf.data.documents import load_text_dataset
from gpt_hf.data.packing import collate_blocks, tokenize_and_pack
from gpt_hf.data.tokenizer import train_tokenizer
from gpt_hf.errors import ArgumentError

DOCS = [f"Document number {i}. " + "Words follow words in a simple text. " * (i % 5 + 1) for i in range(40)]


def test_builtin_corpus_is_offline_deterministic_and_large(monkeypatch, tmp_path):
    import sysconfig
    from pathlib import Path

    documents = builtin_corpus()
    assert sum(len(d.encode("utf-8")) for d in documents) >= 1_000_000
    assert len(documents) == len(set(documents)) > 100  # de-duplicated, split into documents
    assert any("pydoc" in d or "Python" in d for d in documents)
    # the cached corpus equals a fresh extraction, and two extractions are identical
    fresh = _extract_builtin_corpus(Path(sysconfig.get_paths()["stdlib"]), 200)
    assert fresh == documents == _extract_builtin_corpus(Path(sysconfig.get_paths()["stdlib"]), 200)


@pytest.mark.parametrize("suffix", ["txt", "jsonl", "csv", "parquet"])
def test_local_files_of_every_type(tmp_path, suffix):
    import datasets

    path = tmp_path / f"docs.{suffix}"
    if suffix == "txt":
        path.write_text("\n\n".join(DOCS), encoding="utf-8")  # paragraphs are the documents
    else:
        data = datasets.Dataset.from_dict({"body": DOCS})
        {"jsonl": data.to_json, "csv": data.to_csv, "parquet": data.to_parquet}[suffix](str(path))
    column = "text" if suffix == "txt" else "body"
    loaded = load_text_dataset(files=[str(tmp_path / f"*.{suffix}")], text_column=column, validation_fraction=0.1)
    assert set(loaded) == {"train", "validation"} and loaded["train"].column_names == ["text"]
    assert len(loaded["train"]) + len(loaded["validation"]) == len(DOCS)
    assert sorted(list(loaded["train"]["text"]) + list(loaded["validation"]["text"])) == sorted(DOCS)


def test_default_is_the_builtin_corpus_with_a_seeded_split():
    first = load_text_dataset(seed=1)
    again = load_text_dataset(seed=1)
    assert list(first["validation"]["text"]) == list(again["validation"]["text"])
    assert not set(first["train"]["text"]) & set(first["validation"]["text"])


def test_clear_errors(tmp_path):
    with pytest.raises(ValueError, match=r"No file matches .*missing.txt"):
        load_text_dataset(files=[str(tmp_path / "missing.txt")])
    (tmp_path / "rows.jsonl").write_text(json.dumps({"body": "x"}) + "\n")
    with pytest.raises(ValueError, match=r"Text column 'text' not in the train split; its columns are \['body'\]"):
        load_text_dataset(files=[str(tmp_path / "rows.jsonl")])
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(ValueError, match="empty"):
        load_text_dataset(files=[str(tmp_path / "empty.txt")])
    (tmp_path / "a.csv").write_text("text\nx\n")
    (tmp_path / "a.docx").write_text("text\nx\n")
    with pytest.raises(ValueError, match=r"Files must be of a supported type \(.*\); got \['.docx'\]"):
        load_text_dataset(files=[str(tmp_path / "rows.jsonl"), str(tmp_path / "a.docx")])
    (tmp_path / "one.txt").write_text("A corpus of a single document.\n")
    with pytest.raises(
        ValueError,
        match=r"Cannot hold out a validation split of 5% from 1 documents: one side would "
        r"be empty; pass --validation_files, give more text, or cut it into smaller "
        r"documents \(--document_unit line",
    ):
        load_text_dataset(files=[str(tmp_path / "one.txt")])
    whole = load_text_dataset(files=[str(tmp_path / "one.txt")], validation_fraction=None)  # scoring: no split
    assert list(whole) == ["train"] and list(whole["train"]["text"]) == ["A corpus of a single document."]
    with pytest.raises(ValueError, match=r"validation fraction must be in \(0, 1\), got 1.5"):
        load_text_dataset(files=[str(tmp_path / "a.csv")], validation_fraction=1.5)


FORTUNES = [f"Fortune {i}:\n  a saying on line one,\n  and its author on line two." for i in range(30)]


@pytest.mark.parametrize(
    "unit, write, expected",
    [
        ("paragraph", lambda docs: "\n\n".join(docs) + "\n", FORTUNES),
        ("paragraph", lambda docs: "\n\n\n".join(docs), FORTUNES),  # more blank lines: still one boundary
        ("line", lambda docs: "\n".join(docs), [line for doc in FORTUNES for line in doc.split("\n")]),
    ],
)
def test_text_files_are_cut_into_documents_not_lines(tmp_path, unit, write, expected):
    (tmp_path / "fortunes.txt").write_text(write(FORTUNES), encoding="utf-8")
    loaded = load_text_dataset(
        files=[str(tmp_path / "fortunes.txt")], validation_fraction=0.2, seed=3, document_unit=unit
    )
    train, validation = list(loaded["train"]["text"]), list(loaded["validation"]["text"])
    assert sorted(text.strip("\n") for text in train + validation) == sorted(expected)
    assert validation
    if unit == "paragraph":  # the split takes whole documents: no fortune has lines on both sides
        assert not {t.split(":")[0] for t in train} & {t.split(":")[0] for t in validation}


def test_one_file_one_document_and_a_user_separator(tmp_path, monkeypatch):
    for index, doc in enumerate(FORTUNES[:10]):
        (tmp_path / f"doc{index}.txt").write_text(doc + "\n\n" + doc, encoding="utf-8")  # blank lines inside
    loaded = load_text_dataset(files=[str(tmp_path / "doc*.txt")], validation_fraction=0.2, document_unit="file")
    texts = list(loaded["train"]["text"]) + list(loaded["validation"]["text"])
    assert sorted(texts) == sorted(doc + "\n\n" + doc for doc in FORTUNES[:10])

    import gpt_hf.data.documents

    monkeypatch.setattr(gpt_hf.data.documents, "_CHUNK_BYTES", 7)  # separators that straddle the reads
    (tmp_path / "fortunes.dat").write_text("\n%\n".join(FORTUNES) + "\n%\n\n", encoding="utf-8")
    (tmp_path / "fortunes.txt").write_bytes((tmp_path / "fortunes.dat").read_bytes())
    from gpt_hf.data.units import decode_separator

    loaded = load_text_dataset(
        files=[str(tmp_path / "fortunes.txt")], validation_fraction=0.2, document_separator=decode_separator("\\n%\\n")
    )
    assert sorted(list(loaded["train"]["text"]) + list(loaded["validation"]["text"])) == sorted(FORTUNES)


def test_document_options_are_checked(tmp_path):
    from gpt_hf.data.units import decode_separator

    with pytest.raises(ValueError, match="--document_unit 'chapter' is not one of"):
        load_text_dataset(files=[str(tmp_path / "x.txt")], document_unit="chapter")
    with pytest.raises(ValueError, match="--document_separator is empty"):
        decode_separator("")
    assert decode_separator("\\n\\u2014\\n") == "\n\u2014\n" and decode_separator("§") == "§"


def test_packing_never_turns_special_strings_in_the_corpus_into_special_ids():
    import datasets

    tokenizer = train_tokenizer(texts=DOCS, flavour="bytelevel", vocab_size=300, show_progress=False)[0]
    text = "a <|endoftext|> b <|extract|> c " * 20
    blocks = tokenize_and_pack(
        datasets.DatasetDict(
            {
                "train": datasets.Dataset.from_dict({"text": [text]}),
                "validation": datasets.Dataset.from_dict({"text": [text]}),
            }
        ),
        tokenizer,
        block_size=8,
    )
    ids = [t for block in blocks["train"]["input_ids"] for t in block]
    assert ids.count(tokenizer.eos_token_id) <= 1 and tokenizer.extract_token_id not in ids


def test_long_lines_are_read_in_bounded_pieces(tmp_path, monkeypatch):
    from gpt_hf.data import tokenizer as tokenization
    from gpt_hf.data.documents import iter_bounded_lines, scan_text_file

    words = [f"w{i % 37}" for i in range(30_000)]
    path = tmp_path / "one-line.txt"
    path.write_text("short line\n" + " ".join(words) + "\nend", encoding="utf-8")
    size, longest = scan_text_file(path)
    assert size == path.stat().st_size and longest == len(" ".join(words))
    pieces = [piece for batch in iter_bounded_lines([path], max_chars=1000, batch_lines=7) for piece in batch]
    assert max(map(len, pieces)) <= 1000 and " ".join(pieces).split() == path.read_text().split()
    used = []
    monkeypatch.setattr(tokenization, "MAX_LINE_CHARS", 4096)
    monkeypatch.setattr(
        tokenization, "iter_bounded_lines", lambda *a, **k: used.append(a) or iter_bounded_lines(*a, **k)
    )
    tokenizer, summary = tokenization.train_tokenizer(
        files=path, flavour="bytelevel", vocab_size=300, show_progress=False
    )
    assert used and summary.corpus_bytes == size and len(tokenizer) > 256 + 5  # merges were learnt


def test_packing_joins_documents_with_eos_into_full_blocks():
    import datasets

    tokenizer = train_tokenizer(texts=DOCS, flavour="bytelevel", vocab_size=300, show_progress=False)[0]
    splits = datasets.DatasetDict(
        {
            "train": datasets.Dataset.from_dict({"text": DOCS}),
            "validation": datasets.Dataset.from_dict({"text": DOCS[:10]}),
        }
    )
    blocks = tokenize_and_pack(splits, tokenizer, block_size=16)
    train_blocks = list(blocks["train"]["input_ids"])
    stream = [t for d in DOCS for t in tokenizer(d, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]]
    packed = [t for block in train_blocks for t in block]
    assert all(len(block) == 16 for block in train_blocks)
    assert packed == stream[: len(packed)] and len(stream) - len(packed) < 16
    batch = collate_blocks([{"input_ids": b} for b in train_blocks[:3]])
    assert batch["input_ids"].shape == (3, 16) and batch["labels"] is batch["input_ids"]
    with pytest.raises(ValueError, match="fewer than 4096 tokens"):
        tokenize_and_pack(splits, tokenizer, block_size=4096)


@pytest.mark.parametrize("separator", [None, "\n%\n"])
def test_streaming_split_takes_whole_documents_and_never_shares_one(tmp_path, separator):
    from gpt_hf.data.documents import load_text_stream

    path = tmp_path / "fortunes.txt"
    path.write_text((separator or "\n\n").join(FORTUNES) + "\n", encoding="utf-8")
    stream = load_text_stream(files=[str(path)], validation_fraction=0.2, seed=3, document_separator=separator)
    train = [row["text"] for row in stream["train"]]
    validation = list(stream["validation"]["text"])
    assert validation and not set(train) & set(validation)
    assert sorted(train + validation) == sorted(FORTUNES)  # whole documents, each on one side
    assert [row["text"] for row in stream["train"]] == train  # the same split on every pass
    capped = load_text_stream(
        files=[str(path)], validation_fraction=0.5, max_validation_documents=3, seed=3, document_separator=separator
    )
    assert len(capped["validation"]) == 3
    with pytest.raises(ValueError, match=r"No validation document: the stream holds out 0.01% of its documents"):
        load_text_stream(files=[str(tmp_path / "fortunes.txt")], validation_fraction=0.0001, seed=3)


def test_packed_stream_is_endless_reshuffled_each_epoch_and_covers_the_documents():
    import datasets

    from gpt_hf.data.packing import PackedStream

    tokenizer = train_tokenizer(texts=DOCS, flavour="bytelevel", vocab_size=300, show_progress=False)[0]
    documents = datasets.Dataset.from_dict({"text": DOCS}).to_iterable_dataset(num_shards=4)
    stream = PackedStream(documents, tokenizer, block_size=16, seed=0, shuffle_buffer_size=8)
    first, second = (list(stream.epoch(epoch)) for epoch in (0, 1))
    assert first != second and first == list(stream.epoch(0))  # seeded, and a new order each epoch
    stream_tokens = sum(len(tokenizer(d, add_special_tokens=False)["input_ids"]) + 1 for d in DOCS)
    assert stream_tokens - 16 < 16 * len(first) <= stream_tokens  # every document, one tail dropped
    import itertools

    endless = list(itertools.islice(iter(stream), 3 * len(first)))
    assert endless[: len(first)] == first and endless[len(first) : 2 * len(first)] == second


@pytest.mark.parametrize("unit", ["paragraph", "line", "file"])
def test_the_fast_plain_text_reader_yields_what_datasets_text_builder_yields(unit, tmp_path):
    from gpt_hf.data.documents import _load_raw, iter_documents

    files = []
    for index, text in enumerate(["first para\n\nsecond\r\nline two\n\n\n\nthird  \n", "  \n\nlone\n\n\n"]):
        files.append(tmp_path / f"part{index}.txt")
        files[-1].write_text(text, encoding="utf-8")
    expected = [
        text
        for batch in _load_raw([str(f) for f in files], None, None, None, "text", unit, None, streaming=True)[
            "train"
        ].iter(batch_size=10)
        for text in batch["text"]
    ]
    assert list(iter_documents(files=[str(f) for f in files], document_unit=unit)) == expected
    assert list(iter_documents(files=[str(f) for f in files], document_unit=unit, max_documents=1)) == expected[:1]


def test_each_file_is_read_with_its_own_unit_and_file_types_mix(tmp_path):
    """A verse-per-line book, a %-separated quotation file and a JSON-lines file in one corpus: each file read by its
    own reader, the same documents map-style, streaming and in the token store's one-pass reader."""
    from gpt_hf.data.arguments import CorpusArguments
    from gpt_hf.data.documents import iter_documents, load_text_stream

    (tmp_path / "book.txt").write_text("\ufeffIn the beginning.\nAnd the earth.\n\nAnd darkness.\n", encoding="utf-8")
    (tmp_path / "quotes.txt").write_text("One quote\nover two lines\n%\nTwo\n%\nThree\n", encoding="utf-8")
    (tmp_path / "notes.jsonl").write_text('{"text": "a json row"}\n{"text": "another row"}\n', encoding="utf-8")
    args = CorpusArguments(
        train_files=[str(tmp_path / name) for name in ("book.txt", "quotes.txt", "notes.jsonl")],
        document_unit=["paragraph", "book.txt=line", "*/quotes.txt=sep:\\n%\\n"],
        validation_split_fraction=0.2,
    )
    expected = {
        "In the beginning.",
        "And the earth.",
        "And darkness.",
        "One quote\nover two lines",
        "Two",
        "Three",
        "a json row",
        "another row",
    }
    mapped = load_text_dataset(**args.source_options, seed=0)
    assert set(mapped["train"]["text"]) | set(mapped["validation"]["text"]) == expected
    assert set(iter_documents(files=args.train_files, **args.document_options)) == expected
    stream = load_text_stream(**args.source_options, seed=0)
    assert {row["text"] for row in stream["train"]} | set(stream["validation"]["text"]) == expected


@pytest.mark.parametrize(
    "units, match",
    [
        (["sentence"], r"--document_unit 'sentence' is not one of \('paragraph', 'line', 'file'\) or sep:TEXT"),
        (["line", "paragraph"], "one unit without a glob sets every file's"),
        (["sep:%"], "one unit without a glob sets every file's"),
        (["*.txt=verse"], "--document_unit '\\*.txt=verse': 'verse' is not one of"),
    ],
)
def test_bad_document_units_are_refused_with_the_fix(units, match):
    from gpt_hf.data.units import DocumentArguments

    with pytest.raises(ArgumentError, match=match):
        DocumentArguments(document_unit=units)
