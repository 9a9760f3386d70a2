"""FPE expansion: every invariant for every registered splitter and both output scales, the
argument checks, determinism, and the checker itself catching broken expansions."""

import dataclasses

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from satbench.errors import SatbenchError
from satbench.generators.formula import Formula
from satbench.models import MLP, OUTPUT_SCALES, SplitContext, expand, splitter_names
from satbench.rng import numpy_rng, torch_generator
from satbench.testing import check_fpe_invariants, check_split, fpe_cases

SPLITTERS = ("clause", "clause-weighted", "contiguous", "random", "random-shared")


def _dense(n_inputs=8, width=3, n_outputs=2, seed=0, bias=True):
    return MLP(n_inputs, width, n_outputs, torch_generator(seed, "init"), bias=bias)


def _context(n_vars=8):
    clauses = tuple((v, -(v % n_vars + 1)) for v in range(1, n_vars + 1, 2))
    return SplitContext.for_formula(Formula(n_vars, clauses, "cnf"))


@pytest.mark.parametrize("output_scale", OUTPUT_SCALES)
@pytest.mark.parametrize("name", SPLITTERS)
@given(case=fpe_cases(max_alpha=4))
@settings(max_examples=25, deadline=None)
def test_expansion_invariants_hold_for_every_splitter(name, output_scale, case):
    expansion = expand(case.dense, case.alpha, name, case.context, case.rng(), output_scale)
    check_fpe_invariants(case.dense, expansion)
    check_split(expansion.child, case.alpha, case.context, n_parents=case.dense.width)
    assert (expansion.split, expansion.output_scale) == (name, output_scale)
    assert 0.0 <= expansion.clause_integrity <= 1.0


def test_every_registered_splitter_is_covered():
    assert set(splitter_names()) == set(SPLITTERS)


@given(case=fpe_cases(clauses=False), name=st.sampled_from(["contiguous", "random",
                                                             "random-shared"]))
@settings(max_examples=15, deadline=None)
def test_splitters_that_ignore_clauses_work_without_them(case, name):
    expansion = expand(case.dense, case.alpha, name, case.context, case.rng(), case.output_scale)
    check_fpe_invariants(case.dense, expansion)
    assert np.isnan(expansion.clause_integrity)


def test_clause_split_without_clauses_is_a_user_error():
    dense = _dense()
    with pytest.raises(SatbenchError, match="needs the formula's clauses"):
        expand(dense, 2, "clause", SplitContext.without_clauses(8), numpy_rng(0, "t"))


@pytest.mark.parametrize("alpha", [0, -1, 1.5, True, "2", 9])
def test_bad_alpha_is_a_user_error(alpha):
    with pytest.raises(SatbenchError, match="alpha"):
        expand(_dense(), alpha, "random", _context(), numpy_rng(0, "t"))


def test_bad_output_scale_context_and_splitter_are_user_errors():
    with pytest.raises(SatbenchError, match="output_scale: expected one of copy, divide"):
        expand(_dense(), 2, "random", _context(), numpy_rng(0, "t"), output_scale="halve")
    with pytest.raises(SatbenchError, match="context: has 6 inputs"):
        expand(_dense(), 2, "random", _context(6), numpy_rng(0, "t"))
    with pytest.raises(SatbenchError, match="known splitters: clause, clause-weighted, contiguous"):
        expand(_dense(), 2, "nope", _context(), numpy_rng(0, "t"))


def test_alpha_one_is_the_identity():
    dense = _dense()
    expansion = expand(dense, 1, "random", _context(), numpy_rng(0, "t"))
    x = torch.randn(5, 8, generator=torch_generator(0, "x"))
    assert torch.equal(expansion.model(x), dense(x))
    assert expansion.model is not dense and expansion.model.width == dense.width
    assert expansion.clause_integrity == 1.0
    check_fpe_invariants(dense, expansion)


