"""The model wing: the configuration, the layers and the model with its heads table (`HEADS`), plus the presets.

`configuration_gpt_hf.py`, `layers_gpt_hf.py` and `modeling_gpt_hf.py` are copied into every saved folder and loaded
there with `trust_remote_code=True`: they stay siblings and import only torch, transformers' public API and each
other. Nothing here imports another wing (presets read `gpt_hf.errors` only)."""
