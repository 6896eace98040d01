"""Where gpt_hf meets the rest of the ecosystem: saved folders loaded with checks (`loading`), conversion from and
export to transformers' own GPT classes (`convert`), the Hub folder and model card (`hub`), and PEFT / `transformers
serve` tables (`integrations`)."""
