"""Losses against plain-numpy (loop-by-loop) references on tiny tuples, the soft loss's
gradient directions, and what build_loss and the losses check. Each loss is built as a stage
builds it: from a validated `methods` entry (softloc.config's model of it)."""

from __future__ import annotations

import math

from typing import Any

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from softloc.config import Method, method_model
from softloc.losses import TupleBatch, build_loss
from softloc.losses.multisimilarity import MultiSimilarityLoss, MultiSimilarityParams
from softloc.losses.soft import SoftContrastiveLoss, SoftContrastiveParams
from softloc.losses.triplet import QuadrupletLoss, QuadrupletParams, TripletLoss, TripletParams
from softloc.params import load_params


def method(loss: str, **keys: Any) -> Method:
    """A validated `methods` entry of `loss` (r1 10 m, r2 25 m unless given)."""
    return method_model(loss).model_validate({"loss": loss, "r1": 10, "r2": 25, **keys})


def make_batch(n_close=3, n_far=4, n_extra=0, batches=2, dim=6, seed=0, normalise=True):
    rng = np.random.default_rng(seed)
    m = 1 + n_close + n_far + n_extra
    f = rng.normal(size=(batches, m, dim))
    if normalise:
        f /= np.linalg.norm(f, axis=-1, keepdims=True)
    pos = np.zeros((batches, m, 2))
    for b in range(batches):  # anchor at a UTM-like origin; close within 12 m, far 20-80 m away
        origin = np.array([620000.0 + 100 * b, 5735000.0])
        angles = rng.uniform(0, 2 * np.pi, size=m)
        radii = np.concatenate([[0.0], rng.uniform(1, 12, n_close), rng.uniform(20, 80, n_far + n_extra)])
        pos[b] = origin + radii[:, None] * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    batch = TupleBatch(torch.tensor(f, dtype=torch.float32), torch.tensor(pos), n_close, n_far, n_extra)
    return batch, f, pos


def sq(u, v):
    return float(np.sum((u - v) ** 2))


def np_triplet(f, p, n, margin, lazy):
    out = []
    for t in f:
        a, close, far = t[0], t[1 : 1 + p], t[1 + p : 1 + p + n]
        best = min(sq(a, c) for c in close)
        hinges = [max(margin + best - sq(a, x), 0.0) for x in far]
        out.append(max(hinges) if lazy else sum(hinges))
    return out


def np_quadruplet(f, p, n, margin, margin2, lazy):
    trip = np_triplet(f, p, n, margin, lazy)
    out = []
    for t, tr in zip(f, trip):
        a, close, far, other = t[0], t[1 : 1 + p], t[1 + p : 1 + p + n], t[1 + p + n]
        best = min(sq(a, c) for c in close)
        hinges = [max(margin2 + best - sq(x, other), 0.0) for x in far]
        out.append(tr + (max(hinges) if lazy else sum(hinges)))
    return float(np.mean(out))


@pytest.mark.parametrize("lazy", [False, True])
def test_triplet_matches_numpy(lazy):
    # Unnormalised features make several hinges active, so sum and max really differ.
    batch, f, _ = make_batch(normalise=False, seed=1)
    loss = build_loss(method("lazy_triplet" if lazy else "triplet", margin=0.5))
    expected = float(np.mean(np_triplet(f, 3, 4, 0.5, lazy)))
    assert expected > 0
    assert float(loss(batch)) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("lazy", [False, True])
def test_quadruplet_matches_numpy(lazy):
    batch, f, _ = make_batch(n_extra=1, normalise=False, seed=2)
    name = "lazy_quadruplet" if lazy else "quadruplet"
    loss = build_loss(method(name, n_extra=1, margin=0.5, margin2=1.0))
    expected = np_quadruplet(f, 3, 4, 0.5, 1.0, lazy)
    assert float(loss(batch)) == pytest.approx(expected, rel=1e-5)


