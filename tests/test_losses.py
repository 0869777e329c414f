import pytest
import torch
import torch.nn.functional as F

from skgloss.graph import batch_affinity
from skgloss.losses import GLoss, SupConLoss, g_loss, stratified_mask, supcon_loss
from skgloss.propagation import harmonic_propagation


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_stratified_mask_keeps_one_labeled_node_per_class():
    labels = torch.tensor([0, 0, 0, 0, 1, 1, 2, -1, -1, 3, 3, 3])
    for seed in range(20):
        masked = stratified_mask(labels, 0.5, gen(seed))
        assert not masked[labels < 0].any()
        for c in range(4):
            rows = labels == c
            assert (rows & ~masked).sum() >= 1
        # class 0: round(0.5*4)=2 kept, class 1: 1 kept, class 2 (singleton): kept
        assert int((masked & (labels == 0)).sum()) == 2
        assert int((masked & (labels == 2)).sum()) == 0


def test_g_loss_equals_formula_on_its_own_split():
    torch.manual_seed(0)
    h = torch.randn(10, 6, dtype=torch.float64)
    y = torch.tensor([0, 0, 0, 1, 1, 1, 2, 2, -1, -1])
    loss = g_loss(h, y, gamma=0.6, sigma=0.7, generator=gen(3))
    masked = stratified_mask(y, 0.6, gen(3))
    prop = y.clone()
    prop[masked] = -1
    Fu = harmonic_propagation(batch_affinity(h, 0.7), prop, 3)
    pos = torch.cumsum(prop < 0, 0) - 1
    expected = -torch.log(Fu[pos[masked], y[masked]]).mean()
    torch.testing.assert_close(loss, expected)


def test_g_loss_class_weight_scales_rows():
    torch.manual_seed(0)
    h = torch.randn(8, 4, dtype=torch.float64)
    y = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])
    base = g_loss(h, y, sigma=0.5, generator=gen(1))
    doubled = g_loss(h, y, sigma=0.5, class_weight=[2.0, 2.0], generator=gen(1))
    torch.testing.assert_close(doubled, 2 * base)


def test_g_loss_sample_weight_weighs_each_masked_row():
    torch.manual_seed(0)
    h = torch.randn(10, 6, dtype=torch.float64)
    y = torch.tensor([0, 0, 0, 1, 1, 1, 2, 2, -1, -1])
    w = torch.tensor([0.5, 1.0, 2.0, 0.0, 3.0, 1.0, 1.5, 1.0, 7.0, 9.0], dtype=torch.float64)
    masked = stratified_mask(y, 0.6, gen(3))
    prop = y.clone()
    prop[masked] = -1
    Fu = harmonic_propagation(batch_affinity(h, 0.7), prop, 3)
    pos = torch.cumsum(prop < 0, 0) - 1
    expected = -(w[masked] * torch.log(Fu[pos[masked], y[masked]])).sum() / masked.sum()
    torch.testing.assert_close(g_loss(h, y, gamma=0.6, sigma=0.7, generator=gen(3), sample_weight=w), expected)
    ones = g_loss(h, y, gamma=0.6, sigma=0.7, generator=gen(3), sample_weight=torch.ones(10, dtype=torch.float64))
    torch.testing.assert_close(ones, g_loss(h, y, gamma=0.6, sigma=0.7, generator=gen(3)))


def test_cross_entropy_sample_weight_is_a_weighted_mean():
    from skgloss.losses._base import labeled_cross_entropy, soft_cross_entropy

    torch.manual_seed(0)
    logits = torch.randn(5, 3)
    y = torch.tensor([0, 2, 1, -1, 2])
    w = torch.tensor([2.0, 0.0, 1.0, 5.0, 1.0])
    # weight 2 is the row twice, weight 0 the row left out; the -1 row has no CE whatever its weight
    dup = torch.tensor([0, 0, 2, 4])
    expected = F.cross_entropy(logits[dup], y[dup])
    torch.testing.assert_close(labeled_cross_entropy(logits, y, sample_weight=w), expected)
    cw = torch.tensor([1.0, 3.0, 0.5])
    expected = (F.cross_entropy(logits[dup], y[dup], reduction="none") * cw[y[dup]]).sum() / cw[y[dup]].sum()
    torch.testing.assert_close(labeled_cross_entropy(logits, y, cw, sample_weight=w), expected)
    targets = torch.softmax(torch.randn(5, 3), dim=1)
    mask = torch.tensor([True, True, False, True, False])
    per_row = -(targets * torch.log_softmax(logits, 1)).sum(1)
    torch.testing.assert_close(soft_cross_entropy(logits, targets, mask, w),
                               (2 * per_row[0] + 5 * per_row[3]) / 7)


