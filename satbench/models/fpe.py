"""Fixed Parameter Expansion (FPE, arXiv 2510.04500): split each neuron into alpha children, then
prune back to the dense model's weight count.

Conventions:
- Child c of parent i is hidden unit i*alpha + c.
- Input weights: the child keeps the parent's weights on its subset of inputs and is masked off
  elsewhere (the subset intersected with the parent's own mask, when the dense model was already
  sparse). Subsets are disjoint, so the children's weights sum to the parent's.
- Bias: each child copies the parent's bias. Without biases the children's pre-activations sum
  exactly to the parent's; with them the sum carries alpha copies of the bias. Copying (rather
  than dividing) keeps each child's activation threshold where the parent's was.
- Output weights: 'copy' gives each child its parent's outgoing column (the paper's protocol,
  and the default everywhere: DEFAULT_OUTPUT_SCALE); 'divide' gives copy / alpha, which a pilot
  found spikes the loss less (reports/output-scale measures the two side by side). The output
  bias is unchanged.
- Pruning: global magnitude pruning over the effective W1' and W2' together, down to exactly the
  dense nnz(W1) + nnz(W2). Exact zeros never count as kept. Ties in |w| are broken by position
  (W1' before W2', row-major; the earlier one is pruned first), so the result is deterministic.
  Under 'divide' the scaled W2' is what is compared, since that is what the network computes with.
"""

from dataclasses import dataclass

import numpy as np
import torch

from satbench.errors import SatbenchError
from satbench.models.mlp import MLP
from satbench.models.splitters import (
    SplitContext,
    Splitter,
    clause_collisions,
    clause_integrity,
    get_splitter,
    split_problems,
)

OUTPUT_SCALES = ("copy", "divide")
# The paper's choice. The one default of expand() and of the fpe method's param: satbench 0.6 and
# earlier defaulted the method to 'divide' (measured better on the quick grid under the clause
# split that packed every clause into one child), which its keys still mean where stored.
DEFAULT_OUTPUT_SCALE = "copy"
MAX_ALPHA = 127  # child labels are int8


@dataclass(frozen=True, eq=False)
class Expansion:
    """The result of expand(): the pruned model to train on and how it was made.

    model: the expanded model after pruning, masks fixed; unpruned: the same before pruning (its
    masks are the children's supports); child: (h, n_inputs) labels from the splitter; budget:
    the dense model's nnz(W1) + nnz(W2), which model.nnz_weights() equals; clause_integrity: the
    fraction of clauses kept whole (NaN when the context has no clauses).
    """

    model: MLP
    unpruned: MLP
    child: np.ndarray
    alpha: int
    split: str
    output_scale: str
    clause_integrity: float
    budget: int
    clause_collisions: float = float("nan")  # clause pairs in one child, mean over parents
    clause_collisions_any: float = float("nan")  # ... in one child of at least one parent


def resolve_splitter(splitter: str | Splitter) -> Splitter:
    return get_splitter(splitter) if isinstance(splitter, str) else splitter


def check_alpha(alpha, n_inputs: int) -> int:
    if isinstance(alpha, bool) or not isinstance(alpha, int | np.integer):
        raise SatbenchError(f"alpha: expected an integer expansion factor, got {alpha!r}")
    if not 1 <= alpha <= min(n_inputs, MAX_ALPHA):
        raise SatbenchError(
            f"alpha: expected 1..{min(n_inputs, MAX_ALPHA)} (each child needs at least one of the "
            f"{n_inputs} inputs), got {alpha}"
        )
    return int(alpha)


