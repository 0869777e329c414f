"""The linear head, refitted in closed form on the encoder's current embeddings.

During fine-tuning the head ``p(y | h) = softmax(W h + b)`` learns by the same
gradient steps as the encoder, and with the graph weight λ most of each step's
loss is ``L_G``, which says nothing to the head: a freshly initialised head
lags far behind the embeddings, most of all with many classes and few steps
(:doc:`user_guide`, "A head that keeps up"). skgloss therefore also *fits*
the head, as a convex problem, on the embeddings of the training rows:

- at the start, on the pre-trained encoder: with validation rows, that
  starting point (what logistic regression on the frozen encoder would
  give) is scored as epoch 0 and can be what ``fit`` keeps;
- after every epoch, as a copy that competes with the trained head on the
  validation rows (that epoch's snapshot keeps it when it is better beyond
  paired noise, :func:`skgloss.training.better_beyond_noise`; training goes on
  with the trained head);
- after the last epoch of a fit without validation rows, which has nothing
  to choose with: there the closed-form head replaces the trained one.

The fitted head never enters training. Two versions that let it in were
measured and dropped: installing it before the first step (linear probing,
then fine-tuning) kept MR's encoder too close to its pre-trained, topic-
shaped space, and replacing the trained head at every epoch's end made the
encoder's CE target jump; both cost MR several points.

In a semi-supervised fit, the rows that train on a pseudo-label (``-1`` rows
whose label-spreading distribution ``F_i`` is confident, :mod:`skgloss.corpus`)
join the problem with ``F_i`` as a soft target, as they do in the head's
gradient steps: the refit is the closed-form solution of the head's own
training objective.

Symbols
-------
h_i
    Pooled embedding of labeled training row i (eval mode, no dropout).
t_i
    Its target: one-hot of its class id, or a soft distribution ``F_i``.
s_i
    Its weight (the class weight of its class; 1 without class weights; a
    caller may pass other weights).
W, b
    The head's weight (C, d) and bias (C,).
C_reg
    Inverse regularisation strength, scikit-learn's ``C``.

The problem is scikit-learn's multinomial logistic regression,
``min_{W,b} Σ_i s_i · CE(W h_i + b, t_i) + ||W||² / (2·C_reg)`` (the bias is not
penalised; ``CE(z, t) = -Σ_c t_c log softmax(z)_c``), solved with L-BFGS on
the embeddings' device, warm-started from the current head.
"""

from __future__ import annotations

import numpy as np
import torch

from .devices import solve_dtype

__all__ = ["fit_linear_head"]


