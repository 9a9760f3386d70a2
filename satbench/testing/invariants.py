"""Invariant checkers for splits and FPE expansions. Each raises AssertionError naming the parent,
child and input at fault, so a failing property test says what broke, not just that it broke.
"""

import numpy as np
import torch

from satbench.models.fpe import Expansion
from satbench.models.mlp import MLP
from satbench.models.splitters import SplitContext, Splitter, group_sizes, split_problems


def check_split(child, alpha: int, context: SplitContext, *, n_parents: int | None = None,
                max_imbalance: int | None = None, shared: bool = False) -> None:
    """A splitter's output is valid: shape (h, n_inputs), int8, labels in [0, alpha), no empty
    child; with max_imbalance, each parent's group sizes differ by at most that many inputs; with
    shared, every parent has the same partition.
    """
    problems = split_problems(child, alpha, context, n_parents)
    if problems:
        raise AssertionError("; ".join(problems))
    child = np.asarray(child)
    if max_imbalance is not None:
        sizes = group_sizes(child, alpha)
        spread = sizes.max(axis=1) - sizes.min(axis=1)
        for i in np.flatnonzero(spread > max_imbalance)[:1]:
            raise AssertionError(f"parent {i}: child sizes {sizes[i].tolist()} differ by "
                                 f"{spread[i]} > {max_imbalance}")
    if shared:
        for i, j in np.argwhere(child != child[:1])[:1]:
            raise AssertionError(f"shared split: parent {i} sends input {j} to child "
                                 f"{child[i, j]}, parent 0 to child {child[0, j]}")


def check_splitter(splitter: Splitter, alpha: int, context: SplitContext,
                   rng: np.random.Generator, *, n_parents: int = 3,
                   max_imbalance: int | None = None) -> np.ndarray:
    """Run a splitter on random parent weights and check_split its output (shared as declared)."""
    weight = rng.standard_normal((n_parents, context.n_inputs)).astype(np.float32)
    child = splitter.split(weight, alpha, context, rng)
    check_split(child, alpha, context, n_parents=n_parents, max_imbalance=max_imbalance,
                shared=splitter.shared)
    return child


def _weights(model: MLP):
    return (model.fc1.effective_weight().detach(), model.fc2.effective_weight().detach())


def _biases(model: MLP):
    return [None if b is None else b.detach() for b in (model.fc1.bias, model.fc2.bias)]


def _same_bias(a, b) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and torch.equal(a, b))


def check_fpe_invariants(dense: MLP, expansion: Expansion, *, atol: float = 1e-5) -> None:
    """Every FPE invariant that holds for any splitter and either output scale."""
    alpha, model, unpruned = expansion.alpha, expansion.model, expansion.unpruned
    h, d, o = dense.width, dense.n_inputs, dense.n_outputs
    for label, m in (("model", model), ("unpruned", unpruned)):
        shape = (m.n_inputs, m.width, m.n_outputs)
        if shape != (d, alpha * h, o):
            raise AssertionError(f"{label}: (inputs, width, outputs) = {shape}, expected "
                                 f"({d}, {alpha * h}, {o}) for alpha={alpha}")
    problems = split_problems(expansion.child, alpha, _plain_context(d), n_parents=h)
    if problems:
        raise AssertionError(f"child: {problems[0]}")
    if expansion.budget != dense.nnz_weights() or model.nnz_weights() != expansion.budget:
        raise AssertionError(f"budget: dense nnz(W1)+nnz(W2) = {dense.nnz_weights()}, "
                             f"expansion.budget = {expansion.budget}, model has "
                             f"{model.nnz_weights()}")
    if alpha == 1:
        _check_identity(dense, model, "model")
        _check_identity(dense, unpruned, "unpruned")
        return
    _check_supports(dense, expansion)
    _check_input_weights(dense, unpruned, alpha, atol)
    _check_biases(dense, unpruned, alpha)
    _check_output_weights(dense, unpruned, alpha, expansion.output_scale)
    _check_pruning(unpruned, model)


def _plain_context(n_inputs: int) -> SplitContext:
    return SplitContext.without_clauses(n_inputs)


def _check_identity(dense: MLP, other: MLP, label: str) -> None:
    for name, a, b in (("fc1", dense.fc1, other.fc1), ("fc2", dense.fc2, other.fc2)):
        if not torch.equal(a.mask, b.mask) or not torch.equal(a.effective_weight(),
                                                              b.effective_weight()):
            raise AssertionError(f"alpha=1: {label}.{name} weights or mask differ from dense")
        if not _same_bias(a.bias, b.bias):
            raise AssertionError(f"alpha=1: {label}.{name} bias differs from dense")


