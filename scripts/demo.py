"""Demo: what gpt_hf does today, on a fresh offline CPU machine in well under a minute.

Builds tiny GPT-1 (post-LN) and GPT-2 (pre-LN) models in transformers' own classes, converts them, checks that
gpt_hf gives the same logits and greedy tokens, generates with the KV cache, and reloads the saved folder in a
clean process through `trust_remote_code=True` without gpt_hf importable.
"""

import logging
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
from transformers import GPT2Config, GPT2LMHeadModel, OpenAIGPTConfig, OpenAIGPTLMHeadModel

from gpt_hf.convert import convert_checkpoint

logger = logging.getLogger("demo")
SIZES = dict(vocab_size=256, n_positions=128, n_embd=64, n_layer=2, n_head=4)
REMOTE_CHECK = (
    "import sys, torch; sys.modules['gpt_hf'] = None\n"
    "from transformers import AutoModelForCausalLM\n"
    "m = AutoModelForCausalLM.from_pretrained(sys.argv[1], trust_remote_code=True).eval()\n"
    "print(type(m).__module__, m.generate(torch.tensor([[1, 2, 3]]), max_new_tokens=6, do_sample=False).tolist())\n"
)


def main():
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.manual_seed(0)
    sources = {
        "openai-gpt (post-LN)": OpenAIGPTLMHeadModel(OpenAIGPTConfig(**SIZES)),
        "gpt2 (pre-LN)": GPT2LMHeadModel(GPT2Config(**SIZES, bos_token_id=0, eos_token_id=0)),
    }
    ids = torch.randint(0, SIZES["vocab_size"], (2, 32))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, source in sources.items():
            source.eval()
            model = convert_checkpoint(source)
            with torch.no_grad():
                diff = (model(ids).logits - source(ids).logits).abs().max().item()
            prompt = ids[:1, :4]
            ours = model.generate(prompt, max_new_tokens=16, do_sample=False)
            theirs = source.generate(prompt, max_new_tokens=16, do_sample=False, pad_token_id=0)
            folder = Path(tmp) / name.split()[0]
            model.save_pretrained(folder)
            remote = subprocess.run([sys.executable, "-c", REMOTE_CHECK, str(folder)], capture_output=True,
                                    text=True, check=True).stdout.strip()
            rows.append((name, f"{diff:.1e}", str(torch.equal(ours, theirs)), remote.split()[0]))
            logger.info("%s: remote-code reload generated %s", name, remote.split(maxsplit=1)[1])
    header = ("model", "max |logit diff|", "greedy tokens equal", "remote-code class module")
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(4)]
    logger.info("\n" + "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in [header, *rows]))


if __name__ == "__main__":
    main()