def expand(dense: MLP, alpha: int, splitter: str | Splitter, context: SplitContext,
           rng: np.random.Generator, output_scale: str = DEFAULT_OUTPUT_SCALE,
           overlap: int = 1) -> Expansion:
    """Split every hidden unit of `dense` into alpha children and prune back to its budget.

    overlap > 1 gives each input to `overlap` children (the labelled one and the next ones,
    modulo alpha) instead of one: overlapping children, for the paper's comparison."""
    splitter = resolve_splitter(splitter)
    if output_scale not in OUTPUT_SCALES:
        raise SatbenchError(
            f"output_scale: expected one of {', '.join(OUTPUT_SCALES)}, got {output_scale!r}"
        )
    alpha = check_alpha(alpha, dense.n_inputs)
    if context.n_inputs != dense.n_inputs:
        raise SatbenchError(f"context: has {context.n_inputs} inputs, but the model has "
                            f"{dense.n_inputs}")
    budget = dense.nnz_weights()
    integrity = float("nan") if context.clauses is None else 1.0
    h, d = dense.width, dense.n_inputs
    if alpha == 1:  # the identity: one child per parent, holding everything
        child = np.zeros((h, d), dtype=np.int8)
        child.flags.writeable = False
        return Expansion(_copy(dense), _copy(dense), child, 1, splitter.name, output_scale,
                         integrity, budget)
    weight = dense.fc1.effective_weight().detach().cpu().numpy().copy()
    child = np.asarray(splitter.split(weight, alpha, context, rng))
    problems = split_problems(child, alpha, context, n_parents=h)
    if problems:
        raise SatbenchError(f"split {splitter.name!r}: {problems[0]}")
    child = child.copy()
    child.flags.writeable = False
    collisions = (float("nan"), float("nan"))
    if context.clauses is not None:
        integrity = clause_integrity(child, context)
        collisions = clause_collisions(child, context)
    unpruned = split_neurons(dense, child, alpha, output_scale, overlap)
    model = prune_to_budget(unpruned, budget)
    return Expansion(model, unpruned, child, alpha, splitter.name, output_scale, integrity,
                     budget, *collisions)


def _copy(model: MLP) -> MLP:
    return MLP.from_tensors(model.fc1.weight.detach(), _bias(model.fc1), model.fc2.weight.detach(),
                            _bias(model.fc2), model.fc1.mask, model.fc2.mask)


def _bias(layer) -> torch.Tensor | None:
    return None if layer.bias is None else layer.bias.detach()


@torch.no_grad()
def split_neurons(dense: MLP, child: np.ndarray, alpha: int, output_scale: str,
                  overlap: int = 1) -> MLP:
    """The expanded model before pruning: width h*alpha, children as described above (each
    input in `overlap` consecutive children, modulo alpha)."""
    h, d = dense.width, dense.n_inputs
    w1 = dense.fc1.effective_weight()
    labels = torch.as_tensor(child.astype(np.int64), device=w1.device)
    # member[i, c, j]: input j belongs to child c of parent i. Reshaping (h, alpha, d) to
    # (h*alpha, d) puts child c of parent i at row i*alpha + c.
    offset = (torch.arange(alpha, device=w1.device)[None, :, None] - labels[:, None, :]) % alpha
    member = offset < overlap
    mask1 = (member & dense.fc1.mask[:, None, :]).reshape(h * alpha, d)
    w1_new = w1[:, None, :].expand(h, alpha, d).reshape(h * alpha, d).masked_fill(~mask1, 0.0)
    b1 = _bias(dense.fc1)
    b1_new = None if b1 is None else b1.repeat_interleave(alpha)
    w2_new = dense.fc2.effective_weight().repeat_interleave(alpha, dim=1)
    if output_scale == "divide":
        w2_new = w2_new / alpha
    mask2 = dense.fc2.mask.repeat_interleave(alpha, dim=1)
    return MLP.from_tensors(w1_new, b1_new, w2_new, _bias(dense.fc2), mask1, mask2)


@torch.no_grad()
def prune_to_budget(model: MLP, budget: int) -> MLP:
    """A copy of `model` keeping only its `budget` largest-magnitude weights over W1 and W2."""
    w1, w2 = model.fc1.effective_weight(), model.fc2.effective_weight()
    magnitude = np.concatenate([w1.abs().cpu().numpy().ravel(), w2.abs().cpu().numpy().ravel()])
    keep = magnitude > 0  # exact zeros (and pruned entries) are never kept
    n_drop = int(keep.sum()) - budget
    if n_drop > 0:
        order = np.argsort(magnitude, kind="stable")  # ties keep their row-major, W1-first order
        candidates = order[keep[order]]
        keep[candidates[:n_drop]] = False
    keep = torch.as_tensor(keep, device=w1.device)
    mask1 = keep[: w1.numel()].reshape(w1.shape)
    mask2 = keep[w1.numel():].reshape(w2.shape)
    return MLP.from_tensors(w1, _bias(model.fc1), w2, _bias(model.fc2), mask1, mask2)