def _check_supports(dense: MLP, expansion: Expansion) -> None:
    h, d, alpha = dense.width, dense.n_inputs, expansion.alpha
    support = expansion.unpruned.fc1.mask.cpu().numpy().reshape(h, alpha, d)
    parent = dense.fc1.mask.cpu().numpy()
    holders = support.sum(axis=1)
    for i, j in np.argwhere(holders > 1)[:1]:
        c1, c2 = np.flatnonzero(support[i, :, j])[:2]
        raise AssertionError(f"parent {i}: children {c1} and {c2} both hold input {j} "
                             "(supports must be disjoint)")
    for i, j in np.argwhere((holders > 0) != parent)[:1]:
        what = "no child holds it" if parent[i, j] else "a child holds it outside the parent's"
        raise AssertionError(f"parent {i}: input {j}: union of children's supports differs from "
                             f"the parent's support ({what})")
    assigned = expansion.child[:, None, :] == np.arange(alpha)[None, :, None]
    for i, c, j in np.argwhere(support & ~assigned)[:1]:
        raise AssertionError(f"parent {i}, child {c} holds input {j}, but the split sent it "
                             f"to child {expansion.child[i, j]}")


def _check_input_weights(dense: MLP, unpruned: MLP, alpha: int, atol: float) -> None:
    h, d = dense.width, dense.n_inputs
    parent_w = _weights(dense)[0]
    child_w = _weights(unpruned)[0].reshape(h, alpha, d)
    support = unpruned.fc1.mask.reshape(h, alpha, d)
    expected = parent_w[:, None, :].expand(h, alpha, d)
    wrong = support & (child_w != expected)
    for i, c, j in wrong.nonzero()[:1].tolist():
        raise AssertionError(f"parent {i}, child {c}, input {j}: weight "
                             f"{child_w[i, c, j].item()} differs from the parent's "
                             f"{parent_w[i, j].item()}")
    # Pre-activations without bias: the children's must sum to the parent's on any input.
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(64, d, generator=generator, dtype=torch.float64)
    parent_z = x @ parent_w.double().T
    children_z = (x @ child_w.reshape(h * alpha, d).double().T).reshape(-1, h, alpha).sum(dim=2)
    gap = (parent_z - children_z).abs().amax(dim=0)
    for i in (gap > atol * (1 + parent_z.abs().amax(dim=0))).nonzero().flatten()[:1].tolist():
        raise AssertionError(f"parent {i}: children's pre-activations (no bias) sum differs from "
                             f"the parent's by up to {gap[i].item():.3g}")


def _check_biases(dense: MLP, unpruned: MLP, alpha: int) -> None:
    (b1, b2), (c1, c2) = _biases(dense), _biases(unpruned)
    expected = None if b1 is None else b1.repeat_interleave(alpha)
    if not _same_bias(expected, c1):
        raise AssertionError("hidden bias: each child must copy its parent's bias")
    if not _same_bias(b2, c2):
        raise AssertionError("output bias: must be the dense model's, unchanged")


def _check_output_weights(dense: MLP, unpruned: MLP, alpha: int, scale: str) -> None:
    o, h = dense.n_outputs, dense.width
    parent_w = _weights(dense)[1]
    child_w = _weights(unpruned)[1].reshape(o, h, alpha)
    if scale == "copy":
        expected = parent_w[:, :, None].expand(o, h, alpha)
    elif scale == "divide":
        expected = (parent_w / alpha)[:, :, None].expand(o, h, alpha)
    else:
        raise AssertionError(f"output_scale: unknown {scale!r}")
    wrong = ~torch.isclose(child_w, expected, rtol=1e-6, atol=0.0)
    for k, i, c in wrong.nonzero()[:1].tolist():
        raise AssertionError(f"output {k}, parent {i}, child {c}: weight "
                             f"{child_w[k, i, c].item()}, expected {expected[k, i, c].item()} "
                             f"({scale} of the parent's)")
    if not torch.equal(unpruned.fc2.mask, dense.fc2.mask.repeat_interleave(alpha, dim=1)):
        raise AssertionError("fc2 mask: children must inherit their parent's output mask")


def _check_pruning(unpruned: MLP, model: MLP) -> None:
    kept, pruned = [], []
    for name, before, after in (("fc1", unpruned.fc1, model.fc1), ("fc2", unpruned.fc2,
                                                                      model.fc2)):
        w_before, w_after = before.effective_weight().detach(), after.effective_weight().detach()
        for r, c in (after.mask & ~before.mask).nonzero()[:1].tolist():
            raise AssertionError(f"{name}[{r}, {c}]: pruning revived a weight outside the "
                                 "unpruned support")
        for r, c in (after.mask & (w_after != w_before)).nonzero()[:1].tolist():
            raise AssertionError(f"{name}[{r}, {c}]: pruning changed a kept weight")
        for r, c in (after.mask & (w_after == 0)).nonzero()[:1].tolist():
            raise AssertionError(f"{name}[{r}, {c}]: an exact zero is kept in the mask")
        if not _same_bias(before.bias, after.bias):
            raise AssertionError(f"{name} bias: pruning must not touch biases")
        kept.append(w_after[after.mask].abs())
        pruned.append(w_before[(w_before != 0) & ~after.mask].abs())
    kept, pruned = torch.cat(kept), torch.cat(pruned)
    if len(kept) and len(pruned) and pruned.max() > kept.min():
        raise AssertionError(f"pruning: pruned |w| = {pruned.max().item():.6g} is larger than "
                             f"a kept |w| = {kept.min().item():.6g} (not magnitude pruning)")
