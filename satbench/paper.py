"""The FPE paper's published headline numbers (arXiv 2510.04500, second-hand: see
docs/paper-protocol.md), in one place for every output that sets satbench's beside them."""

import math

# Boolean DNF, 8 clauses, 8 neurons, alpha = 2: test accuracy of each arm.
HEADLINE_CELL = {"clauses": 8, "neurons": 8, "alpha": 2}
HEADLINE_ACCURACY = {"dense": 0.787, "random": 0.887, "clause": 0.994}


def headline_text() -> str:
    return ("dense {dense:.1%}, random split {random:.1%}, clause split {clause:.1%}"
            .format(**HEADLINE_ACCURACY))


def headline_comparison(rows: list[dict]) -> str | None:
    """One line setting rows of the headline cell beside the paper's numbers; None when the rows
    are not that cell (a DNF with its clauses and neurons, FPE at its alpha, or dense)."""
    cell = [r for r in rows if r.get("form") == "dnf"
            and r.get("clauses") == HEADLINE_CELL["clauses"]
            and r.get("neurons") == HEADLINE_CELL["neurons"]]
    ours = {}
    for row in cell:
        if row["method"] == "dense":
            ours["dense"] = row["test_accuracy"]
        elif row["method"] == "fpe" and row.get("alpha") == HEADLINE_CELL["alpha"] \
                and row.get("split") in HEADLINE_ACCURACY:
            ours[row["split"]] = row["test_accuracy"]
    ours = {arm: acc for arm, acc in ours.items() if acc is not None and not math.isnan(acc)}
    if "dense" not in ours or len(ours) < 2:
        return None
    here = ", ".join(f"{arm} {ours[arm]:.1%}" for arm in HEADLINE_ACCURACY if arm in ours)
    return (f"the paper's headline cell (DNF, 8 clauses, 8 neurons, alpha=2; second-hand): "
            f"{headline_text()}; this run: {here}")
