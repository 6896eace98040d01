"""gpt_hf and transformers' own GPT-2 under transformers' ModelTesterMixin, on the same tiny config.

Not collected by the project's suite (no `test_` prefix): `run.py` copies this file into a package beside the
`test_modeling_common.py` of the installed transformers' source distribution and runs it there (`make
test-transformers`). gpt_hf's heads are listed in transformers' per-task name tables, as a built-in model's are, so
the mixin builds the same inputs and labels for them as for GPT-2's.
"""

import unittest

from transformers import GPT2Config, GPT2ForSequenceClassification, GPT2LMHeadModel, GPT2Model
from transformers.models.auto import modeling_auto

import gpt_hf
from gpt_hf.model.modeling_gpt_hf import HEADS

from .generation.test_utils import GenerationTesterMixin
from .test_modeling_common import ModelTesterMixin, ids_tensor, random_attention_mask

# transformers' table of model names per Auto class, as `get_values` reads them in the mixin
NAME_TABLES = {
    "AutoModel": modeling_auto.MODEL_MAPPING_NAMES,
    "AutoModelForCausalLM": modeling_auto.MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
    "AutoModelForSequenceClassification": modeling_auto.MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES,
    "AutoModelForMultipleChoice": modeling_auto.MODEL_FOR_MULTIPLE_CHOICE_MAPPING_NAMES,
}
for auto_class, head in HEADS.items():
    NAME_TABLES[auto_class][gpt_hf.GPTHFConfig.model_type] = head.model_class.__name__

# The one tiny size both families are tested at (the project's tiny config); pad = the last id, as in GPT-2's tester.
SIZES = dict(vocab_size=99, n_positions=64, n_embd=32, n_layer=2, n_head=4, pad_token_id=98)


class TinyTester:
    """What the mixin reads from a model tester: sizes, a config, and inputs for every class."""

    batch_size, seq_length, num_choices, is_training = 3, 7, 3, True
    vocab_size, hidden_size, num_hidden_layers, num_attention_heads = 99, 32, 2, 4

    def __init__(self, parent, config_class, **config_values):
        self.parent, self.config_class, self.config_values = parent, config_class, config_values

    def get_config(self):
        return self.config_class(**SIZES, **self.config_values)

    def prepare_config_and_inputs_for_common(self):
        input_ids = ids_tensor([self.batch_size, self.seq_length], self.vocab_size - 1)  # no pad id among them
        attention_mask = random_attention_mask([self.batch_size, self.seq_length])
        return self.get_config(), {"input_ids": input_ids, "attention_mask": attention_mask}


class GPTHFPreLNCommonTest(ModelTesterMixin, GenerationTesterMixin, unittest.TestCase):
    all_model_classes = tuple(head.model_class for head in HEADS.values())
    layout = "pre"

    def setUp(self):
        # extract_token_id=None: the heads pool the last real token, as GPT-2's do (random ids hold no extract token)
        self.model_tester = TinyTester(self, gpt_hf.GPTHFConfig, norm_position=self.layout, extract_token_id=None)


class GPTHFPostLNCommonTest(GPTHFPreLNCommonTest):
    layout = "post"


class GPT2CommonTest(ModelTesterMixin, GenerationTesterMixin, unittest.TestCase):
    """transformers' own GPT-2 on the same config and inputs: the reference for what the mixin expects."""

    all_model_classes = (GPT2Model, GPT2LMHeadModel, GPT2ForSequenceClassification)

    def setUp(self):
        self.model_tester = TinyTester(self, GPT2Config)
