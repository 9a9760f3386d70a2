"""The satbench command line. It composes the library; nothing imports it.

Every user error prints one line, `satbench: error: ...`, and exits 2, with nothing partial left
behind: library errors (SatbenchError), argparse's own, and a bad output location, which is
checked before any work starts. Ctrl-C prints one line and exits 130. Only the subcommand being
run has its flags built, so formula-only commands never import torch.
"""

import argparse
import json
import logging
import os
import re
import sys
from collections import Counter
from pathlib import Path

import satbench
from satbench.errors import SatbenchError
from satbench.fingerprint import sha256_of
from satbench.generators.dimacs import read_dimacs, read_dimacs_comments, write_dimacs
from satbench.generators.formula import FORMS
from satbench.generators.random_formula import random_formula
from satbench.generators.solving import count_models, is_satisfiable
from satbench.outputs import check_output_dir, check_output_file
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
TASK_HELP = {
    "n_vars": "variables n", "n_clauses": "clauses m (distinct)", "width": "literals per clause k",
    "form": "cnf (a conjunction of clauses) or dnf (a disjunction of terms)",
    "encoding": "pm1: n inputs in {-1,+1}; literals: 2n inputs in {0,1}",
    "target": "formula: one output, the formula's value; clauses: one output per clause",
    "n_train": "training rows", "n_test": "test rows",
    "positive_fraction": "share of rows where the formula is true",
    "seed": "seeds the formula and the data (and, for run, the training)",
}
FORMULA_FIELDS = ("n_vars", "n_clauses", "width", "form", "planted")
DATASET_FIELDS = ("encoding", "target", "n_train", "n_test", "positive_fraction", "seed")
COUNT_LIMIT_VARS = 20  # inspect enumerates models only up to this many variables
INTERRUPTED = 130  # 128 + SIGINT, as shells report a process stopped by Ctrl-C

log = logging.getLogger("satbench")


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: what is wrong, then where the usage is."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _task_default(field: str):
    return field_defaults(TaskSpec)[field]


def add_task_arguments(parser, fields, required=(), with_defaults=True, defaults=None):
    """Add the flags of the given TaskSpec fields.

    required: fields argparse insists on. with_defaults=False leaves unset flags at None, so a
    command can tell which ones the user gave (TaskSpec supplies the defaults later).
    """
    choices = {"form": FORMS, "encoding": ENCODINGS, "target": TARGETS}
    types = {"positive_fraction": float, "form": str, "encoding": str, "target": str}
    for field in fields:
        flag = TASK_FLAGS[field]
        if field == "planted":
            parser.add_argument(flag, action="store_true", default=None,
                                help="plant an assignment so a cnf is satisfiable")
            continue
        default = (defaults or {}).get(field, _task_default(field))
        default = default if with_defaults and field not in required else None
        text = TASK_HELP[field] + (f" (default: {default})" if default is not None else "")
        parser.add_argument(flag, dest=field, type=types.get(field, int),
                            choices=choices.get(field), default=default,
                            required=field in required, help=text)


def _task_values(args, fields) -> dict:
    return {f: getattr(args, f) for f in fields if getattr(args, f, None) is not None}


def generator_comments(values: dict) -> dict[str, str]:
    document = {"generator": "satbench.random_formula", "args": values}
    return {"satbench-spec": json.dumps(document, sort_keys=True),
            "satbench-spec-fingerprint": sha256_of(document)}


def cmd_generate(args) -> None:
    check_output_file(args.out)
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

    check_output_file(args.out)
    values = _task_values(args, DATASET_FIELDS)
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


RUN_FLAGS = {  # RunSpec field -> (flag, type, help)
    "neurons": ("--neurons", int, "hidden neurons h of the dense network"),
    "alpha": ("--alpha", int, "expansion factor: children per neuron (>= 2 for fpe, wide_dense "
                              "and sparse_scratch)"),
    "split": ("--split", str, "splitter, one of: {splitters}"),
    "output_scale": ("--output-scale", str, "each child's outgoing weights: the parent's, "
                                            "divided by alpha or copied"),
    "learning_rate": ("--lr", float, "Adam learning rate"),
    "batch_size": ("--batch", int, "mini-batch size (0: full batch)"),
    "weight_decay": ("--weight-decay", float, "Adam weight decay"),
}


def _run_default(field: str):
    return field_defaults(RunSpec)[field]


def _splitter_names() -> str:
    from satbench.models.splitters import splitter_names

    return ", ".join(splitter_names())


def _layer_formats() -> tuple[str, ...]:
    from satbench.kernels.fpe_linear import FORMAT_CHOICES

    return FORMAT_CHOICES


