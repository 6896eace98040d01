"""Packing for language-model pretraining: documents (text) -> token ids -> fixed-size blocks, and the collator that
batches blocks. Downstream of both text sources (`data`) and `tokenization`, so data flows one way:
text sources -> tokenization -> packing -> model.
"""

from .tokenization import encode_texts


def tokenize_and_pack(dataset, tokenizer, block_size: int, num_proc: int | None = None):
    """Tokenise documents, end each with the end-of-text token, and pack them into `block_size`-token blocks.

    The end-of-text token is also the tokenizer's BOS (GPT-2's convention), so every document after the first of a
    stream follows it: the same context that `generate()` without a prompt and rolling log-likelihoods start from.

    Uses `datasets.map(batched=True)` (so its cache applies to file-backed datasets); the tail of each batch of
    1,000 documents that does not fill a block is dropped, as in transformers' run_clm.
    """
    if tokenizer.eos_token_id is None:
        raise ValueError("The tokenizer has no eos (end-of-text) token to join documents with.")
    eos = tokenizer.eos_token_id

    def tokenize(batch):
        return {"ids": [[*ids, eos] for ids in encode_texts(tokenizer, [text or "" for text in batch["text"]])]}

    def pack(batch):
        stream = [token for ids in batch["ids"] for token in ids]
        usable = len(stream) // block_size * block_size
        return {"input_ids": [stream[i : i + block_size] for i in range(0, usable, block_size)]}

    tokenized = dataset.map(tokenize, batched=True, num_proc=num_proc, remove_columns=["text"],
                            desc="Tokenising")
    packed = tokenized.map(pack, batched=True, num_proc=num_proc, remove_columns=["ids"],
                           desc=f"Packing into blocks of {block_size}")
    for split, blocks in packed.items():
        if len(blocks) == 0:
            raise ValueError(
                f"The {split} split has fewer than {block_size} tokens after tokenisation, so not one block could "
                "be packed; add text or lower --block_size."
            )
    return packed


def collate_blocks(features: list[dict]) -> dict:
    """Stack packed blocks; the labels are the inputs (the model shifts them).

    Not `DataCollatorForLanguageModeling(mlm=False)`: it sets every label equal to `pad_token_id` to -100, and
    tokenizers converted from GPT-2 often pad with `<|endoftext|>`, so every document boundary would silently leave
    the loss. Packed blocks are full: there is nothing to pad or mask."""
    import torch

    input_ids = torch.tensor([feature["input_ids"] for feature in features], dtype=torch.long)
    return {"input_ids": input_ids, "labels": input_ids}
