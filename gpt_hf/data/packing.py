"""Packing for language-model pretraining: documents (text) -> token ids -> fixed-size blocks, held in an Arrow cache
(`tokenize_and_pack`) or made on the fly from a stream (`PackedStream`), and the collator that batches blocks.
Downstream of both text sources (`documents`) and the tokenizer (`tokenizer`), so data flows one way:
text sources -> tokenizer -> packing -> model.
"""

import itertools
import random

import torch

from ..errors import ArgumentError, DataError
from .tokenizer import encode_texts


class _Packer:
    """The two batched steps both paths share: documents -> ids ending with end-of-text -> `block_size` blocks.

    The end-of-text token is also the tokenizer's BOS (GPT-2's convention), so every document after the first of a
    stream follows it: the same context that `generate()` without a prompt and rolling log-likelihoods start from.
    The tail of each batch of documents that does not fill a block is dropped, as in transformers' run_clm."""

    def __init__(self, tokenizer, block_size: int):
        if tokenizer.eos_token_id is None:
            raise ArgumentError("The tokenizer has no eos (end-of-text) token to join documents with.")
        self.tokenizer, self.block_size, self.eos = tokenizer, block_size, tokenizer.eos_token_id

    def tokenize(self, batch):
        texts = [text or "" for text in batch["text"]]
        return {"ids": [[*ids, self.eos] for ids in encode_texts(self.tokenizer, texts)]}

    def pack(self, batch):
        stream = [token for ids in batch["ids"] for token in ids]
        size = self.block_size
        return {"input_ids": [stream[i : i + size] for i in range(0, len(stream) // size * size, size)]}


def tokenize_and_pack(dataset, tokenizer, block_size: int, num_proc: int | None = None):
    """Tokenise a `DatasetDict` of documents and pack each split into `block_size`-token blocks with `datasets.map`
    (batched, cached for file-backed datasets); a split without one full block is an error."""
    packer = _Packer(tokenizer, block_size)
    tokenized = dataset.map(
        packer.tokenize, batched=True, num_proc=num_proc, remove_columns=["text"], desc="Tokenizing"
    )
    packed = tokenized.map(
        packer.pack,
        batched=True,
        num_proc=num_proc,
        remove_columns=["ids"],
        desc=f"Packing into blocks of {block_size}",
    )
    for split, blocks in packed.items():
        if len(blocks) == 0:
            raise DataError(
                f"The {split} split has fewer than {block_size} tokens after tokenisation, so not one block could "
                "be packed; add text or lower --block_size."
            )
    return packed


class PackedStream(torch.utils.data.IterableDataset):
    """Blocks from a streaming `datasets.IterableDataset` of documents, made on the fly epoch after epoch without end:
    the shards (files) in a seeded order, the documents through a seeded shuffle buffer, then tokenised and packed
    1,000 documents at a time. A new order every epoch; in DataLoader workers, each reads its share of the shards.

    The Trainer sees one endless epoch (run it with --max_steps), so on resume its replay of the batches already
    consumed (`skip_first_batches`) also crosses epoch boundaries, and the run continues with exactly the batches an
    uninterrupted run would have seen. datasets' own `state_dict` resume would skip the replay but refills the
    shuffle buffer with other documents, so it is not exact.

    Why not datasets' `shuffle` / `map` on the stream: in datasets 5 they cost ~0.1 ms per document in Python
    bookkeeping (per-example state copies, batch keys joined into ever longer strings), which capped the stream at
    0.2 MB/s; here datasets reads batches of documents (~25 MB/s) and the rest is a loop over lists."""

    def __init__(
        self, documents, tokenizer, block_size: int, seed: int, shuffle_buffer_size: int, batch_documents: int = 1000
    ):
        self.documents, self.seed, self.shuffle_buffer_size = documents, seed, shuffle_buffer_size
        self.batch_documents = batch_documents
        self.packer = _Packer(tokenizer, block_size)

    def _shuffled_documents(self, rng: random.Random):
        shards = list(range(self.documents.num_shards))
        rng.shuffle(shards)
        worker = torch.utils.data.get_worker_info()
        if worker is not None:
            shards = shards[worker.id :: worker.num_workers]
        buffer: list[str] = []
        for shard in shards:
            source = (
                self.documents.shard(num_shards=self.documents.num_shards, index=shard)
                if self.documents.num_shards > 1
                else self.documents
            )
            for batch in source.iter(batch_size=self.batch_documents):
                for text in batch["text"]:
                    if len(buffer) < self.shuffle_buffer_size:
                        buffer.append(text)
                        continue
                    index = rng.randrange(len(buffer))
                    yield buffer[index]
                    buffer[index] = text
        rng.shuffle(buffer)
        yield from buffer

    def epoch(self, epoch: int):
        """The blocks of one pass, as dicts with `input_ids`."""
        documents = self._shuffled_documents(random.Random(f"{self.seed}/{epoch}"))
        while batch := list(itertools.islice(documents, self.batch_documents)):
            for ids in self.packer.pack(self.packer.tokenize({"text": batch}))["input_ids"]:
                yield {"input_ids": ids}

    def __iter__(self):
        for epoch in itertools.count():
            empty = True
            for block in self.epoch(epoch):
                empty = False
                yield block
            if empty:
                raise DataError(
                    f"The training stream holds fewer than {self.packer.block_size} tokens per batch "
                    "of documents, so not one block could be packed; add text or lower --block_size."
                )

    def check_not_empty(self) -> None:
        """Read up to the first block now, so that too little text is an error before training starts."""
        next(iter(self))


def collate_blocks(features: list[dict]) -> dict:
    """Stack packed blocks; the labels are the inputs (the model shifts them).

    Not `DataCollatorForLanguageModeling(mlm=False)`: it sets every label equal to `pad_token_id` to -100, and
    tokenizers converted from GPT-2 often pad with `<|endoftext|>`, so every document boundary would silently leave
    the loss. Packed blocks are full: there is nothing to pad or mask. Blocks come as lists (packing) or tensors (a
    token store)."""
    blocks = [feature["input_ids"] for feature in features]
    input_ids = torch.stack(blocks) if torch.is_tensor(blocks[0]) else torch.tensor(blocks, dtype=torch.long)
    return {"input_ids": input_ids, "labels": input_ids}
