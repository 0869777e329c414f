"""The linear head, refitted in closed form on the encoder's current embeddings.

During fine-tuning the head ``p(y | h) = softmax(W h + b)`` learns by the same
gradient steps as the encoder, and with the graph weight λ most of each step's
loss is ``L_G``, which says nothing to the head: a freshly initialised head
lags far behind the embeddings, most of all with many classes and few steps
(:doc:`user_guide`, "A head that keeps up"). skgloss therefore also *fits* the
head, as a convex problem, on the embeddings of the labeled training rows:

- before the first step (linear probing, then fine-tuning: the CE gradient
  that reaches the encoder is meaningful from the first step on);
- after every epoch, before the validation score, so early stopping judges
  the best head for those embeddings;
- once more after the last epoch.

Symbols
-------
h_i
    Pooled embedding of labeled training row i (eval mode, no dropout).
y_i
    Its class id.
s_i
    Its weight (the class weight of ``y_i``; 1 without class weights).
W, b
    The head's weight (C, d) and bias (C,).
C_reg
    Inverse regularisation strength, scikit-learn's ``C``.

The problem is scikit-learn's multinomial logistic regression,
``min_{W,b} Σ_i s_i · CE(W h_i + b, y_i) + ||W||² / (2·C_reg)`` (the bias is not
penalised), solved with L-BFGS on the embeddings' device, warm-started from
the current head.
"""

from __future__ import annotations

import numpy as np
import torch

from .devices import solve_dtype

__all__ = ["fit_linear_head"]


def fit_linear_head(head: torch.nn.Linear, embeddings, y, *, C=1.0, class_weight=None, max_iter=100,
                    tol=1e-6):
    """Fit ``head`` in place by L2-regularised multinomial logistic regression.

    Parameters
    ----------
    head : torch.nn.Linear
        Maps d features to C classes; its weights are the starting point and
        are overwritten with the solution (in their own dtype and device).
    embeddings : array or tensor of shape (n, d)
        ``h_i`` of the labeled rows.
    y : int array of shape (n,)
        Class ids in ``[0, C)``; every row must be labeled.
    C : float > 0, default=1.0
        Inverse regularisation strength ``C_reg`` (scikit-learn's convention:
        the penalty is ``||W||² / (2 C)`` against the summed, not averaged,
        loss, so more rows mean relatively less regularisation).
    class_weight : array of shape (C,), optional
        ``s_i = class_weight[y_i]``.
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
    labels = torch.as_tensor(np.asarray(y), device=device, dtype=torch.long)
    if H.ndim != 2 or H.shape[0] != labels.shape[0] or H.shape[1] != weight.shape[1]:
        raise ValueError(f"embeddings of shape {tuple(H.shape)} do not match {labels.shape[0]} labels and a head "
                         f"on {weight.shape[1]} features")
    if labels.numel() == 0:
        return head
    if labels.min() < 0 or labels.max() >= weight.shape[0]:
        raise ValueError("fit_linear_head takes labeled rows only, with class ids in [0, n_classes)")
    s = torch.ones(labels.shape[0], device=device, dtype=dtype)
    if class_weight is not None:
        s = torch.as_tensor(np.asarray(class_weight), device=device, dtype=dtype)[labels]
    total = s.sum().clamp_min(torch.finfo(dtype).tiny)
    # Divided by Σ s_i: the same minimiser, with gradients of order one.
    penalty = 1.0 / (2.0 * C * total)
    W = weight.detach().to(dtype).clone().requires_grad_(True)
    b = (head.bias.detach().to(dtype).clone() if head.bias is not None
         else torch.zeros(weight.shape[0], device=device, dtype=dtype)).requires_grad_(True)
    opt = torch.optim.LBFGS([W, b], lr=1.0, max_iter=max_iter, tolerance_grad=tol, tolerance_change=1e-12,
                            history_size=20, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        ce = torch.nn.functional.cross_entropy(H @ W.T + b, labels, reduction="none")
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
