"""The satbench command line. It composes the library; nothing imports it.

User errors (SatbenchError) print one line and exit 2; argparse's own usage errors also exit 2.
"""

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import satbench
from satbench.errors import SatbenchError
from satbench.fingerprint import sha256_of
from satbench.generators.dimacs import read_dimacs, read_dimacs_comments, write_dimacs
from satbench.generators.random_formula import random_formula
from satbench.generators.solving import count_models, is_satisfiable
from satbench.specs import (
    ARMS,
    ENCODINGS,
    EXPERIMENT_TASK_DEFAULTS,
    OUTPUT_SCALES,
    TARGETS,
    RunSpec,
    TaskSpec,
    field_defaults,
)

# The flag each TaskSpec field gets; defaults and choices come from TaskSpec itself.
TASK_FLAGS = {
    "n_vars": "--vars", "n_clauses": "--clauses", "width": "--width", "form": "--form",
    "planted": "--planted", "encoding": "--encoding", "target": "--target",
    "n_train": "--train", "n_test": "--test", "positive_fraction": "--positive-fraction",
    "seed": "--seed",
}
FORMULA_FIELDS = ("n_vars", "n_clauses", "width", "form", "planted")
COUNT_LIMIT_VARS = 20  # inspect enumerates models only up to this many variables


def _task_default(field: str):
    return field_defaults(TaskSpec)[field]


def add_task_arguments(parser, fields, required=(), with_defaults=True, defaults=None):
    """Add the flags of the given TaskSpec fields.

    required: fields argparse insists on. with_defaults=False leaves unset flags at None, so a
    command can tell which ones the user gave (TaskSpec supplies the defaults later).
    """
    choices = {"form": ("cnf", "dnf"), "encoding": ENCODINGS, "target": TARGETS}
    types = {"positive_fraction": float, "form": str, "encoding": str, "target": str}
    for field in fields:
        flag = TASK_FLAGS[field]
        if field == "planted":
            parser.add_argument(flag, action="store_true", default=None,
                                help="plant an assignment so a cnf is satisfiable")
            continue
        default = (defaults or {}).get(field, _task_default(field))
        default = default if with_defaults and field not in required else None
        parser.add_argument(flag, dest=field, type=types.get(field, int),
                            choices=choices.get(field), default=default,
                            required=field in required,
                            help=f"default: {default}" if default is not None else None)


def _task_values(args, fields) -> dict:
    return {f: getattr(args, f) for f in fields if getattr(args, f, None) is not None}


def generator_comments(values: dict) -> dict[str, str]:
    document = {"generator": "satbench.random_formula", "args": values}
    return {"satbench-spec": json.dumps(document, sort_keys=True),
            "satbench-spec-fingerprint": sha256_of(document)}


def cmd_generate(args) -> None:
    values = _task_values(args, FORMULA_FIELDS + ("seed",))
    values["planted"] = bool(values.get("planted"))
    formula = random_formula(**values)
    write_dimacs(formula, args.out, comments=generator_comments(values))
    print(f"wrote {args.out}: {formula.n_vars} variables, {formula.n_clauses} clauses, "
          f"fingerprint {formula.fingerprint}")


def cmd_inspect(args) -> None:
    formula = read_dimacs(args.file)
    histogram = Counter(formula.widths.tolist())
    satisfiable = is_satisfiable(formula)
    print(f"file:          {args.file}")
    print(f"form:          {formula.form}")
    print(f"variables:     {formula.n_vars}")
    print(f"clauses:       {formula.n_clauses}")
    print("widths:        " + ", ".join(f"{w}: {histogram[w]}" for w in sorted(histogram)))
    print(f"satisfiable:   {'yes' if satisfiable else 'no'}")
    if formula.n_vars <= COUNT_LIMIT_VARS:
        print(f"models:        {count_models(formula)} of {2**formula.n_vars}")
    else:
        print(f"models:        not counted (more than {COUNT_LIMIT_VARS} variables)")
    print(f"fingerprint:   {formula.fingerprint}")
    for key, value in read_dimacs_comments(args.file).items():
        if key.startswith("satbench-spec"):
            print(f"{key + ':':<15}{value}")


