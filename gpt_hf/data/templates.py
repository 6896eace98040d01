"""Templates a tokenizer carries for use outside gpt_hf: the paper's task layout (`with_task_template`, so a fine-tuned
task model works in `pipeline("text-classification")`), and a chat format built from gpt_hf's special tokens
(`with_chat_template`, for TRL's SFTTrainer and `/v1/chat/completions`)."""

from ..errors import ArgumentError
from .tokenizer import SPECIAL_TOKENS, task_token_ids


def with_task_template(tokenizer):
    """A copy whose `tokenizer(text)` / `tokenizer(text, text_pair)` builds `[start] a [delim] b [extract]` itself,
    so a fine-tuned task model works in `pipeline("text-classification")` without gpt_hf's task transforms.
    (Language-model tokenizers keep no template: a prompt must not end in the extract token.)"""
    import copy

    from tokenizers import processors

    ids = task_token_ids(tokenizer)
    s = SPECIAL_TOKENS
    templated = copy.deepcopy(tokenizer)
    templated.backend_tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{s.start} $A {s.extract}",
        pair=f"{s.start} $A {s.delimiter} $B {s.extract}",
        special_tokens=[(s.start, ids["start"]), (s.delimiter, ids["delimiter"]), (s.extract, ids["extract"])],
    )
    return templated


# The chat template `with_chat_template` sets, built from gpt_hf's own special tokens (GPT-1/GPT-2 models have no chat
# format of their own): each turn is `<|start|>role<|delimiter|>content<|endoftext|>`, so a reply ends where
# generation stops (eos); `{% generation %}` marks the assistant's text for TRL's `assistant_only_loss`.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|start|>' + message['role'] + '<|delimiter|>' }}"
    "{% if message['role'] == 'assistant' %}{% generation %}{{ message['content'] + '<|endoftext|>' }}"
    "{% endgeneration %}{% else %}{{ message['content'] + '<|endoftext|>' }}{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start|>assistant<|delimiter|>' }}{% endif %}"
)


def with_chat_template(tokenizer):
    """The tokenizer with gpt_hf's chat template (`CHAT_TEMPLATE`), for conversational fine-tuning (TRL's
    SFTTrainer on a `messages` dataset) and `/v1/chat/completions`. Base language models stay without one, as
    GPT-2's do; set it before fine-tuning on conversations, and the fine-tuned folder's tokenizer keeps it."""
    names = {name: getattr(tokenizer, f"{name}_token", None) for name in ("start", "delimiter")}
    if None in names.values() or tokenizer.eos_token is None:
        raise ArgumentError(
            "The chat template needs the start, delimiter and eos tokens of a gpt_hf tokenizer; "
            "this tokenizer lacks one."
        )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer
