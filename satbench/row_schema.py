"""The columns of a result row: the one place that names each, with its polars dtype and meaning.

A row is (in this order) the run's identity, its spec fields, and what training produced:
- identity: run_key, context_key, method (below);
- spec columns: one per field of the method's params, the TrainingContext and the TaskSpec,
  generated from the fields themselves (name, type and help: satbench.specs.spec_field), so a new
  field or a plugin method's params need no entry here;
- outcome columns: the model's size, metrics, fingerprints and provenance (below).

satbench.training.rows.evaluate writes exactly these columns in this order (tests/test_row_schema.py
checks real runs of every method against it). docs/results-schema.md is rendered from it:

    python -m satbench.row_schema > docs/results-schema.md
"""

from typing import NamedTuple

import polars as pl


class Column(NamedTuple):
    name: str
    dtype: pl.DataType
    meaning: str
    since: str = "0.2"  # the satbench version that first wrote it: older rows lack it


IDENTITY = (
    Column("run_key", pl.String,
           "SHA-256 of the run: its method, the non-default fields of its params and of its "
           "training context (task included), and the version of any plugin object it uses. "
           "The results store names the run's file after it, and a rerun of the same spec finds "
           "it there."),
    Column("context_key", pl.String,
           "SHA-256 of the non-default fields of the TrainingContext (task, neurons, schedule, "
           "optimizer, seed): the same for every method trained in one context, which reports "
           "pair methods on."),
    Column("method", pl.String,
           "The method (`dense`, `fpe`, `wide_dense`, `sparse_scratch`, `dense_reset` or a "
           "plugin's; see `satbench plugins`)."),
    Column("method_params", pl.String,
           "The columns of the method's params, comma-separated (fpe: `alpha,split,output_scale`; "
           "dense: empty), so that a report can pair methods without the method's code."),
    Column("budget", pl.String,
           "What the method holds equal to the dense baseline, named by the row column that "
           "measures it: `nnz_weights` (fpe, bimt, fixed_classifier), `macs_per_example` "
           "(tree_cc), `trainable_parameters`, or `none` (a reference, e.g. wide_dense with "
           "alpha times the weights)."),
    Column("compare_with", pl.String,
           "The methods the report compares this one with, besides dense, comma-separated."),
)

# What one method measures of itself (satbench.methods.base.Method.outcomes); null in the other
# methods' rows.
METHOD_OWN = (
    Column("classifier_scale", pl.Float64,
           "fixed_classifier: the learned scale of its fixed output projection after "
           "training.", "0.5"),
    Column("leaf_entropy", pl.Float64,
           "tree_cc: entropy in bits of the share of test rows each leaf of the tree receives: "
           "0 when every row takes one path, depth when the 2^depth leaves are used evenly.",
           "0.5"),
    Column("connection_graph", pl.String,
           "bimt, training seed 0 only: JSON of the trained network for the report's "
           "connection-graph figure: w1, b1, w2, b2 (hidden units in BIMT's final order), "
           "input_positions and output_positions (each unit's slot in BIMT's layout) and "
           "clauses_of_input.", "0.5"),
)
METHOD_OUTCOMES = tuple(column.name for column in METHOD_OWN)