def fit_linear_head(head: torch.nn.Linear, embeddings, y, *, C=1.0, class_weight=None, sample_weight=None,
                    max_iter=100, tol=1e-6, multilabel=False):
    """Fit ``head`` in place by L2-regularised multinomial logistic regression.

    With ``multilabel=True``, one binary logistic regression per label
    instead (scikit-learn's one-vs-rest ``LogisticRegression``): the
    problem is ``Σ_l [Σ_i s_i · BCE(w_l·h_i + b_l, y_il) + ||w_l||² / (2·C_reg)]``,
    whose labels are independent, solved together.

    Parameters
    ----------
    head : torch.nn.Linear
        Maps d features to C classes; its weights are the starting point and
        are overwritten with the solution (in their own dtype and device).
    embeddings : array or tensor of shape (n, d)
        ``h_i`` of the labeled rows.
    y : int array of shape (n,), or float array of shape (n, C)
        Class ids in ``[0, C)`` (every row labeled), or soft targets whose
        rows sum to 1; with ``multilabel``, 0/1 (or soft) targets per label.
    C : float > 0, default=1.0
        Inverse regularisation strength ``C_reg`` (scikit-learn's convention:
        the penalty is ``||W||² / (2 C)`` against the summed, not averaged,
        loss, so more rows mean relatively less regularisation).
    class_weight : array of shape (C,), optional
        ``s_i = class_weight[y_i]`` (for soft targets: ``Σ_c t_ic · class_weight[c]``).
    sample_weight : array of shape (n,), optional
        Multiplies ``s_i``.
    max_iter : int, default=100
        L-BFGS iterations.
    tol : float, default=1e-6
        L-BFGS stops when the largest gradient entry falls below it.

    Returns
    -------
    head : torch.nn.Linear
        The same module.
    """
    weight = head.weight
    device = weight.device
    dtype = solve_dtype(device)
    H = torch.as_tensor(np.asarray(embeddings) if not torch.is_tensor(embeddings) else embeddings)
    H = H.detach().to(device=device, dtype=dtype)
    y = np.asarray(y)
    n_classes = weight.shape[0]
    if H.ndim != 2 or H.shape[0] != y.shape[0] or H.shape[1] != weight.shape[1]:
        raise ValueError(f"embeddings of shape {tuple(H.shape)} do not match {y.shape[0]} targets and a head "
                         f"on {weight.shape[1]} features")
    if y.shape[0] == 0:
        return head
    if not torch.isfinite(H).all():
        raise ValueError("embeddings contain NaN or infinite values: the head cannot be fitted on them")
    if multilabel:
        if class_weight is not None:
            raise ValueError("class_weight is not defined for multi-label targets")
        if y.ndim != 2 or y.shape[1] != n_classes or not np.all((y >= 0) & (y <= 1)):
            raise ValueError(f"multi-label targets must lie in [0, 1] and have shape (n, {n_classes}), got {y.shape}")
        targets = torch.as_tensor(y.astype(np.float64))
    elif y.ndim == 1:
        if y.min() < 0 or y.max() >= n_classes:
            raise ValueError("fit_linear_head takes labeled rows only, with class ids in [0, n_classes)")
        targets = torch.nn.functional.one_hot(torch.as_tensor(y, device=device, dtype=torch.long), n_classes)
    elif y.shape[1] != n_classes or not np.all(np.isfinite(y)) or (y < 0).any():
        raise ValueError(f"soft targets must be finite, non-negative and of shape (n, {n_classes}), "
                         f"got shape {y.shape}")
    else:
        targets = torch.as_tensor(y)
    targets = targets.to(device=device, dtype=dtype)
    s = torch.ones(y.shape[0], device=device, dtype=dtype)
    if class_weight is not None and not multilabel:
        s = targets @ torch.as_tensor(np.asarray(class_weight), device=device, dtype=dtype)
    if sample_weight is not None:
        s = s * torch.as_tensor(np.asarray(sample_weight), device=device, dtype=dtype)
    if not torch.isfinite(s).all() or (s < 0).any() or not (s > 0).any():
        raise ValueError("class_weight and sample_weight must give finite weights >= 0, not all 0")
    total = s.sum()
    # Divided by Σ s_i: the same minimiser, with gradients of order one.
    penalty = 1.0 / (2.0 * C * total)
    W = weight.detach().to(dtype).clone().requires_grad_(True)
    b = (head.bias.detach().to(dtype).clone() if head.bias is not None
         else torch.zeros(weight.shape[0], device=device, dtype=dtype)).requires_grad_(True)
    opt = torch.optim.LBFGS([W, b], lr=1.0, max_iter=max_iter, tolerance_grad=tol, tolerance_change=1e-12,
                            history_size=20, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        Z = H @ W.T + b
        if multilabel:
            ce = torch.nn.functional.binary_cross_entropy_with_logits(Z, targets, reduction="none").sum(dim=1)
        else:
            ce = -(targets * torch.log_softmax(Z, dim=1)).sum(dim=1)
        loss = (s * ce).sum() / total + penalty * (W * W).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
    with torch.no_grad():
        weight.copy_(W.to(weight.dtype))
        if head.bias is not None:
            head.bias.copy_(b.to(head.bias.dtype))
    return head
