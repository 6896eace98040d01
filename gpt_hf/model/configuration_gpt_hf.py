"""Configuration of the gpt_hf model family: GPT-1 (post-LN) and GPT-2 (pre-LN) in one config class.

Remote-code safe: imports only transformers (and the standard library), so this file can be copied into a Hub
repository next to `modeling_gpt_hf.py` and loaded with `trust_remote_code=True`.
"""

from transformers import PreTrainedConfig
from transformers.activations import ACT2FN

NORM_POSITIONS = ("post", "pre")
# What the task heads read from the decoder's last layer, and how many hidden widths it is: the paper's extract-token
# state; the mean over the row's real tokens; or both, side by side. The paper's is the default: neither other choice
# won on every task and label count (docs/results.md, "Levers tried").
CLASSIFIER_POOLINGS = {"extract": 1, "mean": 1, "extract+mean": 2}
POOLING_NOTES = {
    "extract": "the extract token's state (the paper)",
    "mean": "the mean of the row's token states",
    "extract+mean": "the extract token's state and the mean of the row's token states",
}
SPECIAL_TOKEN_FIELDS = (
    "pad_token_id",
    "bos_token_id",
    "eos_token_id",
    "start_token_id",
    "delimiter_token_id",
    "extract_token_id",
)


class GPTHFConfig(PreTrainedConfig):
    r"""
    Configuration for [`GPTHFModel`] and its heads. The defaults are the GPT-1 paper's model (Radford et al., 2018):
    12 layers, 768 wide, 12 heads, FFN 3072, tanh-GELU, learned positions, post-LN, dropout 0.1, context 512.

    Args:
        vocab_size (`int`, defaults to 40478): size of the token vocabulary (GPT-1's BPE vocabulary + specials).
        n_positions (`int`, defaults to 512): context length; the number of learned position embeddings.
        n_embd (`int`, defaults to 768): model width (`hidden_size`).
        n_layer (`int`, defaults to 12): number of Transformer blocks (`num_hidden_layers`).
        n_head (`int`, defaults to 12): attention heads per block (`num_attention_heads`); must divide `n_embd`.
        n_inner (`int` or `None`, defaults to `None`): feed-forward width; `None` means `4 * n_embd` (3072 at the
            paper's width of 768).
        activation_function (`str`, defaults to `"gelu_new"`): any name of `transformers.activations.ACT2FN`;
            `"gelu_new"` is the tanh approximation GPT-1 and GPT-2 used.
        norm_position (`str`, defaults to `"post"`): `"post"` is GPT-1's layout (LayerNorm after each residual
            add); `"pre"` is GPT-2's (LayerNorm before each sub-layer, plus a final LayerNorm).
        resid_pdrop / embd_pdrop / attn_pdrop (`float`, defaults to 0.1): dropout on residual branches, on the
            summed embeddings and on attention probabilities.
        classifier_dropout (`float`, defaults to 0.1): dropout before the task heads' linear layer.
        classifier_pooling (`str`, defaults to `"extract"`): what the task heads' linear layer reads: `"extract"`
            (the paper: the hidden state at the extract token), `"mean"` (the mean over the row's real tokens) or
            `"extract+mean"` (both, concatenated: the linear layer is twice as wide).
        layer_norm_epsilon (`float`, defaults to 1e-5), initializer_range (`float`, defaults to 0.02).
        aux_lm_weight (`float`, defaults to 0.5): the paper's lambda: task heads return
            `task_loss + aux_lm_weight * lm_loss`; 0 disables the auxiliary language-modelling loss.
        start_token_id / delimiter_token_id / extract_token_id (`int` or `None`): the task-transform tokens of the
            paper's Figure 1. The task heads pool the hidden state at `extract_token_id`.
        pad_token_id / bos_token_id / eos_token_id (`int` or `None`): the usual special ids.
    """

    model_type = "gpt_hf"
    # Trainer.predict keeps only the logits of the task heads' outputs
    keys_to_ignore_at_inference = ["past_key_values", "cache", "task_loss", "lm_loss"]  # the cache: both names
    attribute_map = {
        "hidden_size": "n_embd",
        "num_hidden_layers": "n_layer",
        "num_attention_heads": "n_head",
        "max_position_embeddings": "n_positions",
    }

    vocab_size: int = 40478
    n_positions: int = 512
    n_embd: int = 768
    n_layer: int = 12
    n_head: int = 12
    n_inner: int | None = None
    activation_function: str = "gelu_new"
    norm_position: str = "post"
    resid_pdrop: float = 0.1
    embd_pdrop: float = 0.1
    attn_pdrop: float = 0.1
    classifier_dropout: float = 0.1
    classifier_pooling: str = "extract"
    layer_norm_epsilon: float = 1e-5
    initializer_range: float = 0.02
    aux_lm_weight: float = 0.5
    use_cache: bool = True
    tie_word_embeddings: bool = True
    pad_token_id: int | None = None
    bos_token_id: int | None = None
    eos_token_id: int | None = None
    start_token_id: int | None = None
    delimiter_token_id: int | None = None
    extract_token_id: int | None = None

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        self.validate()

    @property
    def inner_dim(self) -> int:
        """Feed-forward width, resolving `n_inner=None` to `4 * n_embd`."""
        return self.n_inner if self.n_inner is not None else 4 * self.n_embd

    @property
    def pre_norm(self) -> bool:
        return self.norm_position == "pre"

    def validate(self):
        """Check every field; raises `ValueError`/`TypeError` naming the offending value. Also run at save time."""
        for name in ("vocab_size", "n_positions", "n_embd", "n_layer", "n_head"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"GPTHFConfig.{name} must be an int, got {value!r} ({type(value).__name__}).")
            if value <= 0:
                raise ValueError(f"GPTHFConfig.{name} must be positive, got {value}.")
        if self.n_inner is not None and (not isinstance(self.n_inner, int) or self.n_inner <= 0):
            raise ValueError(
                f"GPTHFConfig.n_inner must be a positive int or None (= 4 * n_embd), got {self.n_inner!r}."
            )
        if self.n_embd % self.n_head != 0:
            raise ValueError(
                f"n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head}); "
                f"pick n_head among the divisors of {self.n_embd}."
            )
        if self.activation_function not in ACT2FN:
            raise ValueError(
                f"Unknown activation_function {self.activation_function!r}; use one of transformers' ACT2FN names, "
                "e.g. 'gelu_new' (GPT-1/GPT-2), 'gelu', 'relu'."
            )
        if self.norm_position not in NORM_POSITIONS:
            raise ValueError(f"norm_position must be 'post' (GPT-1) or 'pre' (GPT-2), got {self.norm_position!r}.")
        if self.classifier_pooling not in CLASSIFIER_POOLINGS:
            raise ValueError(
                f"classifier_pooling must be one of {tuple(CLASSIFIER_POOLINGS)}, got {self.classifier_pooling!r}."
            )
        for name in ("resid_pdrop", "embd_pdrop", "attn_pdrop", "classifier_dropout"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0.0 <= value < 1.0:
                raise ValueError(f"GPTHFConfig.{name} must be a probability in [0, 1), got {value!r}.")
        if not self.layer_norm_epsilon > 0:
            raise ValueError(f"layer_norm_epsilon must be > 0, got {self.layer_norm_epsilon!r}.")
        if not self.initializer_range > 0:
            raise ValueError(f"initializer_range must be > 0, got {self.initializer_range!r}.")
        if not isinstance(self.aux_lm_weight, (int, float)) or self.aux_lm_weight < 0:
            raise ValueError(
                f"aux_lm_weight must be >= 0 (0 disables the auxiliary LM loss), got {self.aux_lm_weight!r}."
            )
        for name in SPECIAL_TOKEN_FIELDS:
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < self.vocab_size:
                raise ValueError(
                    f"GPTHFConfig.{name}={value!r} is not an id in the vocabulary [0, {self.vocab_size}); "
                    "set it to None or to a valid token id (and resize the embeddings first if you added tokens)."
                )


__all__ = ["GPTHFConfig"]


GPTHFConfig.register_for_auto_class("AutoConfig")  # save_pretrained copies this file beside the weights