def test_triplet_hand_value():
    # anchor (0,0); close (1,0) and (0,2): best d+ = 1; far (2,0): d = 4, far (1,1): d = 2;
    # margin 1.5: hinges [0, 0.5] -> triplet 0.5, lazy 0.5; extra (1,2): d(far, extra) = 5, 1;
    # margin2 0.2: second hinges [0, 0.2] -> quadruplet 0.7.
    f = torch.tensor([[[0.0, 0], [1, 0], [0, 2], [2, 0], [1, 1], [1, 2]]])
    pos = torch.zeros(1, 6, 2, dtype=torch.float64)
    batch = TupleBatch(f, pos, 2, 2, 1)
    assert float(TripletLoss(TripletParams(margin=1.5))(batch)) == pytest.approx(0.5)
    assert float(QuadrupletLoss(QuadrupletParams(margin=1.5, margin2=0.2))(batch)) == pytest.approx(0.7)


def np_huber(x, delta):
    return 0.5 * x * x if abs(x) <= delta else delta * (abs(x) - 0.5 * delta)


def test_triplet_huber_matches_numpy():
    batch, f, pos = make_batch(seed=3)
    r1 = 10.0
    loss = build_loss(method("triplet_huber", r1=r1, margin=0.3, huber_weight=0.5, delta=0.05))
    trip = np_triplet(f, 3, 4, 0.3, False)
    out = []
    for b in range(f.shape[0]):
        terms = [
            np_huber(sq(f[b, 0], f[b, k]) / 2.0 - sq(pos[b, 0], pos[b, k]) / r1**2, 0.05) for k in range(1, 4)
        ]
        out.append(trip[b] + 0.5 * np.mean(terms))
    assert float(loss(batch)) == pytest.approx(float(np.mean(out)), rel=1e-5)


def test_logratio_matches_numpy():
    batch, f, pos = make_batch(seed=4)
    loss = build_loss(method("logratio", r1=15, r2=15, eps=1e-6))
    out = []
    for b in range(f.shape[0]):
        for i in range(1, 4):
            for j in range(4, 8):
                feat = math.log((sq(f[b, 0], f[b, i]) + 1e-6) / (sq(f[b, 0], f[b, j]) + 1e-6))
                geo = math.log((sq(pos[b, 0], pos[b, i]) + 1e-6) / (sq(pos[b, 0], pos[b, j]) + 1e-6))
                out.append((feat - geo) ** 2)
    assert float(loss(batch)) == pytest.approx(float(np.mean(out)), rel=1e-5)


def np_ms_rows(P, N, pos_sets, neg_sets, alpha, beta, lam):
    rows = []
    for i in range(P.shape[0]):
        pos = sum(math.exp(-alpha * (P[i, j] - lam)) for j in pos_sets[i])
        neg = sum(math.exp(beta * (N[i, j] - lam)) for j in neg_sets[i])
        rows.append(math.log1p(pos) / alpha + math.log1p(neg) / beta)
    return rows


def cos_sim(t):
    return np.maximum(t @ t.T, 0.0)


def np_ms_mine(s, pos_sets, neg_sets, eps):
    """The MS paper's pair mining of each row's positive and negative sets on similarities s."""
    for i in range(len(pos_sets)):
        lo = min(s[i, j] for j in pos_sets[i]) if pos_sets[i] else -np.inf
        hi = max(s[i, j] for j in neg_sets[i]) if neg_sets[i] else np.inf
        pos_sets[i] = [j for j in pos_sets[i] if s[i, j] < hi + eps]
        neg_sets[i] = [j for j in neg_sets[i] if s[i, j] > lo - eps]


@pytest.mark.parametrize("mining", [False, True])
@pytest.mark.parametrize("scope", ["tuple", "batch"])
def test_multisimilarity_matches_numpy(mining, scope):
    batch, f, _ = make_batch(seed=5)
    loss = build_loss(method("multisimilarity", ms_mining=mining, ms_eps=0.1, label_scope=scope))
    labels = [0, 0, 0, 0, 1, 2, 3, 4]
    if scope == "batch":  # every image of the batch one row; the other tuple's classes are distinct
        groups = [(f.reshape(-1, f.shape[-1]), [t * 5 + label for t in range(f.shape[0]) for label in labels])]
    else:
        groups = [(f[b], labels) for b in range(f.shape[0])]
    out = []
    for feats, lab in groups:
        s, m = cos_sim(feats), len(lab)
        pos_sets = [[j for j in range(m) if j != i and lab[j] == lab[i]] for i in range(m)]
        neg_sets = [[j for j in range(m) if lab[j] != lab[i]] for i in range(m)]
        if mining:
            np_ms_mine(s, pos_sets, neg_sets, 0.1)
        out += np_ms_rows(s, s, pos_sets, neg_sets, 2.0, 50.0, 1.0)
    assert float(loss(batch)) == pytest.approx(float(np.mean(out)), rel=1e-5)


def test_multisimilarity_label_scope_by_hand():
    # Two tuples (anchor, 1 close, 1 far) of unit features: a0 = c0 = a1 = e1, f0 = f1 = e2,
    # c1 = e3. Per row, with alpha 2, beta 50, lam 1: pos term log(1 + sum exp(-2 (S - 1))) / 2,
    # neg term log(1 + sum exp(50 (S - 1))) / 50.
    e1, e2, e3 = np.eye(3)
    f = torch.tensor(np.array([[e1, e1, e2], [e1, e3, e2]]), dtype=torch.float32)
    pos = torch.tensor([[[0, 0], [3, 0], [40, 0]], [[500, 0], [503, 0], [540, 0]]], dtype=torch.float64)
    batch = TupleBatch(f, pos, 1, 1)
    t = math.exp(-50)  # a negative with S = 0
    ln = math.log
    # tuple scope: rows a0, c0 (positive S = 1, negative f0 S = 0), f0 (negatives S = 0);
    # a1, c1 (positive S = 0), f1
    per_tuple = [ln(2) / 2 + ln(1 + t) / 50] * 2 + [ln(1 + 2 * t) / 50] + [ln(1 + math.e**2) / 2 + ln(1 + t) / 50] * 2 + [ln(1 + 2 * t) / 50]
    # batch scope: a1 (S = 1 with a0 and c0) is a negative of a0 and c0 and they of a1;
    # f0 and f1 (S = 1) are negatives of each other
    per_batch = [
        ln(2) / 2 + ln(2 + 3 * t) / 50,            # a0: pos c0; neg f0, a1 (S 1), c1, f1
        ln(2) / 2 + ln(2 + 3 * t) / 50,            # c0
        ln(2 + 4 * t) / 50,                        # f0: neg a0, c0, a1, c1, f1 (S 1)
        ln(1 + math.e**2) / 2 + ln(3 + 2 * t) / 50,  # a1: pos c1 (S 0); neg a0, c0 (S 1), f0, f1
        ln(1 + math.e**2) / 2 + ln(1 + 4 * t) / 50,  # c1
        ln(2 + 4 * t) / 50,                        # f1: neg f0 (S 1) and four with S 0
    ]
    by_tuple, by_batch = build_loss(method("multisimilarity", label_scope="tuple")), build_loss(method("multisimilarity"))
    assert float(by_tuple(batch)) == pytest.approx(np.mean(per_tuple), rel=1e-6)
    assert float(by_batch(batch)) == pytest.approx(np.mean(per_batch), rel=1e-6)  # batch: the default
    # one tuple per batch: both scopes agree
    one = TupleBatch(f[:1], pos[:1], 1, 1)
    assert float(by_batch(one)) == pytest.approx(float(by_tuple(one)), rel=1e-6)
    with pytest.raises(ValueError, match="label_scope"):
        MultiSimilarityLoss(MultiSimilarityParams(label_scope="dataset"))


def np_influence(y, kind, tau=15.0, gamma=0.8):
    if kind == "sigmoid":
        return 1 / (1 + math.exp(gamma * (y - tau))), 1 / (1 + math.exp(gamma * (tau - y)))
    if kind == "linear":
        return max(1 - y / tau, 0.0), min(y / tau, 1.0)
    return 1 - math.tanh(y / tau), math.tanh(y / tau)


