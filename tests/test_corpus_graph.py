"""The corpus graph: knn_graph and label_spreading (docs/method.md, corpus graph)."""

import os
import warnings

import numpy as np
import pytest
from scipy import sparse
from sklearn.exceptions import ConvergenceWarning
from sklearn.neighbors import NearestNeighbors
from sklearn.semi_supervised import LabelSpreading

from skgloss.graph import knn_graph
from skgloss.propagation import label_spreading


def clustered(n=300, d=16, k_centers=5, seed=0, spread=0.3):
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(k_centers, d))
    labels = rng.integers(0, k_centers, n)
    return centers[labels] + spread * rng.normal(size=(n, d)), labels


def test_exact_knn_matches_sklearn_brute_force():
    X, _ = clustered(200)
    k = 7
    W = knn_graph(X, k, backend="exact")
    nn = NearestNeighbors(n_neighbors=k + 1, metric="cosine", algorithm="brute").fit(X)
    ind = nn.kneighbors(X, return_distance=False)
    expected = sparse.lil_matrix((200, 200))
    for i, row in enumerate(ind):
        for j in row:
            if j != i:
                expected[i, j] = 1
    expected = expected.tocsr()
    expected = expected.maximum(expected.T)
    assert np.array_equal((W != 0).toarray(), expected.toarray() != 0)
    assert (W != W.T).nnz == 0 and W.diagonal().sum() == 0


def test_knn_weights_follow_the_kernel():
    X, _ = clustered(50)
    Z = X / np.linalg.norm(X, axis=1, keepdims=True)
    W = knn_graph(X, 5, sigma=0.5, backend="exact").tocoo()
    cos = np.einsum("ij,ij->i", Z[W.row], Z[W.col])
    np.testing.assert_allclose(W.data, np.exp(-(2 - 2 * cos) / (2 * 0.25)), rtol=1e-5)
    W0 = knn_graph(X, 5, backend="exact").tocoo()
    np.testing.assert_allclose(W0.data, np.maximum(np.einsum("ij,ij->i", Z[W0.row], Z[W0.col]), 0), atol=1e-6)


def test_knn_small_and_clamped():
    with pytest.warns(UserWarning, match="n_neighbors=5 >= n_samples=3"):
        W = knn_graph(np.eye(3) + 0.1, 5)
    assert W.shape == (3, 3) and W.nnz == 6
    with pytest.warns(UserWarning):
        single = knn_graph(np.ones((1, 4)), 1)
    assert single.shape == (1, 1) and single.nnz == 0
    assert knn_graph(np.array([[1.0, 0.0], [0.0, 1.0]]), 1, sigma=1.0).nnz == 2


def test_knn_identical_rows_are_documented_behaviour():
    W = knn_graph(np.ones((6, 3)), 2, sigma=0.5)
    np.testing.assert_allclose(W.data, 1.0, rtol=1e-5)  # float32 search
    assert (np.diff(W.indptr) >= 2).all()


