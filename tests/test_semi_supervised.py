"""The corpus graph inside the estimator: memory bank, refresh, pseudo-labels,
the KL loss, graph-aware batches, graph inference (docs/method.md, corpus graph)."""

import pickle

import numpy as np
import pytest
import torch
from conftest import make_texts, prediction_atol

import skgloss.classifier
from skgloss import GLossTextClassifier
from skgloss.corpus import CorpusGraph
from skgloss.graph import NeighborIndex, edge_weights, knn_graph
from skgloss.losses import NeighbourKLLoss, neighbour_kl_loss
from skgloss.propagation import neighbour_average

FAST = dict(max_length=16, batch_size=8, max_epochs=2, learning_rate=2e-3, random_state=0)


def partly_labeled(n_per_class=15, keep_every=5, seed=0):
    X, y = make_texts(n_per_class, seed=seed)
    y = np.array(y, dtype=object)
    y_part = y.copy()
    mask = np.arange(len(y)) % keep_every != 0
    y_part[mask] = -1
    return X, y, y_part


@pytest.fixture(scope="module")
def semi_fit(tiny_bert):
    X, y, y_part = partly_labeled()
    clf = GLossTextClassifier(tiny_bert, **{**FAST, "max_epochs": 4}, validation_fraction=0,
                              pseudo_label_threshold=0.6).fit(X, y_part)
    return clf, X, y, y_part


def test_semi_supervised_fit_labels_every_row(semi_fit):
    clf, X, y, y_part = semi_fit
    n = len(X)
    assert clf.graph_.shape == (n, n) and (clf.graph_ != clf.graph_.T).nnz == 0
    assert clf.label_distributions_.shape == (n, 2)
    np.testing.assert_allclose(clf.label_distributions_.sum(1), 1.0)
    assert clf.transduction_.shape == (n,) and set(clf.transduction_) <= {"fruit", "vehicle"}
    labeled = y_part != -1
    assert (clf.transduction_[labeled] == y[labeled]).all()  # spreading keeps the known labels
    assert clf.corpus_embeddings_.shape == (n, 32)
    assert all("graph_seconds" in h and "pseudo_labeled" in h for h in clf.history_)


def test_pseudo_labels_enter_training(semi_fit):
    clf, *_ = semi_fit
    assert sum(h["pseudo_labeled"] for h in clf.history_) > 0
    assert "pseudo" in clf.history_[-1]


def test_pseudo_labels_can_be_disabled(tiny_bert):
    X, _, y_part = partly_labeled()
    clf = GLossTextClassifier(tiny_bert, **FAST, validation_fraction=0, pseudo_label_threshold=None).fit(X, y_part)
    assert all(h["pseudo_labeled"] == 0 for h in clf.history_)