def _parse_steps(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*([0-9]+)\s*,\s*([0-9]+)\s*", text)
    if not match:
        raise argparse.ArgumentTypeError(
            f"expected T1,T2: two non-negative integers, the dense warm-up steps and the steps "
            f"after expansion (e.g. 1000,1000), got {text!r}")
    return int(match[1]), int(match[2])


def add_run_arguments(parser) -> None:
    add_task_arguments(parser, FORMULA_FIELDS + DATASET_FIELDS, defaults=EXPERIMENT_TASK_DEFAULTS)
    for field, (flag, kind, text) in RUN_FLAGS.items():
        choices = OUTPUT_SCALES if field == "output_scale" else None
        text = text.format(splitters=_splitter_names())
        parser.add_argument(flag, dest=field, type=kind, default=_run_default(field),
                            choices=choices, help=f"{text} (default: {_run_default(field)})")
    steps = f"{_run_default('warmup_steps')},{_run_default('expanded_steps')}"
    parser.add_argument("--steps", default=_parse_steps(steps), type=_parse_steps,
                        help=f"T1,T2: dense warm-up steps, then steps after expansion "
                             f"(default: {steps})")
    parser.add_argument("--arms", default=",".join(_run_default("arms")),
                        help=f"comma-separated, from {', '.join(ARMS)} (default: %(default)s)")
    add_layer_format_argument(parser)
    parser.add_argument("--out", default="results/run",
                        help="results directory (default: %(default)s)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run_spec_from_args(args) -> RunSpec:
    task_values = _task_values(args, FORMULA_FIELDS + DATASET_FIELDS)
    task_values["planted"] = bool(task_values.get("planted"))
    run_values = {field: getattr(args, field) for field in RUN_FLAGS}
    warmup, expanded = args.steps
    return RunSpec(TaskSpec(**task_values), warmup_steps=warmup, expanded_steps=expanded,
                   arms=tuple(a.strip() for a in args.arms.split(",") if a.strip()),
                   seed=args.seed, **run_values)


def cmd_run(args) -> None:
    from tqdm import tqdm

    from satbench.experiment import run_experiment, training_steps
    from satbench.generators.dataset import build_dataset
    from satbench.kernels.layer_format import planned_format
    from satbench.reports.tables import arms_table
    from satbench.store import find_runs, read_run, write_run

    run = run_spec_from_args(args)
    fmt = planned_format(run, args.layer_format)
    check_output_dir(args.out)
    stored, moved = find_runs(args.out, [run.key])
    for message in moved:
        log.warning(message)
    if run.key in stored:
        rows = read_run(args.out, run.key)
        print(f"found this run already finished in {args.out} (key {run.key[:12]})",
              file=sys.stderr)
    else:
        print(f"training {', '.join(run.arms)} on {run.task.form} n={run.task.n_vars} "
              f"m={run.task.n_clauses}, h={run.neurons}, alpha={run.alpha}, split={run.split} "
              f"(FPE-structured first layers in format {fmt})", file=sys.stderr)
        dataset = build_dataset(run.task)
        with tqdm(total=training_steps(run), unit="step", desc="run", file=sys.stderr,
                  disable=args.no_progress, smoothing=0.05) as bar:
            rows = run_experiment(run, dataset, args.layer_format, on_step=bar.update)
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
    "splits": ("--split", _name_list, "splitters, comma-separated, from: {splitters}"),
    "seeds": ("--seeds", int, "number of seeds (0..N-1)"),
    "n_vars": ("--vars", int, "variables per formula"),
    "width": ("--width", int, "clause width"),
    "form": ("--form", str, "cnf or dnf"),
    "n_train": ("--train", int, "training rows"),
    "n_test": ("--test", int, "test rows"),
    "learning_rate": ("--lr", float, "Adam learning rate"),
    "batch_size": ("--batch", int, "mini-batch size (0: full batch)"),
    "output_scale": ("--output-scale", str, "copy or divide"),
    "arms": ("--arms", _name_list, f"arms to train, comma-separated, from: {', '.join(ARMS)}"),
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


def cmd_sweep(args) -> int:
    from satbench.kernels.layer_format import check_layer_format
    from satbench.sweeps.engine import SweepInterrupted, run_sweep
    from satbench.sweeps.executors import get_executor

    spec = sweep_spec_from_args(args)
    executor = get_executor(args.executor)
    runs = spec.runs()
    check_layer_format(runs, args.layer_format)  # before the header: a bad format prints one line
    out = args.out or f"results/{spec.name}"
    report = None if args.no_report else args.report or str(Path(out) / "report")
    check_output_dir(out)
    if report is not None:
        check_output_dir(report, "--report")
    print(f"sweep {spec.name}: {len(spec.cells)} cells x {len(spec.alphas)} alpha x "
          f"{len(spec.splits)} split x {spec.seeds} seeds = {len(runs)} runs into {out}",
          file=sys.stderr)
    try:
        counts = run_sweep(spec, out, executor, progress=not args.no_progress,
                           trainer=args.trainer, layer_format=args.layer_format)
    except SweepInterrupted as stop:
        print(f"satbench: interrupted: {stop.stored} of {stop.total} runs are stored in {out}; "
              f"run the same command again to train the rest", file=sys.stderr)
        return INTERRUPTED
    print(f"{counts.trained} runs trained, {counts.found} already stored, in {out}",
          file=sys.stderr)
    if counts.failed:
        print(f"satbench: error: {len(counts.failed)} of {counts.runs} runs failed (named "
              f"above), the others are stored in {out}; run the same command again to retry "
              f"the failed ones", file=sys.stderr)
        return 1
    if report is not None:
        _write_report([out], report)
    return 0


def _write_report(results_dirs, out) -> None:
    from satbench.reports.render import write_report

    path = write_report(results_dirs if len(results_dirs) > 1 else results_dirs[0], out)
    print(f"report: {path}", file=sys.stderr)


def cmd_report(args) -> None:
    out = args.out or str(Path(args.results[0]) / "report")
    check_output_dir(out)
    _write_report(args.results, out)


def cmd_verify(args) -> int:
    from tqdm import tqdm

    from satbench.sweeps.executors import get_executor
    from satbench.sweeps.verify import (
        render_differences,
        report_stores,
        retrain_differences,
        runs_to_verify,
    )

    differences, stores = [], []
    for path in args.paths:
        if (Path(path) / "report.md").is_file():
            differences += render_differences(path)
            stores += report_stores(path)
        else:
            stores.append(Path(path))
    plans = {store: runs_to_verify(store, args.runs) for store in stores}
    total = sum(len(runs) for runs in plans.values())
    with tqdm(total=total, unit="run", desc="retrain", file=sys.stderr,
              disable=args.no_progress) as bar:
        for store, runs in plans.items():
            differences += retrain_differences(store, runs, get_executor(args.executor),
                                               on_run=bar.update)
    for line in differences:
        print(line)
    checked = f"{len(args.paths)} path(s), {total} run(s) retrained"
    if differences:
        print(f"satbench: drift: {len(differences)} difference(s) in {checked}", file=sys.stderr)
        return 1
    print(f"verified {checked}: every stored value and report line is what the code computes "
          f"now", file=sys.stderr)
    return 0


def add_verify_arguments(parser) -> None:
    parser.add_argument("paths", nargs="+",
                        help="committed report directories (with report.md) or results stores")
    parser.add_argument("--runs", type=int, default=None,
                        help="retrain this many runs per store, spread over it (default: all)")
    add_executor_argument(parser)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def add_executor_argument(parser) -> None:
    from satbench.sweeps.executors import EXECUTORS

    parser.add_argument("--executor", default="local", choices=sorted(EXECUTORS),
                        help="local: a process per core; serial: in this process "
                             "(default: %(default)s)")


def add_layer_format_argument(parser) -> None:
    parser.add_argument("--layer-format", default="auto", choices=_layer_formats(),
                        help="format of the fpe and sparse_scratch first layers: auto (the "
                             "fastest for the split, device and sizes), masked, grouped "
                             "(shared splits), child_label or csr (default: %(default)s)")


def add_generate_arguments(parser) -> None:
    add_task_arguments(parser, FORMULA_FIELDS + ("seed",), required=("n_vars", "n_clauses"))
    parser.add_argument("--out", required=True,
                        help="output DIMACS file (.gz, .xz or .bz2 compresses it)")


def add_inspect_arguments(parser) -> None:
    parser.add_argument("file", help="a DIMACS file (plain, .gz, .xz or .bz2)")


def add_dataset_arguments(parser) -> None:
    add_task_arguments(parser, FORMULA_FIELDS, with_defaults=False)
    add_task_arguments(parser, DATASET_FIELDS)
    parser.add_argument("--formula", help="build the task from this DIMACS file instead")
    parser.add_argument("--out", required=True, help="output .parquet file")


def add_sweep_arguments(parser) -> None:
    from satbench.sweeps.engine import TRAINERS
    from satbench.sweeps.presets import PRESETS

    parser.add_argument("--preset", help=f"one of: {', '.join(PRESETS)} (default: quick)")
    parser.add_argument("--neurons", type=_int_list, help="hidden widths, e.g. 4,8,16")
    parser.add_argument("--clauses", type=_int_list, help="clause counts, e.g. 4,8,16,32")
    for field, (flag, kind, text) in SWEEP_FLAGS.items():
        parser.add_argument(flag, dest=field, type=kind,
                            help=text.format(splitters=_splitter_names()))
    parser.add_argument("--steps", type=_parse_steps, help="T1,T2")
    parser.add_argument("--out", help="results directory (default: results/<preset>)")
    add_executor_argument(parser)
    parser.add_argument("--trainer", default="batched", choices=TRAINERS,
                        help="train each run alone, or a task's runs as one batched program "
                             "(identical weights; default: %(default)s)")
    add_layer_format_argument(parser)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--report", help="report directory (default: <out>/report)")
    parser.add_argument("--no-report", action="store_true", help="store results only")


def add_report_arguments(parser) -> None:
    parser.add_argument("results", nargs="+", help="results directories (pooled)")
    parser.add_argument("--out", help="report directory (default: <first results dir>/report)")


def add_bench_arguments(parser) -> None:
    benches = parser.add_subparsers(dest="benchmark", required=True)
    # The benchmark parses its own flags, so building this parser never imports torch.
    kernels = benches.add_parser("kernels", add_help=False,
                                 help="FPELinear's formats against the dense parent layer")
    kernels.set_defaults(handler=_run_kernel_bench, passes_options=True)


def _run_kernel_bench(args) -> None:
    from satbench.kernels import bench as kernel_bench

    parser = kernel_bench.add_arguments(_Parser(prog="satbench bench kernels"))
    kernel_bench.run_from_args(parser.parse_args(args.extra_options))


COMMANDS = {  # name -> (help, adds its arguments, handler)
    "generate": ("write a random k-clause formula as DIMACS", add_generate_arguments,
                 cmd_generate),
    "inspect": ("summarise a DIMACS file", add_inspect_arguments, cmd_inspect),
    "dataset": ("write a balanced train/test dataset (Parquet)", add_dataset_arguments,
                cmd_dataset),
    "run": ("train dense, FPE and reference arms on one task", add_run_arguments, cmd_run),
    "sweep": ("run a neurons x clauses grid (default: the quick preset)", add_sweep_arguments,
              cmd_sweep),
    "report": ("write report.md and figures from results", add_report_arguments, cmd_report),
    "verify": ("retrain stored runs and re-render reports; exit 1 if anything drifted",
               add_verify_arguments, cmd_verify),
    "bench": ("performance benchmarks (ratios measured side by side in one run)",
              add_bench_arguments, None),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; only `command`'s flags are built (all of them when None), because some list
    registries whose import loads torch."""
    parser = _Parser(prog="satbench", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {satbench.__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, (text, add_arguments, handler) in COMMANDS.items():
        sub = commands.add_parser(name, help=text, description=text)
        if command in (None, name):
            add_arguments(sub)
        if handler is not None:
            sub.set_defaults(handler=handler)
    return parser


def _command_in(argv: list[str]) -> str | None:
    return next((token for token in argv if not token.startswith("-")), None)


def _join_negative_values(argv: list[str]) -> list[str]:
    """`--steps -1,5` as `--steps=-1,5`: argparse takes '-1,5' for an option and says only
    "expected one argument"; joined, the value reaches its check, which says what is expected."""
    out = []
    for token in argv:
        if out and re.fullmatch(r"--[^=]+", out[-1]) and re.match(r"-[0-9.]", token):
            out[-1] = f"{out[-1]}={token}"
        else:
            out.append(token)
    return out


class _TerminalHandler(logging.Handler):
    """Library warnings as `satbench: warning: ...` lines that leave a progress bar intact."""

    def emit(self, record):
        from tqdm import tqdm

        tqdm.write(f"satbench: warning: {record.getMessage()}", file=sys.stderr)


def _stdout_closed() -> None:
    # The reader of a pipe left (`satbench inspect f.cnf | head -1`). Point stdout at devnull so
    # the interpreter's final flush does not fail a second time.
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _run_command(argv: list[str]) -> int:
    parser = build_parser(_command_in(argv))
    try:
        args, extra = parser.parse_known_args(argv)
        if extra and not getattr(args, "passes_options", False):
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
    except SystemExit as done:  # --help, --version, or a usage error it has printed
        return done.code or 0
    args.extra_options = extra
    return args.handler(args) or 0


def main(argv=None) -> int:
    argv = _join_negative_values(sys.argv[1:] if argv is None else list(argv))
    handler = _TerminalHandler(logging.WARNING)
    log.addHandler(handler)
    try:
        status = _run_command(argv)
        sys.stdout.flush()  # inside the try: a closed pipe fails here, not at exit
        return status
    except SatbenchError as error:
        print(f"satbench: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("satbench: interrupted; nothing partial was written", file=sys.stderr)
        return INTERRUPTED
    except BrokenPipeError:
        _stdout_closed()
        print("satbench: error: stdout: the reader closed the pipe before the output was "
              "complete", file=sys.stderr)
        return 2
    finally:
        log.removeHandler(handler)


if __name__ == "__main__":
    sys.exit(main())