@pytest.mark.parametrize("kind", ["sigmoid", "linear", "tanh"])
@pytest.mark.parametrize("combine", ["logsumexp", "sum"])
def test_soft_released_matches_numpy(kind, combine):
    batch, f, pos = make_batch(seed=6)
    cfg = method("soft_contrastive", r1=15, r2=15, form="released", influence=kind, combine=combine, ms_mining=False)
    out = []
    for b in range(f.shape[0]):
        s = cos_sim(f[b])
        m = s.shape[0]
        w = [[np_influence(float(np.linalg.norm(pos[b, i] - pos[b, j])), kind) for j in range(m)] for i in range(m)]
        P = np.array([[w[i][j][0] * s[i, j] for j in range(m)] for i in range(m)])
        N = np.array([[w[i][j][1] * s[i, j] for j in range(m)] for i in range(m)])
        pos_sets = [[j for j in range(m) if j != i and w[i][j][0] > 0] for i in range(m)]
        neg_sets = [[j for j in range(m) if j != i and w[i][j][1] > 0] for i in range(m)]
        if combine == "sum":
            out += [sum(N[i, j] for j in neg_sets[i]) - sum(P[i, j] for j in pos_sets[i]) for i in range(m)]
        else:
            out += np_ms_rows(P, N, pos_sets, neg_sets, 2.0, 50.0, 1.0)
    assert float(build_loss(cfg)(batch)) == pytest.approx(float(np.mean(out)), rel=1e-5, abs=1e-7)


@pytest.mark.parametrize("combine", ["logsumexp", "sum"])
def test_soft_released_with_ms_mining_matches_numpy(combine):
    batch, f, pos = make_batch(seed=9)
    cfg = method("soft_contrastive", combine=combine, ms_eps=0.05)  # ms_mining: on by default
    out = []
    for b in range(f.shape[0]):
        s = cos_sim(f[b])
        m = s.shape[0]
        w = [[np_influence(float(np.linalg.norm(pos[b, i] - pos[b, j])), "sigmoid") for j in range(m)] for i in range(m)]
        P = np.array([[w[i][j][0] * s[i, j] for j in range(m)] for i in range(m)])
        N = np.array([[w[i][j][1] * s[i, j] for j in range(m)] for i in range(m)])
        pos_sets, neg_sets = [], []
        for i in range(m):  # the release's rule: least similar positive on soft weights
            others = [j for j in range(m) if j != i]
            top = max(P[i, j] for j in others)
            lo = top + min(0.0, min(w[i][j][0] * (s[i, j] - top) for j in others))
            hi = max(N[i, j] for j in others)
            pos_sets.append([j for j in others if P[i, j] < hi + 0.05])
            neg_sets.append([j for j in others if N[i, j] > lo - 0.05])
        if combine == "sum":
            out += [sum(N[i, j] for j in neg_sets[i]) - sum(P[i, j] for j in pos_sets[i]) for i in range(m)]
        else:
            out += np_ms_rows(P, N, pos_sets, neg_sets, 2.0, 50.0, 1.0)
    mined = float(build_loss(cfg)(batch))
    assert mined == pytest.approx(float(np.mean(out)), rel=1e-5, abs=1e-7)
    assert mined != pytest.approx(float(build_loss(cfg.model_copy(update={"ms_mining": False}))(batch)), rel=1e-3)