def test_refresh_runs_no_extra_encoder_pass(tiny_bert, monkeypatch):
    """The bank is filled by one pass before training; refreshes only read it."""
    X, _, y_part = partly_labeled()
    counts = {"eval": 0, "train": 0, "refresh": 0}
    real_load = skgloss.classifier.load_encoder
    real_refresh = CorpusGraph.refresh

    def counting_load(*a, **kw):
        model, tok = real_load(*a, **kw)
        model.register_forward_hook(lambda m, i, o: counts.__setitem__(
            "train" if m.training else "eval", counts["train" if m.training else "eval"] + 1))
        return model, tok

    def counting_refresh(self):
        counts["refresh"] += 1
        return real_refresh(self)

    monkeypatch.setattr(skgloss.classifier, "load_encoder", counting_load)
    monkeypatch.setattr(CorpusGraph, "refresh", counting_refresh)
    # refit_head=False: the head's own refit passes (skgloss.head) are not what this test is about
    clf = GLossTextClassifier(tiny_bert, **{**FAST, "max_epochs": 3}, validation_fraction=0,
                              refit_head=False).fit(X, y_part)
    assert counts["refresh"] == 1 + 3  # initial graph, then one per epoch
    # the single initial pass over the corpus, and the two passes of the 2-text probe that decides
    # whether the encoder takes 4-D masks (skgloss.encoder.accepts_4d_mask)
    assert counts["eval"] == -(-len(X) // 64) + 2
    assert counts["train"] == sum(h["steps"] for h in clf.history_)


def test_graph_refresh_every_k_epochs_and_off(tiny_bert, monkeypatch):
    X, y, y_part = partly_labeled()
    clf = GLossTextClassifier(tiny_bert, **{**FAST, "max_epochs": 4}, validation_fraction=0,
                              graph_refresh=2).fit(X, y_part)
    assert ["graph_seconds" in h for h in clf.history_] == [False, True, False, True]
    off = GLossTextClassifier(tiny_bert, **FAST, validation_fraction=0, graph_refresh=None).fit(X, y_part)
    assert not hasattr(off, "graph_") and not hasattr(off, "transduction_")
    full = GLossTextClassifier(tiny_bert, **FAST, validation_fraction=0).fit(X, y)  # "auto": nothing uses it
    assert not hasattr(full, "graph_")


def test_validation_rows_are_graph_nodes_with_hidden_labels(tiny_bert, monkeypatch):
    X, y = make_texts(20)
    seen = {}
    real_init = CorpusGraph.__init__

    def spy(self, embeddings, y_seen, *a, **kw):
        seen["y"] = np.array(y_seen)
        real_init(self, embeddings, y_seen, *a, **kw)

    monkeypatch.setattr(CorpusGraph, "__init__", spy)
    clf = GLossTextClassifier(tiny_bert, **FAST, validation_fraction=0.25, graph_refresh=1).fit(X, y)
    assert (seen["y"] == -1).sum() == 10  # the 25 % validation rows, hidden from propagation
    assert clf.label_distributions_.shape == (40, 2)


def test_kl_loss_fits_and_needs_the_graph(tiny_bert):
    X, _, y_part = partly_labeled()
    clf = GLossTextClassifier(tiny_bert, **FAST, loss="kl", validation_fraction=0).fit(X, y_part)
    assert {"ce", "kl", "loss"} <= set(clf.history_[0]) and clf.history_[0]["kl"] >= 0
    with pytest.raises(ValueError, match="graph_refresh=None"):
        GLossTextClassifier(tiny_bert, loss="kl", graph_refresh=None).fit(X, y_part)


def test_graph_and_blend_inference(semi_fit):
    clf, X, _, _ = semi_fit
    Xq = make_texts(5, seed=9)[0]
    assert clf.inference == "auto" and clf.inference_ == "blend"  # a fit with -1 rows blends by default
    default = clf.predict_proba(Xq)
    try:
        clf.set_params(inference="head")
        head = clf.predict_proba(Xq)
        clf.set_params(inference="graph")
        graph = clf.predict_proba(Xq)
        idx, sim = NeighborIndex(clf.corpus_embeddings_, backend="exact").query(clf.transform(Xq), 10)
        expected, reached = neighbour_average(idx, edge_weights(sim, clf.sigma_), clf.label_distributions_)
        assert reached.all()
        np.testing.assert_allclose(graph, expected, atol=1e-5)
        np.testing.assert_allclose(default, 0.5 * head + 0.5 * graph, atol=1e-5)
        assert np.abs(head - graph).max() > 1e-3  # so that the blend is not equal to either by accident
        clf.set_params(inference="blend", blend_weight=0.25)
        np.testing.assert_allclose(clf.predict_proba(Xq), 0.75 * head + 0.25 * graph, atol=1e-5)
    finally:
        clf.set_params(inference="auto", blend_weight=0.5)


def test_graph_inference_without_a_graph_is_a_clear_error(tiny_bert):
    X, y = make_texts(8)
    clf = GLossTextClassifier(tiny_bert, **FAST, validation_fraction=0).fit(X, y)
    clf.set_params(inference="graph")
    with pytest.raises(ValueError, match="corpus graph"):
        clf.predict(X)


def test_graph_batches_partition_rows_into_neighbour_groups():
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(60, 8))
    corpus = CorpusGraph(emb, np.zeros(60, dtype=int), 1, n_neighbors=5).refresh()
    rows = np.arange(0, 60, 2)
    batches = corpus.graph_batches(rows, 8, np.random.default_rng(1), group_size=4)
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == rows.tolist()
    assert all(len(b) == 8 for b in batches[:-1])
    # batches hold far more corpus edges than random batches of the same rows
    G = corpus.graph

    def edges_inside(bs):
        return sum(G[b][:, b].nnz for b in bs)

    perm_rng = np.random.default_rng(2)
    random_edges = np.mean([edges_inside(np.array_split(perm_rng.permutation(rows), len(batches)))
                            for _ in range(20)])
    assert edges_inside(batches) > 2 * random_edges


def test_graph_batching_fits(tiny_bert):
    X, _, y_part = partly_labeled()
    clf = GLossTextClassifier(tiny_bert, **FAST, validation_fraction=0, batching="graph").fit(X, y_part)
    assert sum(h["steps"] for h in clf.history_) > 0 and hasattr(clf, "graph_")


def test_neighbour_targets_match_graph_rows():
    rng = np.random.default_rng(0)
    corpus = CorpusGraph(rng.normal(size=(30, 6)), np.r_[np.arange(3), -np.ones(27, int)], 3,
                         n_neighbors=4, sigma=0.7).refresh()
    dist, weight = corpus.neighbour_targets([3, 7, 11])
    for b, row in enumerate([3, 7, 11]):
        lo, hi = corpus.graph.indptr[row], corpus.graph.indptr[row + 1]
        k = hi - lo
        np.testing.assert_allclose(weight[b, :k], corpus.graph.data[lo:hi])
        np.testing.assert_allclose(dist[b, :k], corpus.F[corpus.graph.indices[lo:hi]])
        assert (weight[b, k:] == 0).all() and (dist[b, k:] == 0).all()