def test_children_layout_and_budget_on_a_hand_checked_case():
    dense = _dense(n_inputs=4, width=2, n_outputs=1)
    expansion = expand(dense, 2, "contiguous", SplitContext.without_clauses(4),
                       numpy_rng(0, "t"), output_scale="divide")
    w1 = expansion.unpruned.fc1.effective_weight()
    # child c of parent i is hidden unit i*alpha + c; contiguous blocks {0,1} and {2,3}
    assert torch.equal(w1[1, 2:], dense.fc1.weight[0, 2:]) and (w1[1, :2] == 0).all()
    assert torch.equal(w1[2, :2], dense.fc1.weight[1, :2]) and (w1[2, 2:] == 0).all()
    assert torch.equal(expansion.unpruned.fc2.weight[0, 3], dense.fc2.weight[0, 1] / 2)
    assert expansion.budget == 4 * 2 + 2 == expansion.model.nnz_weights()
    # 8 input weights + 4 output weights, 2 of them pruned: the two smallest of all 12.
    everything = torch.cat([w1.flatten(), expansion.unpruned.fc2.weight.flatten()]).abs()
    kept = torch.cat([expansion.model.fc1.effective_weight().flatten(),
                      expansion.model.fc2.effective_weight().flatten()]).abs()
    assert sorted(kept[kept > 0].tolist()) == sorted(everything[everything > 0].tolist())[2:]


def test_ties_in_magnitude_are_broken_deterministically():
    dense = _dense(n_inputs=6, width=3)
    with torch.no_grad():  # every magnitude equal: pruning must still be exact and repeatable
        dense.fc1.weight.copy_(0.5 * torch.sign(dense.fc1.weight))
        dense.fc2.weight.copy_(0.5 * torch.sign(dense.fc2.weight))
    first = expand(dense, 3, "random", SplitContext.without_clauses(6), numpy_rng(0, "t"))
    again = expand(dense, 3, "random", SplitContext.without_clauses(6), numpy_rng(0, "t"))
    check_fpe_invariants(dense, first)
    assert torch.equal(first.model.fc1.mask, again.model.fc1.mask)
    assert torch.equal(first.model.fc2.mask, again.model.fc2.mask)
    # Ties go W1 first in row-major order, so the first W1 entries are the ones pruned.
    assert first.model.fc2.mask.all() and not first.model.fc1.mask[0].any()


@pytest.mark.parametrize("name", SPLITTERS)
@given(case=fpe_cases())
@settings(max_examples=8, deadline=None)
def test_the_same_seed_gives_the_same_expansion(name, case):
    first = expand(case.dense, case.alpha, name, case.context, case.rng(), case.output_scale)
    again = expand(case.dense, case.alpha, name, case.context, case.rng(), case.output_scale)
    assert np.array_equal(first.child, again.child)
    for a, b in ((first.model, again.model), (first.unpruned, again.unpruned)):
        for (key, x), y in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
            assert torch.equal(x, y), key
    for field in ("alpha", "split", "output_scale", "budget"):
        assert getattr(first, field) == getattr(again, field)
    assert first.clause_integrity == again.clause_integrity


def test_a_plugin_splitter_object_can_be_passed_directly():
    class ByMagnitude:
        """Each parent's inputs dealt round robin in order of |w| (per-parent, weight-aware)."""

        name = "by-magnitude"
        shared = False

        def split(self, weight, alpha, context, rng):
            order = np.argsort(-np.abs(weight), axis=1, kind="stable")
            child = np.empty(weight.shape, dtype=np.int8)
            np.put_along_axis(child, order, np.arange(weight.shape[1]) % alpha, axis=1)
            return child

    dense = _dense()
    expansion = expand(dense, 3, ByMagnitude(), _context(), numpy_rng(0, "t"))
    assert expansion.split == "by-magnitude"
    check_fpe_invariants(dense, expansion)


def test_a_broken_plugin_splitter_is_refused():
    class Lazy:
        name = "lazy"
        shared = True

        def split(self, weight, alpha, context, rng):
            return np.zeros(weight.shape, dtype=np.int8)  # every input to child 0

    with pytest.raises(SatbenchError, match="split 'lazy': parent 0: child 1 gets no input"):
        expand(_dense(), 2, Lazy(), _context(), numpy_rng(0, "t"))


