"""The evaluation wing: rolling-window perplexity, log-likelihood scoring and zero/few-shot evaluation (`evaluate`,
scripts/evaluate.py), and prompts with decoding options (`generation`, scripts/generate.py)."""
