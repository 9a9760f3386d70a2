"""The satbench command line. It composes the library; nothing imports it.

Every user error prints one line, `satbench: error: ...`, and exits 2, with nothing partial left
behind: library errors (SatbenchError), argparse's own, and a bad output location, which is
checked before any work starts. Ctrl-C prints one line and exits 130; a closed stdout (its reader
left) ends quietly with 141, as a tool stopped by SIGPIPE does. Only the subcommand being
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
from satbench import numerics
from satbench.errors import SatbenchError
from satbench.fingerprint import sha256_of
from satbench.generators.dimacs import read_dimacs, read_dimacs_comments, write_dimacs
from satbench.generators.random_formula import random_formula
from satbench.generators.solving import count_models, is_satisfiable
from satbench.outputs import check_output_dir, check_output_file
from satbench.specs import (
    EXPERIMENT_TASK_DEFAULTS,
    FORMULA_FIELDS,
    TaskSpec,
    choices_of,
    flag_of,
    spec_fields,
)

COUNT_LIMIT_VARS = 20  # inspect enumerates models only up to this many variables
INTERRUPTED = 130  # 128 + SIGINT, as shells report a process stopped by Ctrl-C
PIPE_CLOSED = 141  # 128 + SIGPIPE, as shells report a tool whose output's reader left
TORCH_FREE = ("generate", "inspect")  # formula-only commands: no registries, no plugins

log = logging.getLogger("satbench")


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: what is wrong, then where the usage is. Subcommand parsers
    are of this class too; their errors take the one prefix every satbench error has."""

    def error(self, message):
        self.exit(2, f"satbench: error: {message} (see {self.prog} --help)\n")


