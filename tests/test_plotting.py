"""skgloss.plotting: each plot writes a non-empty PNG of the expected size, and bad input is a clear error."""

import struct

import numpy as np
import pytest

pytest.importorskip("matplotlib")
from skgloss import plotting  # noqa: E402

HISTORY = [
    {"epoch": 1, "ce": 0.70, "gloss": 0.66, "loss": 0.67, "steps": 10, "val_score": 0.70, "seconds": 1.0},
    {"epoch": 2, "ce": 0.50, "gloss": 0.52, "loss": 0.51, "pseudo": 0.3, "steps": 10, "val_score": 0.80,
     "seconds": 1.0},
    {"epoch": 3, "ce": 0.40, "gloss": 0.45, "loss": 0.44, "steps": 10, "val_score": 0.78, "seconds": 1.0},
]


def png_size(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_training_curves_png(tmp_path):
    fig = plotting.plot_training_curves(HISTORY, title="fit")
    path = plotting.save_figure(fig, tmp_path / "sub" / "curves.png", dpi=100)
    assert png_size(path) == (800, 320)  # figsize (8.0, 3.2) at 100 dpi
    ax_loss, ax_val = fig.axes
    assert {line.get_label() for line in ax_loss.get_lines()} == {"ce", "gloss", "loss", "pseudo"}
    pseudo = next(line for line in ax_loss.get_lines() if line.get_label() == "pseudo")
    assert list(pseudo.get_xdata()) == [2]  # a term only some epochs had is drawn at those epochs
    assert "best epoch 2" in [t.get_text() for t in ax_val.get_legend().get_texts()]


def test_training_curves_accepts_a_fitted_estimator_and_rejects_others():
    class Fitted:
        history_ = HISTORY

    assert len(plotting.plot_training_curves(Fitted()).axes) == 2
    with pytest.raises(ValueError, match="history_"):
        plotting.plot_training_curves([])


@pytest.mark.parametrize("method", ["pca", "tsne"])
def test_embeddings_png_with_silhouette(tmp_path, method):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 8))
    y = np.array(["a", "b", "c"] * 30, dtype=object)
    X[y == "a"] += 4
    y[:9] = -1
    fig = plotting.plot_embeddings(X, y, method=method, title="after")
    path = plotting.save_figure(fig, tmp_path / f"{method}.png", dpi=100)
    assert png_size(path) == (500, 440)
    ax = fig.axes[0]
    assert "silhouette" in ax.get_title() and ax.get_xlabel() == f"{method.upper()} 1"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["unlabeled", "a", "b", "c"]


def test_embeddings_reject_mismatched_labels():
    with pytest.raises(ValueError, match="labels must have one entry per embedding row"):
        plotting.plot_embeddings(np.zeros((5, 3)), ["a"] * 4)
    with pytest.raises(ValueError, match="method"):
        plotting.plot_embeddings(np.zeros((5, 3)), ["a"] * 5, method="umap")


def test_label_confidence_png_counts_unlabeled_rows_only(tmp_path):
    F = np.array([[0.95, 0.05], [0.6, 0.4], [0.0, 0.0], [1.0, 0.0], [0.2, 0.8]])
    y = np.array([-1, -1, -1, "a", -1], dtype=object)
    fig = plotting.plot_label_confidence(F, y, threshold=0.9)
    path = plotting.save_figure(fig, tmp_path / "conf.png", dpi=100)
    assert png_size(path) == (500, 340)
    ax = fig.axes[0]
    assert "4 rows, 1 not reached by any label" in ax.get_title()
    assert sum(p.get_height() for p in ax.patches) == 3  # the reached unlabeled rows
    assert "threshold 0.9: 33.3 %" in ax.get_legend().get_texts()[0].get_text()
    with pytest.raises(ValueError, match="no unlabeled"):
        plotting.plot_label_confidence(F, ["a"] * 5)


def test_float_labels_mark_unlabeled_rows_like_fit_does():
    """pandas gives float labels after fillna(-1): -1.0 rows are unlabeled, not a class named "-1.0"."""
    rng = np.random.default_rng(0)
    y = np.array([0.0, 1.0, -1.0] * 6)
    fig = plotting.plot_embeddings(rng.normal(size=(18, 5)), y)
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "-1.0" not in legend and any("unlabeled" in t for t in legend)
    F = rng.dirichlet([1, 1], size=18)
    plotting.plot_label_confidence(F, y)  # it refused: "y has no unlabeled (-1) rows"


def test_training_curves_mark_the_epoch_the_fit_kept():
    """Accuracy ties go to the lower validation log-loss, as in the fit (the plot took the first maximum)."""
    history = [{"epoch": e, "loss": 1.0 / e, "val_score": 0.5, "val_log_loss": ll}
               for e, ll in ((1, 0.70), (2, 0.69), (3, 0.65))]
    legend = [t.get_text() for t in plotting.plot_training_curves(history).axes[1].get_legend().get_texts()]
    assert legend == ["best epoch 3"]

    class Fitted:  # an estimator whose fit kept its starting point
        history_, best_epoch_ = history, 0

    legend = [t.get_text() for t in plotting.plot_training_curves(Fitted()).axes[1].get_legend().get_texts()]
    assert legend == ["best epoch 0"]