OUTCOME = (
    Column("width_hidden", pl.Int64,
           "Hidden units of this run's model, pruned or dead ones included: neurons for dense "
           "and dense_reset, alpha x neurons for fpe, wide_dense and sparse_scratch."),
    Column("layer_format", pl.String,
           "The FPELinear format the run's first layer trained in: `masked`, `grouped`, "
           "`child_label` or `csr`. Only fpe and sparse_scratch can train in a format other "
           "than `masked`, and only under the single-model trainer; the format changes "
           "round-off, not the function."),
    # Metrics, on the trained model; test-split ones unless the name says train.
    Column("test_accuracy", pl.Float64,
           "Fraction of test predictions (logit > 0 predicts true) equal to the target, over "
           "all samples and outputs (for target `clauses`, each sample's m outputs)."),
    Column("train_accuracy", pl.Float64, "test_accuracy on the training split."),
    Column("test_balanced_accuracy", pl.Float64,
           "Mean of the test recalls on false and on true targets (a class absent from the "
           "targets is left out); for target `clauses`, per output, then averaged."),
    Column("test_exact_match", pl.Float64,
           "Fraction of test samples whose every output is right: test_accuracy for target "
           "`formula`; for `clauses`, all m clause values at once.", "0.4"),
    Column("test_loss", pl.Float64,
           "Mean binary cross-entropy with logits over the test samples and outputs, in nats "
           "(the loss training minimises)."),
    Column("train_loss", pl.Float64, "test_loss on the training split."),
    Column("train_loss_late", pl.Float64,
           "train_loss of the model as it was when the last tenth of the run's own training "
           "steps began (at least one step; for dense, of its T1 + T2). NaN when the method "
           "trains its own way or takes no steps.", "0.4"),
    Column("train_loss_drop_late", pl.Float64,
           "(train_loss_late - train_loss) / train_loss_late: how much the training loss still "
           "fell over the last tenth of the steps.", "0.4"),
    Column("converged", pl.Boolean,
           "train_loss_drop_late < 0.01: the training loss fell by less than 1% over the last "
           "tenth of the steps. Null where train_loss_late is NaN.", "0.4"),
    Column("diverged", pl.Boolean,
           "Training left a non-finite weight (a learning rate far too large): the accuracies "
           "and losses are those of the network as it is, and the first-layer metrics and gram "
           "are NaN and null.", "0.6"),
    Column("majority_accuracy", pl.Float64,
           "The floor: the test accuracy of always predicting the formula's more common value, "
           "max(p, 1 - p) with p the share of test rows where the formula is true. It is taken "
           "from the formula's value for target `clauses` too, where it is not the per-clause "
           "floor."),
    Column("nnz_weights", pl.Int64,
           "Non-zero entries of the effective (masked) W1 plus W2 after training: the budget "
           "FPE holds fixed. fpe and sparse_scratch keep the dense model's count at the split "
           "(their masks are fixed); wide_dense has alpha times the weights. Learned weights "
           "only: fixed_classifier's fixed projection and tree_cc's fixed gates are not "
           "counted; tree_cc counts every node vector of its tree."),
    Column("nnz_biases", pl.Int64,
           "Non-zero entries of the hidden and output biases, counted apart from nnz_weights "
           "and not held fixed: each FPE child copies its parent's bias."),
    Column("macs_per_example", pl.Int64,
           "Multiply-adds one example's forward pass needs, non-zero weights only (what a "
           "sparse forward path computes): nnz(W1) + nnz(W2) for the MLPs; fixed_classifier "
           "adds its fixed projection (outputs x width_hidden); tree_cc is a dense layer's "
           "width x inputs + outputs x width plus its gating units' depth x inputs (the "
           "2^depth leaf matrices can be precomputed, so the path sum costs no multiply).",
           "0.5"),
    Column("trainable_parameters", pl.Int64,
           "Learned scalars: the weights the masks keep (zero or not), the biases, and any "
           "learned scale. Fixed weights (fixed_classifier's projection, tree_cc's gates) are "
           "not counted: they are regenerated from the seed.", "0.5"),
    Column("capacity_total", pl.Float64,
           "Sum over the input features of their capacity in the trained W1 (Scherlis et al. "
           "2022): C_i = (W_i . W_i)^2 / sum_j (W_i . W_j)^2, W_i input i's column of W1. "
           "Between 0 and min(width_hidden, inputs); higher means the inputs have more "
           "dimensions to themselves."),
    Column("capacity_clause_total", pl.Float64,
           "The same capacity summed over the clauses, clause j embedded as W1 d_j with d_j the "
           "signed sum of its literals' input directions. Between 0 and min(width_hidden, "
           "clauses)."),
    Column("mean_abs_cos", pl.Float64,
           "Mean |cosine| between the weight vectors (rows of W1) of all pairs of non-zero "
           "hidden units; NaN with fewer than two. FPE siblings have disjoint inputs and cosine "
           "0 by construction, which lowers it for fpe and sparse_scratch: see "
           "mean_abs_cos_shared_inputs."),
    Column("mean_abs_cos_shared_inputs", pl.Float64,
           "mean_abs_cos over the pairs whose supports (inputs with a non-zero weight) "
           "intersect, where interference can arise; NaN when no pair shares an input. Equal to "
           "mean_abs_cos for a dense W1."),
    Column("clause_interference", pl.Float64,
           "Mean squared cosine between the clauses' hidden-space embeddings W1 d_j, over the "
           "clauses with a non-zero embedding: 0 when they are orthogonal, 1 when they share "
           "one direction, about 1/width_hidden for random directions. NaN with fewer than two "
           "embedded clauses."),
    Column("polysemanticity_mean", pl.Float64,
           "Mean over the live hidden units (activation not constant on the test split) of the "
           "number of clauses each responds to: |mean activation when the clause is true - "
           "when false| > 0.5 x the unit's activation std, on the test split. NaN when no unit "
           "is live."),
    Column("mask_clause_integrity", pl.Float64,
           "Of the (hidden unit, clause) pairs where a sparse unit (one with a zero in its row "
           "of the trained W1) reads at least one of the clause's inputs, the fraction where it "
           "reads all of them: whether a sparse first layer keeps clauses whole, for any method "
           "(bimt learns its mask; fpe is given one). Units that read every input are left out: "
           "they read every clause whole, which says nothing. NaN with no sparse unit (a dense "
           "layer) or no clause. For tree_cc, over its leaves' matrices, weighted by their test "
           "rows.",
           "0.5"),
    Column("modularity", pl.Float64,
           "Newman's modularity Q of the graph of inputs and hidden units joined by |W1| "
           "(edge weights), for the partition networkx's greedy modularity maximisation "
           "(Clauset-Newman-Moore, deterministic) finds: near 0 for an unstructured layer, "
           "towards 1 for one of separate modules (BIMT's aim). NaN when W1 is all zero. For "
           "tree_cc, weighted over its leaves as mask_clause_integrity.", "0.5"),
    Column("clause_integrity", pl.Float64,
           "Fraction of clauses whose inputs all land in one child of a parent, averaged over "
           "the parents: how whole FPE's split kept the clauses. Set for fpe and for "
           "sparse_scratch (which trains FPE's masks); NaN for dense, dense_reset and "
           "wide_dense, which are not split."),
    Column("clause_collisions", pl.Float64,
           "Fraction of clause pairs whose inputs (2k for two k-literal clauses) all land in "
           "one child of a parent, averaged over the parents: the quantity the paper's "
           "collision law, alpha^-(2k-1), predicts for a random split. Set where "
           "clause_integrity is; NaN with fewer than two clauses.", "0.4"),
    Column("clause_collisions_any", pl.Float64,
           "Fraction of clause pairs that collide (as above) in at least one parent.", "0.4"),
    Column("gram", pl.List(pl.Float64),
           "The Gram matrix W1^T W1 of the trained first layer (G_ij = W_i . W_j over the "
           "inputs' columns), row-major, values rounded to float32: inputs^2 entries, vars^2 "
           "for `pm1` and (2 vars)^2 for `literals`. Stored for runs with training seed 0 "
           "(the runs the report's Gram figure draws) and null for the others since 0.4: it is "
           "most of a row's bytes."),
    *METHOD_OWN,
    # Fingerprints of the inputs.
    Column("task_fingerprint", pl.String,
           "SHA-256 of the TaskSpec as canonical JSON: the same for every run on the task."),
    Column("dataset_fingerprint", pl.String,
           "SHA-256 over the task and formula fingerprints and every sampled array "
           "(assignments, labels, clause values): the same data gives the same fingerprint in "
           "any process."),
    # Provenance: what produced the row (satbench.provenance), and what it cost.
    Column("satbench_version", pl.String, "satbench.__version__ of the code that wrote the row."),
    Column("git_commit", pl.String,
           "HEAD of the satbench checkout, with `-dirty` when tracked files had local changes; "
           "`unknown` outside a git checkout."),
    Column("torch_version", pl.String, "torch.__version__, e.g. `2.13.0+cpu`."),
    Column("device", pl.String,
           "The device the run was evaluated on: `cpu (<architecture>)`, e.g. `cpu (x86_64)`, "
           "or a CUDA device's name. Experiments train and evaluate on the CPU."),
    Column("numeric_mode", pl.String,
           "The CPU code paths the row was computed on (satbench.numerics): `portable` (every "
           "library on its baseline x86-64 path: the same bits on any x86-64 CPU) or `native` "
           "(the CPU's own: its bits depend on the CPU). `satbench verify` retrains bitwise "
           "where the mode and the torch version match, and within a stated tolerance "
           "elsewhere.", "0.6"),
    Column("cpu_capability", pl.String,
           "The highest instruction-set level of the CPU that computed the row, in torch's "
           "terms (`AVX512`, `AVX2`, `DEFAULT`; `unknown` where it cannot be read), whatever "
           "the numeric mode let the libraries use.", "0.6"),
    Column("torch_threads", pl.Int64,
           "torch intra-op threads the row was evaluated on. Training and evaluation are pinned "
           "to satbench.threads.TRAINING_THREADS (1), since the thread count changes round-off."),
    Column("wall_seconds", pl.Float64,
           "The run's training wall time in seconds, evaluation and model building excluded. "
           "dense: its T1 + T2 steps; methods that start from dense (fpe, dense_reset): the "
           "dense T1 warm-up plus their own T2; the others: their own steps. The batched "
           "trainer (satbench sweep's default) divides each chunk's wall time evenly among its "
           "runs."),
)

