"""The data wing: text sources and documents (`documents`), the built-in corpus (`corpus`), tokenizer training and
special tokens (`tokenizer`, with the templates a tokenizer carries in `templates`), the shared corpus flags
(`arguments`), packing documents into blocks (`packing`) and the prepared token store (`token_store`). Documents flow
in, token ids flow out; it imports only the output helpers and the errors."""