def cmd_dataset(args) -> None:
    from satbench.generators.dataset import build_dataset, task_for_formula  # polars, torch

    dataset_fields = ("encoding", "target", "n_train", "n_test", "positive_fraction", "seed")
    values = _task_values(args, dataset_fields)
    if args.formula:
        given = [TASK_FLAGS[f] for f in FORMULA_FIELDS if getattr(args, f) is not None]
        if given:
            raise SatbenchError(f"{', '.join(given)}: not allowed with --formula (the file "
                                "defines the formula)")
        formula = read_dimacs(args.formula)
        spec = task_for_formula(formula, **values)
        dataset = build_dataset(spec, formula)
    else:
        missing = [TASK_FLAGS[f] for f in ("n_vars", "n_clauses") if getattr(args, f) is None]
        if missing:
            raise SatbenchError(f"{' and '.join(missing)}: required unless --formula is given")
        values.update(_task_values(args, FORMULA_FIELDS))
        values["planted"] = bool(values.get("planted"))
        dataset = build_dataset(TaskSpec(**values))
    dataset.write_parquet(args.out)
    labels = dataset.labels
    print(f"wrote {args.out}: {dataset.spec.n_train} train + {dataset.spec.n_test} test rows, "
          f"{labels.mean():.3f} positive, sampling {dataset.sampling_methods}")
    print(f"task fingerprint:    {dataset.spec.fingerprint}")
    print(f"dataset fingerprint: {dataset.fingerprint}")


RUN_FLAGS = {  # RunSpec field -> (flag, type)
    "neurons": ("--neurons", int), "alpha": ("--alpha", int), "split": ("--split", str),
    "output_scale": ("--output-scale", str), "learning_rate": ("--lr", float),
    "batch_size": ("--batch", int), "weight_decay": ("--weight-decay", float),
}


def _run_default(field: str):
    return field_defaults(RunSpec)[field]


def add_run_arguments(parser) -> None:
    add_task_arguments(parser, FORMULA_FIELDS + ("encoding", "target", "n_train", "n_test",
                                                 "positive_fraction", "seed"),
                       defaults=EXPERIMENT_TASK_DEFAULTS)
    for field, (flag, kind) in RUN_FLAGS.items():
        choices = OUTPUT_SCALES if field == "output_scale" else None
        parser.add_argument(flag, dest=field, type=kind, default=_run_default(field),
                            choices=choices, help=f"default: {_run_default(field)}")
    steps = f"{_run_default('warmup_steps')},{_run_default('expanded_steps')}"
    parser.add_argument("--steps", default=steps, type=_parse_steps,
                        help=f"T1,T2: dense warm-up steps, then steps after expansion "
                             f"(default: {steps})")
    parser.add_argument("--arms", default=",".join(_run_default("arms")),
                        help=f"comma-separated, from {', '.join(ARMS)} (default: %(default)s)")