# --- the checker catches broken expansions --------------------------------------------------


def _expansion(output_scale="copy"):
    dense = _dense()
    return dense, expand(dense, 2, "random", _context(), numpy_rng(0, "t"), output_scale)


def test_checker_catches_overlapping_children():
    dense, expansion = _expansion()
    with torch.no_grad():
        expansion.unpruned.fc1.mask[1] |= expansion.unpruned.fc1.mask[0]
    with pytest.raises(AssertionError, match=r"parent 0: children 0 and 1 both hold input \d"):
        check_fpe_invariants(dense, expansion)


def test_checker_catches_a_lost_input():
    dense, expansion = _expansion()
    j = int(np.flatnonzero(expansion.child[0] == 0)[0])
    with torch.no_grad():
        expansion.unpruned.fc1.mask[0, j] = False
    with pytest.raises(AssertionError, match=f"parent 0: input {j}: union of children"):
        check_fpe_invariants(dense, expansion)


def test_checker_catches_a_changed_child_weight():
    dense, expansion = _expansion()
    j = int(np.flatnonzero(expansion.child[1] == 1)[0])
    with torch.no_grad():
        expansion.unpruned.fc1.weight[3, j] += 1.0
    with pytest.raises(AssertionError, match=f"parent 1, child 1, input {j}: weight"):
        check_fpe_invariants(dense, expansion)


def test_checker_catches_wrong_output_weights():
    dense, expansion = _expansion("divide")
    with torch.no_grad():
        expansion.unpruned.fc2.weight[1, 5] *= 2  # parent 2, child 1
    with pytest.raises(AssertionError, match=r"output 1, parent 2, child 1: .*divide"):
        check_fpe_invariants(dense, expansion)


def test_checker_catches_a_budget_miss_and_a_wrong_width():
    dense, expansion = _expansion()
    with torch.no_grad():
        expansion.model.fc1.mask.fill_(True)
        expansion.model.fc1.weight.fill_(1.0)
    with pytest.raises(AssertionError, match="budget"):
        check_fpe_invariants(dense, expansion)
    narrow = dataclasses.replace(expansion, alpha=3)
    with pytest.raises(AssertionError, match=r"expected \(8, 9, 2\) for alpha=3"):
        check_fpe_invariants(dense, narrow)


def test_checker_catches_pruning_that_is_not_by_magnitude():
    dense, expansion = _expansion()
    layers = (expansion.model.fc1, expansion.model.fc2)
    originals = tuple(layer.effective_weight() for layer in (expansion.unpruned.fc1,
                                                             expansion.unpruned.fc2))
    # Revive the largest pruned weight and prune the smallest kept one: the count is unchanged,
    # so only the magnitude criterion can notice.
    pruned = [(w.abs() * ~layer.mask).max().item() for layer, w in zip(layers, originals,
                                                                       strict=True)]
    kept = [torch.where(layer.mask, w.abs(), torch.inf).min().item() for layer, w in
            zip(layers, originals, strict=True)]
    revive, drop = int(np.argmax(pruned)), int(np.argmin(kept))
    with torch.no_grad():
        layer, w = layers[revive], originals[revive]
        index = divmod(int((w.abs() * ~layer.mask).argmax()), w.shape[1])
        layer.mask[index] = True
        layer.weight[index] = w[index]
        layer, w = layers[drop], originals[drop]
        index = divmod(int(torch.where(layer.mask, w.abs(), torch.inf).argmin()), w.shape[1])
        layer.mask[index] = False
        layer.apply_mask_()
    with pytest.raises(AssertionError, match="not magnitude pruning"):
        check_fpe_invariants(dense, expansion)


def test_expand_leaves_the_global_random_states_alone():
    numpy_before, torch_before = np.random.get_state(), torch.random.get_rng_state()
    for name in SPLITTERS:
        expand(_dense(), 2, name, _context(), numpy_rng(0, "t"))
    assert torch.equal(torch.random.get_rng_state(), torch_before)
    numpy_after = np.random.get_state()
    assert numpy_after[0] == numpy_before[0] and np.array_equal(numpy_after[1], numpy_before[1])
