"""Shared fixtures: a tiny, randomly initialised BERT saved to a local folder.

No network: the vocabulary file is written here and the weights are random.
"""

import os
from pathlib import Path

import numpy as np
import pytest

FRUIT = "apple banana cherry grape lemon mango melon peach pear plum berry lime".split()
VEHICLE = "car truck engine wheel bus train tractor brake motor tire van road".split()
FILLER = "the a is and of very with some my this that good".split()
WORDS = FRUIT + VEHICLE + FILLER
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]

REPO = Path(__file__).resolve().parents[1]


def make_tiny_bert(folder, seed=0):
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.txt").write_text("\n".join(SPECIAL + WORDS) + "\n")
    BertTokenizerFast.from_pretrained(str(folder)).save_pretrained(str(folder))
    config = BertConfig(
        vocab_size=len(SPECIAL) + len(WORDS), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=64,
    )
    torch.manual_seed(seed)
    BertModel(config).save_pretrained(str(folder))
    return str(folder)


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory):
    """Path of a folder with a 2-layer, hidden-32 BERT and its WordPiece tokenizer."""
    return make_tiny_bert(tmp_path_factory.mktemp("tiny_bert"))


def make_texts(n_per_class=20, seed=0, n_words=6):
    """Two separable classes of short texts: fruit (label 'fruit') vs vehicles ('vehicle')."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for label, pool in (("fruit", FRUIT), ("vehicle", VEHICLE)):
        for _ in range(n_per_class):
            words = list(rng.choice(pool, size=n_words - 2)) + list(rng.choice(FILLER, size=2))
            rng.shuffle(words)
            texts.append(" ".join(words))
            labels.append(label)
    order = rng.permutation(len(texts))
    return [texts[i] for i in order], np.array(labels, dtype=object)[order]


@pytest.fixture
def toy_data():
    return make_texts()


def shared_data_dir():
    """The benchmark data beside the checkout (../shared/data) or $SKGLOSS_DATA."""
    env = os.environ.get("SKGLOSS_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


def prediction_atol(clf, floor=0.0):
    """How far two evaluations of one fitted model may differ, on any machine.

    Nothing beyond ``floor`` on the CPU in float32; float noise on other
    devices (another kernel, or a pickled copy now on the CPU); bf16/fp16
    rounding where the fit used them.
    """
    if clf.precision_ != "fp32":
        return max(floor, 2e-2)
    return floor if clf.device_.type == "cpu" else max(floor, 1e-5)