_DTYPES = {int: pl.Int64, float: pl.Float64, str: pl.String, bool: pl.Boolean}


def dtype_of(annotation) -> pl.DataType:
    """The polars dtype of a spec field's type (`X | None` is X's)."""
    for kind, dtype in _DTYPES.items():
        if annotation is kind or annotation == (kind | None):
            return dtype
    return pl.Object


def spec_schema_columns(with_methods: bool = True) -> tuple[Column, ...]:
    """The spec columns, in row order: every registered method's params (unless with_methods is
    False: the registry loads torch), then the context's and the task's fields."""
    from satbench.specs import TaskSpec, TrainingContext, column_of, spec_fields

    columns = {}
    sources = []
    if with_methods:
        from satbench.methods import METHODS

        sources = [(m.params, f"{m.name} params") for m in map(METHODS.get, METHODS.names())]
    for spec_class, owner in sources + [(TrainingContext, "TrainingContext"),
                                        (TaskSpec, "TaskSpec")]:
        for field in spec_fields(spec_class):
            name = column_of(field)
            if name in columns:
                continue
            owner_text = "method params" if owner.endswith("params") else owner
            columns[name] = Column(name, dtype_of(field.type),
                                   f"{owner_text}.{field.name}: {field.metadata['help']}.",
                                   field.metadata.get("added") or "0.2")
    return tuple(columns.values())