def _values(text: str, kind):
    """One flag value of a spec field's type; bools are spelled true/false."""
    if kind is bool:
        if text.strip().lower() not in ("true", "false"):
            raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")
        return text.strip().lower() == "true"
    try:
        return kind(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {kind.__name__} values, got {text!r}") \
            from None


def _positive_int(text: str) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _list_of(kind):
    def parse(text: str) -> tuple:
        values = tuple(_values(part, kind) for part in text.split(",") if part.strip())
        if not values:  # an unset flag gives the defaults; an empty one is a mistake
            raise argparse.ArgumentTypeError(f"expected a comma-separated list of at least one "
                                             f"value, got {text!r}")
        return values
    parse.__name__ = f"comma-separated {getattr(kind, '__name__', 'value')} list"
    return parse


def _field_kind(field):
    return next((k for k in (bool, int, float, str) if field.type in (k, k | None)), str)


def add_spec_flags(parser, spec_classes, *, names=None, axes=False, required=(), defaults=None,
                   shown_defaults=True, fill=True) -> dict[str, list[str]]:
    """A flag for every field of `spec_classes` (or the `names` among them), generated from the
    fields' metadata: flag, help, choices and type. Fields that share a flag (the task's and the
    training's --seed) share its value. axes: each flag takes a comma-separated list (a sweep
    axis). Returns {dest: field names it sets}.

    Unset flags are None unless shown_defaults, where the default (from `defaults`, else the
    field's) is shown in the help and, with fill, filled in.
    """
    fill = fill and shown_defaults
    dests: dict[str, list[str]] = {}
    for spec_class in spec_classes:
        for field in spec_fields(spec_class):
            flag = flag_of(field)
            if flag is None or (names is not None and field.name not in names):
                continue
            dest = flag.removeprefix("--").replace("-", "_")
            if dest in dests:
                dests[dest].append(field.name)
                continue
            dests[dest] = [field.name]
            kind, choices = _field_kind(field), choices_of(field)
            default = (defaults or {}).get(field.name, field.default)
            text = field.metadata["help"] + (f"; one of: {', '.join(map(str, choices))}"
                                             if choices and (axes or len(choices) > 6)
                                             else "")
            if axes:
                text += (" (true,false or either)" if kind is bool
                         else " (comma-separated values to sweep over)")
            elif shown_defaults and field.name not in required and default is not None:
                text += f" (default: {default})"
            if kind is bool and not axes:
                parser.add_argument(flag, dest=dest, action="store_true",
                                    default=default if fill else None, help=text)
                continue
            parser.add_argument(flag, dest=dest, type=_list_of(kind) if axes else kind,
                                choices=None if axes or len(choices or ()) > 6 else choices,
                                default=(default if fill and not axes
                                         and field.name not in required else None),
                                required=field.name in required, help=text,
                                metavar=None if choices is None or axes else
                                "{" + ",".join(map(str, choices)) + "}")
    return dests


def spec_values(args, dests: dict[str, list[str]]) -> dict:
    """{field name: value} for every generated flag the user set (or that has a default)."""
    return {name: getattr(args, dest) for dest, names in dests.items() for name in names
            if getattr(args, dest, None) is not None}


def generator_comments(values: dict) -> dict[str, str]:
    document = {"generator": "satbench.random_formula", "args": values}
    return {"satbench-spec": json.dumps(document, sort_keys=True),
            "satbench-spec-fingerprint": sha256_of(document)}


def cmd_generate(args) -> None:
    check_output_file(args.out)
    values = spec_values(args, args.spec_flags)
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


def _flag(name: str) -> str:
    return next(flag_of(f) for f in spec_fields(TaskSpec) if f.name == name)


def cmd_dataset(args) -> None:
    from satbench.generators.dataset import build_dataset, task_for_formula  # polars, torch

    check_output_file(args.out)
    values = spec_values(args, args.spec_flags)
    formula_values = {k: values.pop(k) for k in FORMULA_FIELDS if k in values}
    if args.formula:
        if formula_values:
            given = ", ".join(_flag(name) for name in formula_values)
            raise SatbenchError(f"{given}: not allowed with --formula (the file defines the "
                                "formula)")
        formula = read_dimacs(args.formula)
        dataset = build_dataset(task_for_formula(formula, **values), formula)
    else:
        missing = [_flag(f) for f in ("n_vars", "n_clauses") if f not in formula_values]
        if missing:
            raise SatbenchError(f"{' and '.join(missing)}: required unless --formula is given")
        formula_values["planted"] = bool(formula_values.get("planted"))
        dataset = build_dataset(TaskSpec(**values, **formula_values))
    dataset.write_parquet(args.out)
    labels = dataset.labels
    print(f"wrote {args.out}: {dataset.spec.n_train} train + {dataset.spec.n_test} test rows, "
          f"{labels.mean():.3f} positive, sampling {dataset.sampling_methods}")
    print(f"task fingerprint:    {dataset.spec.fingerprint}")
    print(f"dataset fingerprint: {dataset.fingerprint}")


def _parse_steps(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*([0-9]+)\s*,\s*([0-9]+)\s*", text)
    if not match:
        raise argparse.ArgumentTypeError(
            f"expected T1,T2: two non-negative integers, the dense warm-up steps and the steps "
            f"after expansion (e.g. 1000,1000), got {text!r}")
    return int(match[1]), int(match[2])


def _method_classes():
    from satbench.methods import METHODS

    return [METHODS.get(name).params for name in METHODS.names()]


def add_methods_argument(parser, default_text: str) -> None:
    from satbench.methods import METHODS

    parser.add_argument("--methods", "--arms", dest="methods", type=_list_of(str),
                        help=f"methods to train, comma-separated, from: "
                             f"{', '.join(METHODS.names())} (default: {default_text}); --arms "
                             f"is an alias")


def _context_classes():
    from satbench.specs import TrainingContext

    return [TaskSpec, TrainingContext]


def add_run_arguments(parser) -> None:
    from satbench.methods import DEFAULT_METHODS
    from satbench.sweeps.presets import PRESETS

    parser.add_argument("--preset", help=f"take the task, training and single-valued params of "
                                         f"a sweep preset ({', '.join(PRESETS)}); its first "
                                         f"cell unless --neurons/--clauses are given; flags "
                                         f"override it")
    parser.set_defaults(spec_flags=add_spec_flags(parser, _context_classes(),
                                                  defaults=EXPERIMENT_TASK_DEFAULTS, fill=False),
                        param_flags=add_spec_flags(parser, _method_classes(),
                                                   shown_defaults=False))
    parser.add_argument("--steps", type=_parse_steps,
                        help="T1,T2: shorthand for --warmup-steps T1 --expanded-steps T2")
    add_methods_argument(parser, f"the preset's, else {','.join(DEFAULT_METHODS)}")
    parser.set_defaults(default_methods=DEFAULT_METHODS)
    add_layer_format_argument(parser)
    parser.add_argument("--out", default="results/run",
                        help="results directory (default: %(default)s)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _method_params(name: str):
    from satbench.methods import get_method

    return get_method(name).params


def _split_context(values: dict) -> tuple[dict, dict]:
    """Spec flag values as (TaskSpec fields, TrainingContext fields); --seed sets both seeds."""
    from satbench.specs import TrainingContext

    task_names = {f.name for f in spec_fields(TaskSpec)}
    context_names = {f.name for f in spec_fields(TrainingContext)}
    task = {k: v for k, v in values.items() if k in task_names}
    return task, {k: v for k, v in values.items() if k in context_names}


def runs_from_args(args) -> list:
    """The runs of `satbench run`: defaults, then the preset's settings, then the user's flags."""
    from satbench.runs import runs_for
    from satbench.specs import TrainingContext

    values, params, methods = dict(EXPERIMENT_TASK_DEFAULTS), {}, args.default_methods
    if args.preset:
        from satbench.sweeps.presets import get_preset

        preset = get_preset(args.preset)
        settings = preset.single_values()
        task_and_context = set().union(*_split_context(settings))
        values |= {k: v for k, v in settings.items() if k in task_and_context}
        params = {k: v for k, v in settings.items() if k not in task_and_context}
        values["neurons"], values["n_clauses"] = preset.cells[0]
        methods = preset.methods
    values |= spec_values(args, args.spec_flags)
    if args.steps is not None:
        values["warmup_steps"], values["expanded_steps"] = args.steps
    task, context = _split_context(values)
    task["planted"] = bool(task.get("planted"))
    context = TrainingContext(TaskSpec(**task), **context)
    methods = args.methods or methods
    taken = {f.name for name in methods for f in spec_fields(_method_params(name))}
    params = {k: v for k, v in params.items() if k in taken}  # the preset's, for these methods
    return runs_for(context, methods, **params | spec_values(args, args.param_flags))


def cmd_run(args) -> None:
    from tqdm import tqdm

    from satbench.generators.dataset import build_dataset
    from satbench.memory import check_training_memory
    from satbench.paper import headline_comparison
    from satbench.reports.tables import runs_table
    from satbench.store import find_runs, read_run, write_run
    from satbench.training.formats import planned_format
    from satbench.training.rows import evaluate
    from satbench.training.single import train_runs, training_steps

    runs = runs_from_args(args)
    for run in runs:
        planned_format(run, args.layer_format)  # a bad format is one line, before any work
    check_training_memory(runs)
    check_output_dir(args.out)
    stored, moved = find_runs(args.out, [run.key for run in runs])
    for message in moved:
        log.warning(message)
    pending = [run for run in runs if run.key not in stored]
    context = runs[0].context
    rows = {run.key: read_run(args.out, run.key)[0] for run in runs if run.key in stored}
    if rows:
        print(f"found {len(rows)} of {len(runs)} runs already finished in {args.out}",
              file=sys.stderr)
    if pending:
        print(f"training {', '.join(run.describe() for run in pending)} on "
              f"{context.task.form} n={context.task.n_vars} m={context.task.n_clauses}, "
              f"h={context.neurons}", file=sys.stderr)
        dataset = build_dataset(context.task)
        with tqdm(total=training_steps(pending), unit="step", desc="run", file=sys.stderr,
                  disable=args.no_progress, smoothing=0.05) as bar:
            trained = train_runs(pending, dataset, args.layer_format, on_step=bar.update)
        for result in trained:
            row = evaluate(result, dataset)
            write_run(args.out, result.run.key, [row], result.run.to_dict())
            rows[result.run.key] = row
        print(f"stored {len(trained)} runs in {args.out}", file=sys.stderr)
    print(runs_table([rows[run.key] for run in runs]))
    beside_paper = headline_comparison([rows[run.key] for run in runs])
    if beside_paper:
        print(beside_paper)


def sweep_spec_from_args(args):
    from satbench.sweeps.presets import get_preset
    from satbench.sweeps.spec import SweepSpec, axis_fields

    grid = args.neurons is not None or args.clauses is not None
    if grid and args.preset:
        raise SatbenchError("--preset: give a preset or a --neurons/--clauses grid, not both")
    if grid:
        if args.neurons is None or args.clauses is None:
            raise SatbenchError("--neurons and --clauses: a custom grid needs both")
        base = SweepSpec.grid("custom", args.neurons, args.clauses)
    else:
        base = get_preset(args.preset or "quick")
    changes = {}
    if args.seeds is not None:
        changes["seeds"] = args.seeds
    if args.methods is not None:
        # The preset's axes that none of the chosen methods take are dropped; an axis the user
        # gives that none takes stays an error (SweepSpec checks).
        known = axis_fields(args.methods)
        changes["methods"] = args.methods
        changes["axes"] = tuple((name, values) for name, values in base.axes
                                if all(field in known for field in name.split("+")))
    axes = spec_values(args, args.spec_flags)
    if args.steps is not None:
        axes["warmup_steps+expanded_steps"] = tuple(args.steps)
    return base.replace(**changes).with_axes(**axes)


def cmd_sweep(args) -> int:
    from satbench.store import check_layout
    from satbench.sweeps.engine import SweepInterrupted, run_sweep
    from satbench.sweeps.executors import get_executor
    from satbench.training.formats import check_layer_format

    spec = sweep_spec_from_args(args)
    executor = get_executor(args.executor, args.address)
    runs = spec.runs()
    check_layer_format(runs, args.layer_format)  # before the header: a bad format prints one line
    out = args.out or f"results/{spec.name}"
    report = None if args.no_report else args.report or str(Path(out) / "report")
    check_output_dir(out)
    check_layout(out)  # a satbench 0.2 store: one line, before the header
    if report is not None:
        check_output_dir(report, "--report")
    contexts = len({run.run_key for run in runs})
    print(f"sweep {spec.name}: {len(runs)} runs ({', '.join(spec.methods)} in {contexts} "
          f"training contexts: {len(spec.cells)} cells x {spec.seeds} seeds"
          f"{''.join(f' x {len(v)} {k}' for k, v in spec.axes if len(v) > 1)}) into {out}",
          file=sys.stderr)
    try:
        counts = run_sweep(spec, out, executor, progress=not args.no_progress,
                           trainer=args.trainer, layer_format=args.layer_format)
    except SweepInterrupted as stop:
        print(f"satbench: interrupted: {stop.stored} of {stop.total} runs are stored in {out}; "
              f"run the same command again to train the rest", file=sys.stderr)
        return INTERRUPTED
    elsewhere = f", {counts.elsewhere} trained by another sweep" if counts.elsewhere else ""
    print(f"{counts.trained} runs trained, {counts.found} already stored{elsewhere}, in {out}",
          file=sys.stderr)
    if counts.failed:
        stored = counts.stored
        where = f"the other {stored} are stored in {out}" if stored else "none is stored"
        print(f"satbench: error: {len(counts.failed)} of {counts.runs} runs failed (named "
              f"above); {where}; run the same command again to retry the failed ones",
              file=sys.stderr)
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
        Check,
        render_differences,
        report_stores,
        retrain_check,
        rounding_differences,
        runs_to_verify,
    )

    differences, reports, stores = [], {}, []
    for path in args.paths:
        if (Path(path) / "report.md").is_file():
            differences += render_differences(path)
            reports[path] = report_stores(path)
            stores += reports[path]
        else:
            stores.append(Path(path))
    plans = {store: runs_to_verify(store, args.runs) for store in stores}
    total = sum(len(runs) for runs in plans.values())
    check, rounded_rows = Check(), {}
    with tqdm(total=total, unit="run", desc="retrain", file=sys.stderr,
              disable=args.no_progress) as bar:
        for store, runs in plans.items():
            found, rounded_rows[store] = retrain_check(
                store, runs, get_executor(args.executor, args.address), on_run=bar.update)
            check = check.add(found)
    # Values that differ by platform rounding are drift if they move the report: every verdict
    # and every printed number must come out the same from the retrained rows.
    in_reports = {store for report_store_paths in reports.values()
                  for store in report_store_paths}
    for path, report_store_paths in reports.items():
        replaced = {key: row for store in report_store_paths
                    for key, row in rounded_rows[store].items()}
        if replaced:
            differences += render_differences(path, replaced)
    for store in stores:
        if store not in in_reports and rounded_rows[store]:
            differences += rounding_differences(store, rounded_rows[store])
    differences = check.drift + differences
    for line in differences:
        print(line)
    checked = f"{len(args.paths)} path(s), {total} run(s) retrained"
    if differences:
        print(f"satbench: drift: {len(differences)} difference(s) in {checked}", file=sys.stderr)
        return 1
    if check.rounded:
        unchanged = ("every verdict and every figure in report.md is unchanged" if reports
                     else "every verdict and every figure of the stores' reports is unchanged")
        print(f"verified {checked}: platform rounding: {check.rounded} value(s) differ by at "
              f"most {check.largest:.3g} (this machine computes in another numeric mode, torch "
              f"or CPU than the stored rows); {unchanged}", file=sys.stderr)
        return 0
    print(f"verified {checked}: every stored value and report line is what the code computes "
          f"now, bit for bit", file=sys.stderr)
    return 0


def add_verify_arguments(parser) -> None:
    parser.add_argument("paths", nargs="+",
                        help="committed report directories (with report.md) or results stores")
    parser.add_argument("--runs", type=_positive_int, default=None,
                        help="retrain this many runs per store, spread over it, at least one "
                             "(default: all)")
    add_executor_argument(parser)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def add_executor_argument(parser) -> None:
    from satbench.sweeps.executors import EXECUTORS

    parser.add_argument("--executor", default="local", choices=sorted(EXECUTORS),
                        help="local: a process per core; serial: in this process; ray: a Ray "
                             "cluster (pip install 'satbench[ray]') (default: %(default)s)")
    parser.add_argument("--address", default=None, metavar="HOST:PORT",
                        help="with --executor ray: the cluster's head node (default: "
                             "RAY_ADDRESS, else the Ray started on this machine, else a new "
                             "local one)")


def add_layer_format_argument(parser) -> None:
    from satbench.kernels import FORMAT_CHOICES

    parser.add_argument("--layer-format", default="auto", choices=FORMAT_CHOICES,
                        help="format of structured first layers (fpe, sparse_scratch): auto "
                             "(the fastest for the split, device and sizes), masked, grouped "
                             "(shared splits), child_label or csr (default: %(default)s)")


def add_generate_arguments(parser) -> None:
    parser.set_defaults(spec_flags=add_spec_flags(
        parser, [TaskSpec], names=FORMULA_FIELDS + ("seed",), required=("n_vars", "n_clauses")))
    parser.add_argument("--out", required=True,
                        help="output DIMACS file (.gz, .xz or .bz2 compresses it)")


def add_inspect_arguments(parser) -> None:
    parser.add_argument("file", help="a DIMACS file (plain, .gz, .xz or .bz2)")


def add_dataset_arguments(parser) -> None:
    formula = add_spec_flags(parser, [TaskSpec], names=FORMULA_FIELDS, shown_defaults=False)
    data = add_spec_flags(parser, [TaskSpec], names=[
        f.name for f in spec_fields(TaskSpec) if f.name not in FORMULA_FIELDS])
    parser.set_defaults(spec_flags=formula | data)
    parser.add_argument("--formula", help="build the task from this DIMACS file instead")
    parser.add_argument("--out", required=True, help="output .parquet file")


def add_sweep_arguments(parser) -> None:
    from satbench.sweeps.engine import TRAINERS
    from satbench.sweeps.presets import PRESETS
    from satbench.sweeps.spec import GRID_FIELDS

    parser.add_argument("--preset", help=f"one of: {', '.join(PRESETS)} (default: quick)")
    parser.add_argument("--neurons", type=_list_of(int), help="hidden widths, e.g. 4,8,16")
    parser.add_argument("--clauses", type=_list_of(int), help="clause counts, e.g. 4,8,16,32")
    parser.add_argument("--seeds", type=int, help="number of seeds (0..N-1), each seeding the "
                                                  "task and the training")
    add_methods_argument(parser, "the preset's")
    classes = _context_classes() + _method_classes()
    names = [f.name for c in classes for f in spec_fields(c) if f.name not in GRID_FIELDS]
    parser.set_defaults(spec_flags=add_spec_flags(parser, classes, names=names, axes=True))
    parser.add_argument("--steps", type=_parse_steps, nargs="+", metavar="T1,T2",
                        help="(T1, T2) pairs to sweep over together, e.g. --steps 1000,1000 "
                             "3000,3000 (training budgets) or 500,1500 1000,1000 (the split's "
                             "timing)")
    parser.add_argument("--out", help="results directory (default: results/<preset>)")
    add_executor_argument(parser)
    parser.add_argument("--trainer", default="batched", choices=TRAINERS,
                        help="train each context alone, or a task's runs as one batched program "
                             "(identical weights; default: %(default)s)")
    add_layer_format_argument(parser)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--report", help="report directory (default: <out>/report)")
    parser.add_argument("--no-report", action="store_true", help="store results only")


def add_report_arguments(parser) -> None:
    parser.add_argument("results", nargs="+", help="results directories (pooled)")
    parser.add_argument("--out", help="report directory (default: <first results dir>/report)")


def cmd_plugins(args) -> None:
    from satbench.methods import METHODS
    from satbench.models.splitters import SPLITTERS

    for registry in (METHODS, SPLITTERS):
        print(f"{registry.kind}s:")
        for name in registry.names():
            item = registry.get(name)
            summary = getattr(item, "summary", None) or (item.__doc__ or "").strip().split("\n")[0]
            print(f"  {name:<16} version {item.version:<8} {registry.origin(name)}"
                  + (f": {summary}" if summary else ""))


def cmd_migrate(args) -> None:
    from satbench.migrate import migrate_store
    from satbench.store import LAYOUT

    done = migrate_store(args.store)
    if done is None:
        print(f"{args.store}: already current (layout {LAYOUT}); nothing to do", file=sys.stderr)
        return
    print(f"{args.store}: {done.old_files} satbench 0.2 run files became {done.runs} run files "
          f"({done.duplicates} repeated dense or wide_dense arms were bitwise equal and are "
          f"stored once), {done.manifests} sweep manifests converted; the old files are in "
          f"{Path(args.store) / 'layout-1'}", file=sys.stderr)


def add_migrate_arguments(parser) -> None:
    parser.add_argument("store", help="a results directory written by satbench 0.2")


COMMANDS = {  # name -> (help, adds its arguments, handler)
    "generate": ("write a random k-clause formula as DIMACS", add_generate_arguments,
                 cmd_generate),
    "inspect": ("summarise a DIMACS file", add_inspect_arguments, cmd_inspect),
    "dataset": ("write a balanced train/test dataset (Parquet)", add_dataset_arguments,
                cmd_dataset),
    "run": ("train the dense baseline and other methods on one task", add_run_arguments,
            cmd_run),
    "sweep": ("run a neurons x clauses grid (default: the quick preset)", add_sweep_arguments,
              cmd_sweep),
    "report": ("write report.md and figures from results", add_report_arguments, cmd_report),
    "verify": ("retrain stored runs and re-render reports; exit 1 if anything drifted",
               add_verify_arguments, cmd_verify),
    "migrate": ("convert a satbench 0.2 results store to today's layout (keeps the old files)",
                add_migrate_arguments, cmd_migrate),
    "plugins": ("list the registered methods and splitters, and where each comes from",
                lambda parser: None, cmd_plugins),
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
            if name not in TORCH_FREE:
                sub.add_argument("--plugin", action="append", metavar="MODULE",
                                 help="import this module first, so that the splitters and "
                                      "methods it registers can be used (repeatable)")
            add_arguments(sub)
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


def _plugin_modules(argv: list[str]) -> list[str]:
    """The modules named with --plugin, found before parsing: they add flags and choices."""
    modules = []
    for index, token in enumerate(argv):
        if token == "--plugin" and index + 1 < len(argv):
            modules.append(argv[index + 1])
        elif token.startswith("--plugin="):
            modules.append(token.split("=", 1)[1])
    return modules


def load_plugins(argv: list[str], command: str | None) -> None:
    """Entry-point plugins, then --plugin modules, for the commands that use the registries."""
    if command not in TORCH_FREE:
        from satbench import plugins

        plugins.load_entry_points()
        for module in _plugin_modules(argv):
            plugins.load_module(module)


def _run_command(argv: list[str]) -> int:
    command = _command_in(argv)
    load_plugins(argv, command)
    parser = build_parser(command)
    try:
        args = parser.parse_args(argv)
    except SystemExit as done:  # --help, --version, or a usage error it has printed
        return done.code or 0
    return args.handler(args) or 0


def main(argv=None) -> int:
    argv = _join_negative_values(sys.argv[1:] if argv is None else list(argv))
    handler = _TerminalHandler(logging.WARNING)
    log.addHandler(handler)
    try:
        numerics.requested_mode()  # a mistyped SATBENCH_NUMERIC_MODE fails before any work
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
        # Not a mistake (`satbench inspect f.cnf | head -1` wants no more): end quietly, as cat
        # or grep do. Every file was written before the output that failed.
        _stdout_closed()
        return PIPE_CLOSED
    finally:
        log.removeHandler(handler)


if __name__ == "__main__":
    sys.exit(main())