@pytest.mark.parametrize(
    "X, kwargs, exc, match",
    [
        (np.array([[np.nan, 1.0], [1.0, 0.0]]), {}, ValueError, r"X\[0\].*NaN"),
        (np.array([[0.0, 0.0], [1.0, 0.0]]), {}, ValueError, r"X\[0\].*zero norm"),
        (np.ones((3, 2)), {"backend": "annoy"}, ValueError, "backend"),
        (np.ones(3), {}, ValueError, "2-D"),
    ],
)
def test_knn_bad_input(X, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        knn_graph(X, 2, **kwargs)


@pytest.mark.parametrize("k", [0, -1])
def test_knn_bad_n_neighbors(k):
    with pytest.raises(ValueError, match="n_neighbors"):
        knn_graph(np.eye(3), k)


@pytest.mark.pynndescent
def test_pynndescent_neighbours_with_negative_cosines_are_ordered_and_weighted_exactly():
    """PyNNDescent caps its cosine distance at 1: every neighbour at cosine <= 0 read as cosine 0, in any order."""
    from skgloss.graph import NeighborIndex

    rng = np.random.default_rng(0)
    R, Q = rng.normal(size=(8, 5)).astype(np.float32), rng.normal(size=(3, 5)).astype(np.float32)
    exact = NeighborIndex(R, backend="exact").query(Q, 8)
    approx = NeighborIndex(R, backend="pynndescent", random_state=0).query(Q, 8)
    assert (exact[1] < -0.1).any()  # the case: negative cosines among the 8
    np.testing.assert_array_equal(approx[0], exact[0])
    np.testing.assert_allclose(approx[1], exact[1], atol=1e-5)


@pytest.mark.pynndescent
def test_pynndescent_recall_against_exact():
    import numba

    X, _ = clustered(3000, d=32, k_centers=20, seed=1, spread=0.5)
    k = 10
    threads = numba.get_num_threads()
    approx = knn_graph(X, k, backend="pynndescent", random_state=0, n_jobs=1)
    assert numba.get_num_threads() == threads
    exact = knn_graph(X, k, backend="exact")
    hits = approx.astype(bool).multiply(exact.astype(bool)).nnz
    recall = hits / exact.nnz
    assert recall >= 0.9, recall
    assert (approx != approx.T).nnz == 0 and approx.diagonal().sum() == 0


@pytest.mark.parametrize("seed", [0, 1])
def test_label_spreading_equals_sklearn(seed):
    X, labels = clustered(400, seed=seed)
    W = knn_graph(X, 8, sigma=0.7)
    y = labels.copy()
    rng = np.random.default_rng(seed)
    y[rng.random(400) < 0.9] = -1
    y[:5] = np.arange(5)  # every class labeled somewhere
    ours = label_spreading(W, y, alpha=0.3, max_iter=50, tol=1e-4)
    ref = LabelSpreading(kernel=lambda A, B: W, alpha=0.3, max_iter=50, tol=1e-4).fit(X, y)
    np.testing.assert_allclose(ours, ref.label_distributions_, atol=1e-6)
    np.testing.assert_allclose(ours.sum(1), 1.0)
    assert (ours.argmax(1) == labels).mean() > 0.9


def test_label_spreading_warns_at_max_iter():
    X, labels = clustered(100)
    y = np.where(np.arange(100) < 10, labels, -1)
    with pytest.warns(ConvergenceWarning, match="max_iter=2"):
        label_spreading(knn_graph(X, 5), y, max_iter=2, tol=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        label_spreading(knn_graph(X, 5), y, max_iter=200, tol=1e-3)


def test_label_spreading_unreached_rows_are_zero_not_nan():
    W = sparse.csr_matrix(np.array([[0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]], dtype=float))
    F = label_spreading(W, np.array([0, -1, -1, -1]), n_classes=2)
    assert np.isfinite(F).all()
    np.testing.assert_allclose(F[:2], [[1, 0], [1, 0]])
    np.testing.assert_allclose(F[2:], 0.0)


@pytest.mark.parametrize(
    "graph, y, kwargs, exc, match",
    [
        (np.eye(3), [0, 1, -1], {}, TypeError, "sparse"),
        (sparse.csr_matrix((3, 4)), [0, 1, -1], {}, ValueError, "square"),
        (sparse.eye(3, format="csr"), [0, 1], {}, ValueError, "one entry per graph row"),
        (sparse.eye(3, format="csr"), [0, 1, -1], {"alpha": 1.0}, ValueError, "alpha"),
        (sparse.eye(3, format="csr"), [0, 1, -1], {"alpha": 0}, ValueError, "alpha"),
        (sparse.eye(3, format="csr"), [0.0, 1.0, -1.0], {}, TypeError, "integer"),
        (sparse.eye(3, format="csr"), [0, 1, -2], {}, ValueError, "-1"),
    ],
)
def test_label_spreading_bad_input(graph, y, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        label_spreading(graph, np.asarray(y), **kwargs)


def test_label_spreading_threads_do_not_change_the_result_or_numba():
    import numba

    X, labels = clustered(300, seed=4, spread=0.8)
    y = np.where(np.arange(300) % 7 == 0, labels, -1)
    W = knn_graph(X, 6, sigma=0.6)
    before = numba.get_num_threads()
    one = label_spreading(W, y, n_jobs=1)
    assert numba.get_num_threads() == before
    np.testing.assert_allclose(label_spreading(W, y, n_jobs=-1), one, atol=1e-6)


def test_label_spreading_leaves_torch_thread_count_alone():
    # numba's OpenMP layer shares the runtime with torch: setting numba's threads must not change torch's
    import torch

    before = torch.get_num_threads()
    W = sparse.random(60, 60, density=0.2, format="csr", dtype=np.float32, random_state=0)
    W = (W + W.T).tocsr()
    y = np.full(60, -1)
    y[:6] = [0, 1, 0, 1, 0, 1]
    try:
        torch.set_num_threads(1)
        label_spreading(W, y, n_classes=2, n_jobs=2)
        label_spreading(W, y, n_classes=2)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_the_first_graph_of_a_process_leaves_torch_thread_count_alone():
    """numba starts its OpenMP layer at the process's first parallel call, at numba's own thread count; torch's
    count (shared runtime) must come back to what the caller set. A fresh process, so that the layer starts
    inside the call."""
    import subprocess
    import sys

    code = ("import numpy as np, torch; from skgloss.graph import knn_graph; "
            "knn_graph(np.random.default_rng(0).normal(size=(80, 8)).astype(np.float32), 5, backend='exact'); "
            "print(torch.get_num_threads())")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "2"}  # torch at 1 thread, numba at 2
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["1"], out.stderr


def test_a_second_process_loads_the_corpus_graph_kernels_from_numba_disk_cache(tmp_path):
    """Every numba kernel of the corpus graph (exact search, label spreading) compiles once per machine, not once
    per process: a kernel numba cannot cache costs every fit its compilation and adds a file to the cache each
    time. Two fresh processes share one cache directory; the second must compile nothing."""
    import subprocess
    import sys

    code = ("import numpy as np, skgloss.graph as g\n"
            "from skgloss.propagation import _spreading_kernels, label_spreading\n"
            "g._SELF_BLOCK = 16  # several blocks: both selection kernels run\n"
            "X = np.random.default_rng(0).normal(size=(80, 8)).astype(np.float32)\n"
            "W = g.knn_graph(X, 5, backend='exact')\n"
            "label_spreading(W, np.r_[[0, 1] * 5, [-1] * 70], n_classes=2)\n"
            "for f in (*g._selection_kernels(), *_spreading_kernels()):\n"
            "    print(f.__name__, sum(f.stats.cache_hits.values()), sum(f.stats.cache_misses.values()))\n")
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path), "OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}
    runs = [subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
            for _ in range(2)]
    first, second = ([line.split() for line in run.stdout.splitlines()] for run in runs)
    assert len(first) == 4, runs[0].stderr
    assert all(int(misses) == 1 for *_, misses in first), first
    assert all(int(hits) == 1 and int(misses) == 0 for _, hits, misses in second), second
    files = sorted(p.name for p in tmp_path.rglob("*.nbc"))
    assert len(files) == len(set(f.split("-")[0] for f in files)), files  # one compiled entry a kernel


def test_n_jobs_minus_one_runs_numba_on_all_its_threads_and_restores_the_count():
    import subprocess
    import sys

    code = ("import numba; from skgloss.graph import numba_threads\n"
            "numba.set_num_threads(1)\n"
            "with numba_threads(-1):\n    inside = numba.get_num_threads()\n"
            "with numba_threads(None):\n    kept = numba.get_num_threads()\n"
            "print(inside, kept, numba.get_num_threads())")
    env = {**os.environ, "NUMBA_NUM_THREADS": "2"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["2", "1", "1"], out.stderr


@pytest.mark.parametrize("block", [3, 16, 64])
def test_exact_search_over_many_blocks_finds_what_brute_force_finds(monkeypatch, block):
    """The exact self-search computes each block pair once and serves rows and columns from it."""
    import skgloss.graph as graph

    X, _ = clustered(101, seed=3)
    k = 7  # more than a block of 3 rows holds
    Z = X / np.linalg.norm(X, axis=1, keepdims=True)
    S = Z @ Z.T
    np.fill_diagonal(S, -np.inf)
    monkeypatch.setattr(graph, "_SELF_BLOCK", block)
    idx, sim = graph._exact_self_search(Z.astype(np.float32), k)
    for i in range(101):
        assert set(idx[i]) == set(np.argsort(-S[i])[:k]), i
        np.testing.assert_allclose(np.sort(sim[i]), np.sort(S[i, idx[i]]), atol=1e-5)
    one_block = graph._exact_self_search(Z.astype(np.float32), k)
    monkeypatch.undo()
    np.testing.assert_array_equal(np.sort(idx, axis=1), np.sort(one_block[0], axis=1))


def test_a_float16_bank_holds_half_the_bytes_and_gives_the_same_graph():
    from skgloss.corpus import CorpusGraph

    X, labels = clustered(120, seed=4)
    y = np.where(np.arange(120) % 4 == 0, labels, -1)
    full = CorpusGraph(X, y, 5, n_neighbors=6, sigma=0.5, backend="exact").refresh()
    half = CorpusGraph(X, y, 5, n_neighbors=6, sigma=0.5, backend="exact", bank_dtype="float16").refresh()
    assert half.bank.dtype == np.float16 and half.bank.nbytes * 2 == full.bank.nbytes
    assert np.array_equal((half.graph != 0).toarray(), (full.graph != 0).toarray())
    np.testing.assert_allclose(half.F, full.F, atol=1e-2)
    # a training step's fresh embeddings are stored in float16
    half.update(np.array([0, 5]), np.ones((2, X.shape[1]), dtype=np.float32) / 3)
    assert half.bank.dtype == np.float16 and np.allclose(half.bank[[0, 5]], 1 / 3, atol=1e-3)