def test_soft_released_ms_mining_by_hand():
    # One tuple on a line, linear influence with tau = 10 m (w+ = 1 - y/10 within 10 m, w- = y/10):
    # anchor 0 at x = 0, close 1 at 5 m, close 2 at 2 m, far 3 at 40 m; unit features
    # f0 = f1 = (1, 0), f2 = (0.8, 0.6), f3 = (0.5, sqrt(0.75)).
    c = math.sqrt(0.75)
    f = torch.tensor([[[1.0, 0.0], [1.0, 0.0], [0.8, 0.6], [0.5, c]]])
    pos = torch.tensor([[[0.0, 0.0], [5.0, 0.0], [2.0, 0.0], [40.0, 0.0]]], dtype=torch.float64)
    batch = TupleBatch(f, pos, 2, 1)
    s23 = 0.4 + 0.6 * c
    # S01 = 1, S02 = S12 = 0.8, S03 = S13 = 0.5, S23 = 0.9196; w+ 01 .5, 02 .8, 12 .7, far 0.
    # Row 0: P = (.5, .64), max P .64, m_0 = .64 + min(0, .5 (1 - .64), .8 (.8 - .64)) = .64;
    #   N = (.5, .16, .5), max N .5: positives kept if P < .6 -> j1 only; negatives if N > .54: none.
    #   (the multi-similarity rule on P, m_0 = min P = .5, would keep the negatives 1 and 3)
    # Row 1: P = (.5, .56), m_1 = .56, N = (.5, .24, .5): positives 0, 2 (< .6); negatives 0, 3 (> .46).
    # Row 2: P = (.64, .56), m_2 = .64, N = (.16, .24, .9196): positives 0, 1 (< 1.02); negative 3 (> .54).
    # Row 3: no positive (m_3 = 0); negatives 0, 1, 2 (N = .5, .5, .9196 > -.1).
    ln, e = math.log, math.exp
    rows = [
        ln(1 + e(1.0)) / 2,
        ln(1 + e(1.0) + e(0.88)) / 2 + ln(1 + 2 * e(-25.0)) / 50,
        ln(1 + e(0.72) + e(0.88)) / 2 + ln(1 + e(50 * (s23 - 1))) / 50,
        ln(1 + 2 * e(-25.0) + e(50 * (s23 - 1))) / 50,
    ]
    cfg = method("soft_contrastive", form="released", influence="linear", tau=10.0)
    assert float(build_loss(cfg)(batch)) == pytest.approx(np.mean(rows), rel=1e-5)  # ms_mining: the default
    # without mining every pair with a non-zero weight counts (row 0 keeps both positives, all negatives)
    unmined0 = ln(1 + e(1.0) + e(0.72)) / 2 + ln(1 + e(-25.0) + e(50 * (0.16 - 1)) + e(-25.0)) / 50
    rows_off = [unmined0,
                ln(1 + e(1.0) + e(0.88)) / 2 + ln(1 + e(-25.0) + e(50 * (0.24 - 1)) + e(-25.0)) / 50,
                ln(1 + e(0.72) + e(0.88)) / 2 + ln(1 + e(50 * (0.16 - 1)) + e(50 * (0.24 - 1)) + e(50 * (s23 - 1))) / 50,
                rows[3]]
    assert float(build_loss(cfg.model_copy(update={"ms_mining": False}))(batch)) == pytest.approx(np.mean(rows_off), rel=1e-5)


@pytest.mark.parametrize("kind", ["sigmoid", "linear", "tanh"])
@pytest.mark.parametrize("combine", ["logsumexp", "sum"])
def test_soft_paper_matches_numpy(kind, combine):
    batch, f, pos = make_batch(seed=7)
    eta, mu, nu = 4.0, 3.0, 5.0
    cfg = method("soft_contrastive", form="paper", influence=kind, combine=combine, eta=eta, mu=mu, nu=nu)
    out = []
    for b in range(f.shape[0]):
        sp, sm = [], []
        for i in range(1, f.shape[1]):
            gp, gm = np_influence(float(np.linalg.norm(pos[b, i] - pos[b, 0])), kind)
            d = float(np.linalg.norm(f[b, i] - f[b, 0]))
            sp.append(gp * d)
            sm.append(gm * d)
        if combine == "sum":
            out.append(sum(sp) - sum(sm))
        else:
            pull = math.log1p(sum(math.exp(eta * x - mu) for x in sp)) / eta
            push = math.log1p(sum(math.exp(mu - nu * x) for x in sm)) / nu
            out.append(pull + push)
    assert float(build_loss(cfg)(batch)) == pytest.approx(float(np.mean(out)), rel=1e-5)


