"""The columns of a result row: the one place that names each, with its polars dtype and meaning.

`satbench.experiment.evaluate_arm` writes one flat row per arm of a run, with exactly these
columns in this order (tests/test_row_schema.py checks a real run against the table).
docs/results-schema.md is rendered from it:

    python -m satbench.row_schema > docs/results-schema.md
"""

from typing import NamedTuple

import polars as pl


class Column(NamedTuple):
    name: str
    dtype: pl.DataType
    meaning: str


COLUMNS = (
    # What ran: the run, the arm, and the RunSpec and TaskSpec fields.
    Column("run_key", pl.String,
           "SHA-256 of the full RunSpec (task included) as canonical JSON: the run's identity. "
           "All arms of a run share it; the results store names the run's file after it, and a "
           "rerun of the same spec finds it there."),
    Column("method", pl.String,
           "The arm: `dense`, `fpe`, `wide_dense`, `sparse_scratch` or `dense_reset` (see the "
           "README's arms table). (run_key, method) identifies a row."),
    Column("split", pl.String,
           "RunSpec.split: the splitter FPE used (`clause`, `random`, `random-shared`, "
           "`contiguous` or a registered one). Run-level, the same on every row of the run; it "
           "shapes only fpe and sparse_scratch (which trains FPE's masks)."),
    Column("alpha", pl.Int64,
           "RunSpec.alpha: the expansion factor, children per split neuron. Run-level; fpe, "
           "sparse_scratch and wide_dense have alpha x neurons hidden units."),
    Column("neurons", pl.Int64,
           "RunSpec.neurons: h, the dense model's hidden width. Run-level; width_hidden is the "
           "arm's own width."),
    Column("width_hidden", pl.Int64,
           "Hidden units of this arm's model, pruned or dead ones included: neurons for dense and "
           "dense_reset, alpha x neurons for fpe, wide_dense and sparse_scratch."),
    Column("clauses", pl.Int64, "TaskSpec.n_clauses: m, the formula's clauses (DNF: terms)."),
    Column("vars", pl.Int64, "TaskSpec.n_vars: n, the formula's variables."),
    Column("width", pl.Int64,
           "TaskSpec.width: k, literals per clause (for a user's DIMACS file, the widest "
           "clause's). Not the network's width: see width_hidden."),
    Column("form", pl.String, "TaskSpec.form: `cnf` or `dnf`."),
    Column("encoding", pl.String,
           "TaskSpec.encoding, how an assignment is fed to the network: `pm1` (n inputs in "
           "{-1,+1}) or `literals` (2n inputs in {0,1}: x, then not x)."),
    Column("target", pl.String,
           "TaskSpec.target: `formula` (one output, the formula's value) or `clauses` (m "
           "outputs, each clause's value)."),
    Column("planted", pl.Boolean,
           "TaskSpec.planted: whether every clause of the CNF is satisfied by a hidden "
           "assignment drawn from the task seed (always false for DNF)."),
    Column("n_train", pl.Int64, "TaskSpec.n_train: rows in the training split."),
    Column("n_test", pl.Int64,
           "TaskSpec.n_test: rows in the test split, which shares no assignment with the "
           "training split."),
    Column("seed", pl.Int64,
           "RunSpec.seed: drives the initialisation, the data order and the splitter."),
    Column("task_seed", pl.Int64, "TaskSpec.seed: drives the formula and the dataset sample."),
    Column("output_scale", pl.String,
           "RunSpec.output_scale, the FPE children's output weights: `copy` (the parent's) or "
           "`divide` (the parent's / alpha). Run-level; it shapes only fpe."),
    Column("warmup_steps", pl.Int64,
           "RunSpec.warmup_steps: T1, optimizer steps before the split. dense, wide_dense and "
           "sparse_scratch train T1 + T2 steps; fpe and dense_reset train T2 steps on from the "
           "dense model at step T1."),
    Column("expanded_steps", pl.Int64, "RunSpec.expanded_steps: T2, optimizer steps after the "
           "split."),
    Column("learning_rate", pl.Float64, "RunSpec.learning_rate: Adam's learning rate, every arm."),
    Column("batch_size", pl.Int64,
           "RunSpec.batch_size: rows per optimizer step; 0 (or at least n_train) is the full "
           "training split."),
    Column("weight_decay", pl.Float64,
           "RunSpec.weight_decay: Adam's weight decay (an L2 term in the gradient), every arm."),
    Column("layer_format", pl.String,
           "The FPELinear format the arm's first layer trained in: `masked`, `grouped`, "
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
    Column("test_loss", pl.Float64,
           "Mean binary cross-entropy with logits over the test samples and outputs, in nats "
           "(the loss training minimises)."),
    Column("train_loss", pl.Float64, "test_loss on the training split."),
    Column("majority_accuracy", pl.Float64,
           "The floor: the test accuracy of always predicting the formula's more common value, "
           "max(p, 1 - p) with p the share of test rows where the formula is true. It is taken "
           "from the formula's value for target `clauses` too, where it is not the per-clause "
           "floor."),
    Column("nnz_weights", pl.Int64,
           "Non-zero entries of the effective (masked) W1 plus W2 after training: the budget "
           "FPE holds fixed. fpe and sparse_scratch keep the dense model's count at the split "
           "(their masks are fixed); wide_dense has alpha times the weights."),
    Column("nnz_biases", pl.Int64,
           "Non-zero entries of the hidden and output biases, counted apart from nnz_weights "
           "and not held fixed: each FPE child copies its parent's bias."),
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
    Column("clause_integrity", pl.Float64,
           "Fraction of clauses whose inputs all land in one child of a parent, averaged over "
           "the parents: how whole FPE's split kept the clauses. Set for fpe and for "
           "sparse_scratch (which trains FPE's masks); NaN for dense, dense_reset and "
           "wide_dense, which are not split."),
    Column("gram", pl.List(pl.Float64),
           "The Gram matrix W1^T W1 of the trained first layer (G_ij = W_i . W_j over the "
           "inputs' columns), row-major, values rounded to float32: inputs^2 entries, vars^2 "
           "for `pm1` and (2 vars)^2 for `literals`."),
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
           "The device the arm was evaluated on: `cpu (<architecture>)`, e.g. `cpu (x86_64)`, "
           "or a CUDA device's name. Experiments train and evaluate on the CPU."),
    Column("torch_threads", pl.Int64,
           "torch intra-op threads the row was evaluated on. Training and evaluation are pinned "
           "to satbench.threads.TRAINING_THREADS (1), since the thread count changes round-off."),
    Column("wall_seconds", pl.Float64,
           "The arm's training wall time in seconds, evaluation excluded. dense: its T1 + T2 "
           "steps; fpe and dense_reset: the shared T1 warm-up plus their own T2 (the split and "
           "pruning excluded); wide_dense and sparse_scratch: their own T1 + T2. The batched "
           "trainer (satbench sweep's default) divides each chunk's wall time evenly among its "
           "arms."),
)

SCHEMA = pl.Schema((column.name, column.dtype) for column in COLUMNS)


def render_markdown() -> str:
    """docs/results-schema.md: every column with its dtype and meaning, in row order."""
    lines = [
        "# Result rows",
        "",
        "Generated from `satbench/row_schema.py` by "
        "`python -m satbench.row_schema > docs/results-schema.md`; edit that file, not this one.",
        "",
        "A run stores one flat row per arm, with these columns in this order. Metrics are "
        "measured on the trained model and the test split unless the column says otherwise. "
        "W1 is the first layer's effective (masked) weight, one row per hidden unit and one "
        "column per input; inputs is vars for the `pm1` encoding and 2 x vars for `literals`. "
        "NaN marks a metric that does not apply to the arm or has nothing to average.",
        "",
        "| column | dtype | meaning |",
        "|---|---|---|",
    ]
    for column in COLUMNS:
        meaning = column.meaning.replace("|", "\\|")
        lines.append(f"| `{column.name}` | {column.dtype} | {meaning} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render_markdown(), end="")