def test_neighbour_kl_matches_direct_formula():
    torch.manual_seed(0)
    logits = torch.randn(3, 4, requires_grad=True)
    dist = torch.softmax(torch.randn(3, 2, 4), dim=-1)
    dist[2, 1] = 0.0
    weight = torch.tensor([[1.0, 3.0], [0.5, 0.5], [2.0, 0.0]])
    p = torch.softmax(logits, dim=1)
    expected = 0.0
    for i in range(3):
        w = weight[i] / weight[i].sum()
        for j in range(2):
            if weight[i, j] > 0:
                expected += w[j] * (dist[i, j] * (dist[i, j].log() - p[i].log())).sum()
    loss = neighbour_kl_loss(logits, dist, weight)
    torch.testing.assert_close(loss, expected / 3)
    loss.backward()
    assert torch.isfinite(logits.grad).all()
    terms = NeighbourKLLoss(lam=0.5).terms(logits, torch.tensor([0, -1, 2]), dist, weight)
    torch.testing.assert_close(terms["loss"], terms["ce"] + 0.5 * terms["kl"])


def test_neighbour_average_never_divides_by_zero():
    F = np.array([[1.0, 0.0], [0.0, 0.0], [0.2, 0.8]])
    Q, reached = neighbour_average(np.array([[0, 2], [1, 1], [0, -1]]),
                                   np.array([[1.0, 1.0], [1.0, 1.0], [0.0, 5.0]]), F)
    assert np.isfinite(Q).all()
    np.testing.assert_allclose(Q[0], [0.6, 0.4])
    assert reached.tolist() == [True, False, False]
    assert (Q[1:] == 0).all()


def test_save_load_and_pickle_keep_the_corpus_graph(semi_fit, tmp_path):
    clf, X, _, _ = semi_fit
    clf.set_params(inference="graph")
    try:
        expected = clf.predict_proba(X[:10])
        loaded = GLossTextClassifier.from_pretrained(clf.save_pretrained(tmp_path / "m"))
        np.testing.assert_allclose(loaded.predict_proba(X[:10]), expected, atol=1e-6)
        assert (loaded.graph_ != clf.graph_).nnz == 0
        np.testing.assert_array_equal(loaded.transduction_, clf.transduction_)
        again = pickle.loads(pickle.dumps(clf))  # on the CPU now, wherever clf was
        np.testing.assert_allclose(again.predict_proba(X[:10]), expected, rtol=0, atol=prediction_atol(clf))
    finally:
        clf.set_params(inference="head")


@pytest.mark.parametrize(
    "param, value",
    [("alpha", 0.0), ("alpha", 1.0), ("blend_weight", 1.5), ("pseudo_label_threshold", 0.0),
     ("graph_refresh", 0), ("graph_refresh", "often"), ("batching", "smart"), ("inference", "vote"),
     ("graph_backend", "faiss")],
)
def test_bad_corpus_parameters(tiny_bert, param, value):
    X, y = make_texts(4)
    with pytest.raises((ValueError, TypeError), match=param):
        GLossTextClassifier(tiny_bert, **{param: value}).fit(X, y)


def test_knn_graph_used_for_the_corpus_equals_direct_call():
    rng = np.random.default_rng(3)
    emb = rng.normal(size=(40, 5))
    corpus = CorpusGraph(emb, np.zeros(40, dtype=int), 1, n_neighbors=6, sigma=0.5).refresh()
    assert (corpus.graph != knn_graph(emb, 6, sigma=0.5)).nnz == 0


def test_graph_inference_with_a_small_sigma_still_averages_its_neighbours():
    """Kernel weights of about 1e-18 (cosine 0.6, σ = 0.1) are still a weighted average: graph inference must not
    fall back to the head, which it did when every weight was below 1e-12."""
    from skgloss.inference import GraphInference, class_probabilities

    ref = np.array([[0.6, 0.8, 0.0], [0.6, 0.0, 0.8], [0.8, -0.6, 0.0]], dtype=np.float32)
    F = np.array([[0.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    query, head_logits = np.array([[1.0, 0.0, 0.0]], dtype=np.float32), np.array([[2.0, 0.0]])
    for sigma in (0.5, 0.1, 0.02):
        graph = GraphInference.build(ref, F, n_neighbors=3, sigma=sigma)
        w = np.exp((np.array([0.6, 0.6, 0.8]) - 0.8) / sigma**2)  # the kernel's ratios, exactly
        expected = np.array([w[2], w[0] + w[1]]) / w.sum()
        np.testing.assert_allclose(class_probabilities(head_logits, query, inference="graph", graph=graph)[0],
                                   expected, atol=1e-9)
    raw = edge_weights(np.array([[0.6, 0.8]]), 0.02)
    rel = edge_weights(np.array([[0.6, 0.8]]), 0.02, relative=True)
    assert raw.max() < 1e-12 and rel.max() == 1.0


def test_the_neighbour_index_follows_graph_backend_changed_after_fit(tiny_bert):
    X, y = make_texts(8)
    y = y.copy()
    y[::3] = -1
    clf = GLossTextClassifier(tiny_bert, max_length=16, batch_size=8, max_epochs=1, validation_fraction=0,
                              random_state=0, graph_backend="exact").fit(X, y)
    clf.predict_proba(X[:2])  # builds and caches the index
    assert clf._graph_search().index.backend == "exact"
    clf.set_params(graph_backend="pynndescent")
    assert clf._graph_search().index.backend == "pynndescent"  # the cached exact index is not reused
