"""predict, predict_proba and transform work a chunk of texts at a time, with the same results."""

import numpy as np
import pytest
from conftest import make_texts, prediction_atol

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


def test_an_iterable_of_texts_is_read_a_chunk_at_a_time(tiny_bert, monkeypatch):
    """A generator gives what its list gives, and is never read further ahead than one chunk."""
    X, y = make_texts(10)
    clf = GLossTextClassifier(tiny_bert, **FAST).fit(X, y)
    Xt, _ = make_texts(12, seed=3)
    whole_proba, whole_emb, whole_pred = clf.predict_proba(Xt), clf.transform(Xt), clf.predict(Xt)
    monkeypatch.setattr(skgloss.classifier, "_PREDICT_CHUNK", 5)
    read, embedded = [], []
    original = skgloss.classifier.TokenizedTexts

    def spy(tokenizer, texts, max_length, **kw):
        embedded.append(len(texts))
        assert len(read) <= sum(embedded), "the generator was read beyond the chunk being embedded"
        return original(tokenizer, texts, max_length, **kw)

    monkeypatch.setattr(skgloss.classifier, "TokenizedTexts", spy)

    def stream():
        for text in Xt:
            read.append(text)
            yield text

    atol = prediction_atol(clf, floor=1e-6)  # chunks batch the texts differently: float noise off the CPU
    np.testing.assert_allclose(clf.predict_proba(stream()), whole_proba, atol=atol)
    assert embedded == [5, 5, 5, 5, 4]
    np.testing.assert_allclose(clf.transform(stream()), whole_emb, atol=atol)
    np.testing.assert_array_equal(clf.predict(iter(Xt)), whole_pred)
    assert clf.decision_function(stream()).shape == (len(Xt),)


def test_a_bad_text_in_an_iterable_is_named_by_its_position(tiny_bert, monkeypatch):
    X, y = make_texts(10)
    clf = GLossTextClassifier(tiny_bert, **FAST).fit(X, y)
    monkeypatch.setattr(skgloss.classifier, "_PREDICT_CHUNK", 4)
    texts = ["apple pear"] * 6 + [None]
    with pytest.raises(TypeError, match=r"X\[6\] is NoneType"):
        clf.predict(t for t in texts)
    with pytest.raises(ValueError, match="X is empty"):
        clf.transform(iter([]))


def test_fit_refuses_a_generator_saying_why(tiny_bert):
    X, y = make_texts(10)
    with pytest.raises(TypeError, match="fit reads its texts more than once"):
        GLossTextClassifier(tiny_bert, **FAST).fit((t for t in X), y)