def _parse_steps(text: str) -> tuple[int, int]:
    try:
        warmup, expanded = (int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected T1,T2 (two integers), got {text!r}") from None
    return warmup, expanded


def run_spec_from_args(args) -> RunSpec:
    task_values = _task_values(args, FORMULA_FIELDS + ("encoding", "target", "n_train", "n_test",
                                                      "positive_fraction", "seed"))
    task_values["planted"] = bool(task_values.get("planted"))
    run_values = {field: getattr(args, field) for field in RUN_FLAGS}
    warmup, expanded = args.steps
    return RunSpec(TaskSpec(**task_values), warmup_steps=warmup, expanded_steps=expanded,
                   arms=tuple(a.strip() for a in args.arms.split(",") if a.strip()),
                   seed=args.seed, **run_values)


def cmd_run(args) -> None:
    from satbench.experiment import run_experiment
    from satbench.kernels.layer_format import planned_format
    from satbench.reports.tables import arms_table
    from satbench.store import has_run, read_run, write_run

    run = run_spec_from_args(args)
    if has_run(args.out, run.key):
        rows = read_run(args.out, run.key)
        print(f"found this run already finished in {args.out} (key {run.key[:12]})",
              file=sys.stderr)
    else:
        fmt = planned_format(run, args.layer_format)
        print(f"training {', '.join(run.arms)} on {run.task.form} n={run.task.n_vars} "
              f"m={run.task.n_clauses}, h={run.neurons}, alpha={run.alpha}, split={run.split} "
              f"(FPE-structured first layers in format {fmt})", file=sys.stderr)
        rows = run_experiment(run, layer_format=args.layer_format)
        path = write_run(args.out, run.key, rows, run.to_dict())
        print(f"stored {len(rows)} rows in {path}", file=sys.stderr)
    print(arms_table(rows))


def _int_list(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}") from None


def _name_list(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


SWEEP_FLAGS = {  # SweepSpec field -> (flag, parser, help)
    "alphas": ("--alpha", _int_list, "expansion factors, e.g. 2,4"),
    "splits": ("--split", _name_list, "splitters, e.g. clause,random"),
    "seeds": ("--seeds", int, "number of seeds (0..N-1)"),
    "n_vars": ("--vars", int, "variables per formula"),
    "width": ("--width", int, "clause width"),
    "form": ("--form", str, "cnf or dnf"),
    "n_train": ("--train", int, "training rows"),
    "n_test": ("--test", int, "test rows"),
    "learning_rate": ("--lr", float, "Adam learning rate"),
    "batch_size": ("--batch", int, "mini-batch size (0: full batch)"),
    "output_scale": ("--output-scale", str, "copy or divide"),
    "arms": ("--arms", _name_list, "arms to train, e.g. dense,fpe,wide_dense"),
}


def sweep_spec_from_args(args):
    from satbench.sweeps.presets import get_preset
    from satbench.sweeps.spec import SweepSpec

    grid = args.neurons is not None or args.clauses is not None
    if grid and args.preset:
        raise SatbenchError("--preset: give a preset or a --neurons/--clauses grid, not both")
    if grid:
        if args.neurons is None or args.clauses is None:
            raise SatbenchError("--neurons and --clauses: a custom grid needs both")
        base = SweepSpec.grid("custom", args.neurons, args.clauses)
    else:
        base = get_preset(args.preset or "quick")
    changes = {field: getattr(args, field) for field in SWEEP_FLAGS
               if getattr(args, field) is not None}
    if args.steps is not None:
        changes["warmup_steps"], changes["expanded_steps"] = args.steps
    return base.replace(**changes)


def cmd_sweep(args) -> None:
    from satbench.kernels.layer_format import check_layer_format
    from satbench.sweeps.engine import run_sweep
    from satbench.sweeps.executors import get_executor

    spec = sweep_spec_from_args(args)
    executor = get_executor(args.executor)
    runs = spec.runs()
    check_layer_format(runs, args.layer_format)  # before the header: a bad format prints one line
    out = args.out or f"results/{spec.name}"
    print(f"sweep {spec.name}: {len(spec.cells)} cells x {len(spec.alphas)} alpha x "
          f"{len(spec.splits)} split x {spec.seeds} seeds = {len(runs)} runs into {out}",
          file=sys.stderr)
    counts = run_sweep(spec, out, executor, progress=not args.no_progress, trainer=args.trainer,
                       layer_format=args.layer_format)
    print(f"{counts['trained']} runs trained, {counts['found']} already stored, in {out}",
          file=sys.stderr)
    if not args.no_report:
        _write_report([out], args.report or f"reports/{spec.name}")


def _write_report(results_dirs, out) -> None:
    from satbench.reports.render import write_report

    path = write_report(results_dirs if len(results_dirs) > 1 else results_dirs[0], out)
    print(f"report: {path}", file=sys.stderr)


def cmd_report(args) -> None:
    out = args.out or f"reports/{Path(args.results[0]).resolve().name}"
    _write_report(args.results, out)


def add_layer_format_argument(parser) -> None:
    parser.add_argument("--layer-format", default="auto",
                        help="format of the fpe and sparse_scratch first layers: auto (the "
                             "fastest for the split, device and sizes), masked, grouped "
                             "(shared splits), child_label or csr (default: %(default)s)")


def add_sweep_arguments(parser) -> None:
    parser.add_argument("--preset", help="quick (default), paper or full")
    parser.add_argument("--neurons", type=_int_list, help="hidden widths, e.g. 4,8,16")
    parser.add_argument("--clauses", type=_int_list, help="clause counts, e.g. 4,8,16,32")
    for field, (flag, kind, text) in SWEEP_FLAGS.items():
        parser.add_argument(flag, dest=field, type=kind, help=text)
    parser.add_argument("--steps", type=_parse_steps, help="T1,T2")
    parser.add_argument("--out", help="results directory (default: results/<preset>)")
    parser.add_argument("--executor", default="local", help="local (all cores) or serial")
    parser.add_argument("--trainer", default="batched", choices=("single", "batched"),
                        help="train each run alone, or a task's runs as one batched program "
                             "(identical weights; default: %(default)s)")
    add_layer_format_argument(parser)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--report", help="report directory (default: reports/<preset>)")
    parser.add_argument("--no-report", action="store_true", help="store results only")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="satbench", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {satbench.__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    generate = commands.add_parser("generate", help="write a random k-clause formula as DIMACS")
    add_task_arguments(generate, FORMULA_FIELDS + ("seed",), required=("n_vars", "n_clauses"))
    generate.add_argument("--out", required=True, help="output .cnf file")
    generate.set_defaults(handler=cmd_generate)

    inspect = commands.add_parser("inspect", help="summarise a DIMACS file")
    inspect.add_argument("file")
    inspect.set_defaults(handler=cmd_inspect)

    dataset = commands.add_parser("dataset", help="write a balanced train/test dataset (Parquet)")
    add_task_arguments(dataset, FORMULA_FIELDS, with_defaults=False)
    add_task_arguments(dataset, ("encoding", "target", "n_train", "n_test",
                                 "positive_fraction", "seed"))
    dataset.add_argument("--formula", help="build the task from this DIMACS file instead")
    dataset.add_argument("--out", required=True, help="output .parquet file")
    dataset.set_defaults(handler=cmd_dataset)

    run = commands.add_parser("run", help="train dense, FPE and reference arms on one task")
    add_run_arguments(run)
    add_layer_format_argument(run)
    run.add_argument("--out", default="results/run", help="results directory (default: "
                                                          "%(default)s)")
    run.set_defaults(handler=cmd_run)

    sweep = commands.add_parser("sweep", help="run a neurons x clauses grid (default: quick)")
    add_sweep_arguments(sweep)
    sweep.set_defaults(handler=cmd_sweep)

    report = commands.add_parser("report", help="write report.md and figures from results")
    report.add_argument("results", nargs="+", help="results directories (pooled)")
    report.add_argument("--out", help="report directory (default: reports/<results dir name>)")
    report.set_defaults(handler=cmd_report)

    bench = commands.add_parser("bench", help="performance benchmarks (ratios measured side by "
                                              "side in one run)")
    benches = bench.add_subparsers(dest="benchmark", required=True)
    # The benchmark parses its own flags, so building this parser never imports torch.
    kernels = benches.add_parser("kernels", add_help=False,
                                 help="FPELinear's formats against the dense parent layer")
    kernels.set_defaults(handler=_run_kernel_bench, passes_options=True)
    return parser


def _run_kernel_bench(args) -> None:
    from satbench.kernels import bench as kernel_bench

    parser = kernel_bench.add_arguments(argparse.ArgumentParser(prog="satbench bench kernels"))
    kernel_bench.run_from_args(parser.parse_args(args.extra_options))


def main(argv=None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "passes_options", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.extra_options = extra
    try:
        args.handler(args)
    except SatbenchError as error:
        print(f"satbench: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