def test_influence_roles_follow_definition_4_1():
    # g+ decreasing (pull weight of close images), g- increasing, crossing at tau (eq. 4 swaps them).
    from softloc.losses.soft import influence

    y = torch.tensor([0.0, 5.0, 15.0, 25.0, 60.0])
    g_plus, g_minus = influence(y, "sigmoid", tau=15.0, gamma=0.8)
    assert torch.all(g_plus[1:] < g_plus[:-1]) and torch.all(g_minus[1:] > g_minus[:-1])
    assert g_plus[2] == pytest.approx(0.5) and g_minus[2] == pytest.approx(0.5)
    assert g_plus[0] > 0.99 and g_minus[-1] > 0.99


# Gradient directions. Three unit features: anchor a, image i (S(a, i) = 0.3), image j
# (S(a, j) = 0.9: a hard far image, the only kind the multi-similarity push acts on);
# S(i, j) < 0, so that in the released form the clamp cuts the i-j pair and i, j interact with
# the anchor only.
A = np.array([1.0, 0.0, 0.0])
FI = np.array([0.3, math.sqrt(0.91), 0.0])
FJ = np.array([0.9, -math.sqrt(0.19), 0.0])


def grads_toward_anchor(cfg, y_i, y_j):
    """d loss / d step of i (and of j) toward the anchor: < 0 = pulled, > 0 = pushed."""
    f = torch.tensor(np.stack([A, FI, FJ])[None], dtype=torch.float32, requires_grad=True)
    angle_j = 2.0  # radians: puts j away from i too
    pos = torch.tensor([[[0.0, 0.0], [y_i, 0.0], [y_j * math.cos(angle_j), y_j * math.sin(angle_j)]]], dtype=torch.float64)
    build_loss(cfg)(TupleBatch(f, pos, 1, 1)).backward()
    g = f.grad[0].numpy()
    return float(g[1] @ (A - FI)), float(g[2] @ (A - FJ)), g


@pytest.mark.parametrize("form", ["paper", "released"])
@pytest.mark.parametrize("combine", ["logsumexp", "sum"])
def test_soft_close_pulled_far_pushed(form, combine):
    cfg = method("soft_contrastive", form=form, influence="sigmoid", combine=combine)
    toward_i, toward_j, _ = grads_toward_anchor(cfg, y_i=4.0, y_j=40.0)
    assert toward_i < 0, "a close image (y < tau) must be pulled toward the anchor"
    assert toward_j > 0, "a far image (y > tau) must be pushed away from the anchor"


@pytest.mark.parametrize("form", ["paper", "released"])
@pytest.mark.parametrize("kind", ["sigmoid", "linear", "tanh"])
def test_soft_sum_pull_push_for_every_influence(form, kind):
    cfg = method("soft_contrastive", form=form, influence=kind, combine="sum")
    toward_i, toward_j, _ = grads_toward_anchor(cfg, y_i=3.0, y_j=40.0)
    assert toward_i < 0 and toward_j > 0


@pytest.mark.parametrize("form", ["paper", "released"])
@pytest.mark.parametrize("kind, crossing", [("sigmoid", 15.0), ("linear", 7.5), ("tanh", 15.0 * math.atanh(0.5))])
def test_soft_sum_no_force_at_crossing(form, kind, crossing):
    # Sum variant: an image where g+ = g- (tau for the sigmoid) feels no force at all.
    cfg = method("soft_contrastive", form=form, influence=kind, combine="sum")
    _, toward_j, g = grads_toward_anchor(cfg, y_i=crossing, y_j=40.0)
    assert np.abs(g[1]).max() < 1e-6
    assert toward_j > 0  # the far image is still pushed: the test sees real gradients