def columns(with_methods: bool = True) -> tuple[Column, ...]:
    return IDENTITY + spec_schema_columns(with_methods) + OUTCOME


def render_markdown() -> str:
    """docs/results-schema.md: every column with its dtype and meaning, in row order."""
    lines = [
        "# Result rows",
        "",
        "Generated from `satbench/row_schema.py` and the spec fields by "
        "`python -m satbench.row_schema > docs/results-schema.md`; edit those, not this file.",
        "",
        "A run (one method in one training context) stores one flat row with these columns in "
        "this order; a method's row holds the params columns of its own params only (fpe: "
        "alpha, split, output_scale; wide_dense: alpha; dense: none). Metrics are measured on "
        "the trained model and the test split unless the column says otherwise. W1 is the "
        "first layer's effective (masked) weight, one row per hidden unit and one column per "
        "input; inputs is vars for the `pm1` encoding and 2 x vars for `literals`. NaN marks a "
        "metric that does not apply to the method or has nothing to average. `since`: the "
        "satbench version that first wrote the column; older rows lack it, and `satbench "
        "verify` does not count that as drift.",
        "",
        "| column | dtype | since | meaning |",
        "|---|---|---|---|",
    ]
    for column in columns():
        meaning = column.meaning.replace("|", "\\|")
        lines.append(f"| `{column.name}` | {column.dtype} | {column.since} | {meaning} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render_markdown(), end="")
