"""predict, predict_proba and transform work a chunk of texts at a time, with the same results."""

import numpy as np
import pytest
from conftest import make_texts

import skgloss.classifier
from skgloss import GLossTextClassifier

FAST = dict(max_length=16, batch_size=8, max_epochs=1, learning_rate=2e-3, validation_fraction=0, random_state=0)


@pytest.mark.parametrize("inference", ["head", "graph", "blend"])
def test_chunked_inference_equals_one_pass(tiny_bert, monkeypatch, inference):
    X, y = make_texts(10)
    y = y.copy()
    y[::4] = -1  # a corpus graph for graph inference
    clf = GLossTextClassifier(tiny_bert, **FAST, inference=inference).fit(X, y)
    Xt, _ = make_texts(12, seed=3)
    whole_proba, whole_emb = clf.predict_proba(Xt), clf.transform(Xt)
    sizes = []
    original = skgloss.classifier.TokenizedTexts

    def spy(tokenizer, texts, max_length, **kw):
        sizes.append(len(texts))
        return original(tokenizer, texts, max_length, **kw)

    monkeypatch.setattr(skgloss.classifier, "_PREDICT_CHUNK", 5)
    monkeypatch.setattr(skgloss.classifier, "TokenizedTexts", spy)
    np.testing.assert_allclose(clf.predict_proba(Xt), whole_proba, atol=1e-6)
    np.testing.assert_allclose(clf.transform(Xt), whole_emb, atol=1e-6)
    assert max(sizes) == 5 and sum(sizes) == 2 * len(Xt)