def test_g_loss_is_lower_for_clustered_embeddings():
    y = torch.tensor([0] * 8 + [1] * 8)
    centers = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    torch.manual_seed(0)
    clustered = centers[y] + 0.05 * torch.randn(16, 3)
    shuffled = centers[y[torch.randperm(16)]] + 0.05 * torch.randn(16, 3)
    assert g_loss(clustered, y, sigma=0.3, generator=gen(0)) < 0.1
    assert g_loss(shuffled, y, sigma=0.3, generator=gen(0)) > 0.5


def test_g_loss_gradient_moves_unlabeled_rows_too():
    """-1 rows are graph nodes: L_G depends on their embeddings."""
    torch.manual_seed(0)
    h = torch.randn(8, 5, requires_grad=True)
    y = torch.tensor([0, 0, 0, 1, 1, 1, -1, -1])
    g_loss(h, y, sigma=0.5, generator=gen(0)).backward()
    assert torch.isfinite(h.grad).all()
    assert h.grad[6:].abs().sum() > 0


@pytest.mark.parametrize(
    "labels",
    [
        [0, -1, -1, -1],  # one labeled row
        [-1, -1, -1, -1],  # none
        [0, 1, 2, 3],  # all singletons: nothing can be masked
    ],
)
def test_degenerate_batches_give_zero_with_graph(labels):
    h = torch.randn(4, 3, requires_grad=True)
    loss = g_loss(h, torch.tensor(labels), sigma=0.5, generator=gen(0))
    assert loss.item() == 0.0
    loss.backward()
    assert torch.equal(h.grad, torch.zeros_like(h))


def test_g_loss_never_nan_with_tiny_sigma_or_identical_rows():
    y = torch.tensor([0, 0, 0, 1, 1, 1])
    for h in (torch.randn(6, 4), torch.ones(6, 4)):
        h.requires_grad_(True)
        for sigma in (0.01, 0.1, 10.0):
            loss = g_loss(h, y, sigma=sigma, generator=gen(0))
            loss.backward()
            assert torch.isfinite(loss) and torch.isfinite(h.grad).all()


def test_gloss_module_mixes_with_ce_and_counts_degenerate():
    torch.manual_seed(0)
    h = torch.randn(6, 4)
    logits = torch.randn(6, 2, requires_grad=True)
    y = torch.tensor([0, 0, 0, 1, 1, -1])
    module = GLoss(lam=0.25, sigma=0.5, seed=7)
    terms = module.terms(h, y, logits)
    torch.testing.assert_close(terms["ce"], F.cross_entropy(logits[:5], y[:5]))
    torch.testing.assert_close(terms["loss"], 0.75 * terms["ce"] + 0.25 * terms["gloss"])
    torch.testing.assert_close(terms["gloss"], g_loss(h, y, sigma=0.5, generator=gen(7)))
    module(h, torch.tensor([0, 1, -1, -1, -1, -1]))
    assert module.n_batches == 2 and module.n_degenerate == 1


def test_unlabeled_rows_get_no_ce_gradient():
    logits = torch.randn(6, 2, requires_grad=True)
    y = torch.tensor([0, 0, 1, 1, -1, -1])
    GLoss(lam=0.5, sigma=0.5, seed=0)(torch.randn(6, 4), y, logits).backward()
    assert torch.equal(logits.grad[4:], torch.zeros(2, 2))
    assert logits.grad[:4].abs().sum() > 0


def test_gloss_module_rejects_bad_parameters():
    with pytest.raises(ValueError, match="lam"):
        GLoss(lam=1.5)
    with pytest.raises(ValueError, match="gamma"):
        GLoss(gamma=1.0)


def test_supcon_matches_reference_loop():
    torch.manual_seed(0)
    h = torch.randn(7, 4)
    y = torch.tensor([0, 0, 1, 1, 1, 2, -1])
    tau = 0.5
    z = F.normalize(h[:6], dim=1)
    yl = y[:6]
    total, anchors = 0.0, 0
    for i in range(6):
        pos = [p for p in range(6) if p != i and yl[p] == yl[i]]
        if not pos:
            continue
        denom = sum(torch.exp(z[i] @ z[a] / tau) for a in range(6) if a != i)
        total += -sum(torch.log(torch.exp(z[i] @ z[p] / tau) / denom) for p in pos) / len(pos)
        anchors += 1
    torch.testing.assert_close(supcon_loss(h, y, temperature=tau), total / anchors)
    assert SupConLoss(lam=1.0, temperature=tau)(h, y).item() == pytest.approx(float(total / anchors), rel=1e-5)


def test_supcon_degenerate_is_zero():
    h = torch.randn(3, 4, requires_grad=True)
    loss = supcon_loss(h, torch.tensor([0, 1, 2]))
    loss.backward()
    assert loss.item() == 0.0 and torch.isfinite(h.grad).all()