@pytest.mark.parametrize("form", ["paper", "released"])
def test_soft_ignores_extra_images(form):
    batch, _, _ = make_batch(n_extra=1, seed=8)
    f = batch.features.clone().requires_grad_()
    build_loss(method("soft_contrastive", form=form))(TupleBatch(f, batch.positions, 3, 4, 1)).backward()
    assert torch.all(f.grad[:, -1] == 0)
    assert f.grad[:, 0].abs().sum() > 0


def test_build_loss_and_the_losses_check_what_they_are_given():
    # softloc.config checks names, keys, types, bounds and n_extra (tests/test_config.py, test_faults.py)
    assert build_loss(method("none")) is None
    with pytest.raises(ValidationError, match="gama"):
        method("soft_contrastive", gama=0.8)
    # a loss built without the schema still refuses keys of the other form and unknown choices
    with pytest.raises(ValueError, match="form 'paper'"):
        build_loss(method("soft_contrastive", form="paper", beta=50.0))
    with pytest.raises(ValueError, match="influence"):
        SoftContrastiveLoss(SoftContrastiveParams(influence="cosine"))


def test_every_params_method_builds():
    methods = load_params().methods
    assert {"soft", "soft_paper", "soft_linear", "soft_tanh", "soft_sum", "triplet", "quadruplet", "lazy_triplet",
            "lazy_quadruplet", "triplet_huber", "logratio", "multisimilarity", "offtheshelf"} <= set(methods)
    for name, entry in methods.items():
        loss = build_loss(entry)
        assert (loss is None) == (entry.loss == "none"), name
        assert {"r1", "r2", "n_extra"} <= entry.model_fields_set, name
    assert methods["soft"].r1 == methods["soft"].r2 == 15 and methods["triplet"].r2 == 25


def test_tuple_batch_rejects_bad_shapes_and_float32_utm():
    f = torch.zeros(1, 5, 4)
    with pytest.raises(ValueError, match="M = 1"):
        TupleBatch(f, torch.zeros(1, 5, 2, dtype=torch.float64), 2, 3)
    with pytest.raises(ValueError, match="float64"):
        TupleBatch(f, torch.full((1, 5, 2), 5.7e6), 2, 2)


def test_every_method_trains_end_to_end_on_the_small_network():
    # One tuple of real network outputs through each params method: finite loss and gradients,
    # and the summed losses back-propagate to the first convolution.
    from softloc.models import build_network, preprocess

    params = load_params()
    net = build_network(params.model.model_copy(update={"backbone": "small", "init": "random", "clusters": 4}), 0)
    gen = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (1 + 2 + 3 + 1, 24, 32, 3), dtype=torch.uint8, generator=gen)
    positions = torch.tensor([[0, 0], [3, 1], [-2, 5], [30, 0], [0, 45], [-60, 10], [200, 200]], dtype=torch.float64)
    out = net(preprocess(images))
    total = 0.0
    for name, entry in params.methods.items():
        loss_fn = build_loss(entry)
        if loss_fn is None:
            continue
        n_extra = entry.n_extra
        keep = list(range(6)) + ([6] if n_extra else [])
        loss = loss_fn(TupleBatch(out[keep][None], positions[keep][None], 2, 3, n_extra))
        (grad,) = torch.autograd.grad(loss, out, retain_graph=True)
        assert torch.isfinite(loss) and torch.isfinite(grad).all() and grad.abs().sum() > 0, name
        total = total + loss
    total.backward()
    first = net.backbone[0].weight.grad
    assert torch.isfinite(first).all() and first.abs().sum() > 0


def test_every_loss_file_registers_itself_without_an_import_list():
    # A new loss is its file plus a params entry: softloc/losses/__init__.py imports every module.
    import sys
    from pathlib import Path

    from softloc.losses import LOSSES
    files = {p.stem for p in Path(sys.modules["softloc.losses"].__file__).parent.glob("*.py")} - {"__init__", "registry"}
    registering = {spec.params.__module__.rpartition(".")[2] for spec in LOSSES.values()}
    assert registering == files
