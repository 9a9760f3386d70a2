"""How fast is each FPELinear format, relative to the dense parent layer nn.Linear(d, h)?

For each (d, h, alpha) setting a dense MLP is expanded by FPE (satbench.models.expand, with its
pruning) twice: with the per-parent 'random' split and with the shared 'random-shared' split. The
first layers are timed in every format that applies, next to the dense parent:

    dense           nn.Linear(d, h), the baseline every ratio divides by
    masked_linear   the project's MaskedLinear holding W' (alpha*h, d), as models run today
    masked          FPELinear format masked (per-parent split)
    child_label     FPELinear format child_label (per-parent split; Triton on CUDA, torch on CPU)
    csr             FPELinear format csr (per-parent split), a baseline
    grouped         FPELinear format grouped (shared split)
    output_floor    forward only: allocating and zero-filling the (batch, alpha*h) output, the
                    least any expanded layer pays (the dense parent writes alpha times fewer
                    outputs), so a ratio near it is bound by the output, not by the format

Modes: 'forward' (under torch.no_grad) and 'fwd+bwd' (forward, then backward of a fixed random
output gradient into the weight, the bias and the input). All formats of a (setting, batch, mode)
are measured side by side in one run: each round times every format once, in a rotated order, and
the reported time is the median over rounds; each sample repeats the call enough times to last
about --sample-ms. Runs on the CPU always and on CUDA when present.

Targets (benchmark figures, not timed tests): grouped at most 1.1x dense forward and 1.2x fwd+bwd;
child_label on a GPU at most 1.3x dense at batch <= 256 and at least 3x faster than csr; on the
CPU the per-parent format `auto` picks no slower than masked.

CPU timings use one torch thread and this thread's CPU time by default (--threads, --clock), so
that other processes on a shared machine do not distort the ratios; CUDA timings use wall time
between synchronizations. glibc's malloc is told to keep freed memory for reuse
(retain_freed_memory; --system-malloc turns this off), so that page faults do not land on
whichever format happens to allocate after another returned memory to the OS.

Each FPELinear is built on the device it is timed on, so that format="auto" and backend="auto"
resolve for that device (a layer's format and backend are fixed when it is built).

Run: python benchmarks/kernels.py [--quick] [--out results/bench-kernels] [--threads N]
Writes kernels.parquet and kernels.png under --out.
"""

import argparse
import ctypes
import platform
import statistics
import time
from pathlib import Path

import polars as pl
import torch
from torch import nn

from satbench.kernels import CPU_PER_PARENT_FORMAT, FPELinear, select_format, triton_usable
from satbench.models import MLP, SplitContext, expand
from satbench.outputs import check_output_dir
from satbench.rng import numpy_rng, torch_generator

# (d, h, alpha): a layer of this project's size (tens of inputs), then wider ones
SETTINGS = [(32, 64, 4), (64, 256, 4), (256, 1024, 2), (256, 1024, 4)]
QUICK_SETTINGS = [(64, 256, 4), (256, 1024, 4)]
BATCHES = [1, 4, 16, 64, 256, 1024, 4096]
QUICK_BATCHES = [1, 16, 256, 4096]
MODES = ("forward", "fwd+bwd")
PER_PARENT = ("masked_linear", "masked", "child_label", "csr")


class OutputFloor(nn.Module):
    """Allocates and zero-fills the (batch, alpha*h) output and computes nothing: the least any
    layer with alpha*h outputs pays per forward, timed as a floor for the formats' ratios (the
    dense parent writes only h outputs per row)."""

    def __init__(self, out_features: int):
        super().__init__()
        self.out_features = out_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.new_zeros(x.shape[0], self.out_features)


def build_layers(d: int, h: int, alpha: int, device: torch.device) -> dict[str, nn.Module]:
    """The dense parent and its expanded first layer in every format, on `device`."""
    dense = MLP(d, h, 1, torch_generator(0, "bench-kernels", d, h))
    context = SplitContext.without_clauses(d)
    layers: dict[str, nn.Module] = {"dense": nn.Linear(d, h)}
    with torch.no_grad():
        layers["dense"].weight.copy_(dense.fc1.weight)
        layers["dense"].bias.copy_(dense.fc1.bias)
    per_parent = expand(dense, alpha, "random", context, numpy_rng(0, "bench-kernels", d, h))
    shared = expand(dense, alpha, "random-shared", context, numpy_rng(1, "bench-kernels", d, h))
    layers["masked_linear"] = per_parent.model.fc1
    for fmt in ("masked", "child_label", "csr"):
        layers[fmt] = FPELinear.from_masked_linear(per_parent.model.fc1, alpha, format=fmt,
                                                   device=device)
    layers["grouped"] = FPELinear.from_masked_linear(shared.model.fc1, alpha, format="grouped",
                                                     device=device)
    layers["output_floor"] = OutputFloor(alpha * h)
    return {name: layer.to(device) for name, layer in layers.items()}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def make_call(layer: nn.Module, mode: str, x: torch.Tensor, grad: torch.Tensor):
    if mode == "forward":
        def call():
            with torch.no_grad():
                layer(x)
    else:
        x = x.detach().requires_grad_()

        def call():
            layer(x).backward(grad)
            for p in layer.parameters():
                p.grad = None
            x.grad = None
    return call


def time_side_by_side(calls: dict, device: torch.device, rounds: int, sample_s: float,
                      clock=time.perf_counter) -> dict[str, list[float]]:
    """Seconds per call of each entry: `rounds` samples each, interleaved in rotated order."""
    inner = {}
    for name, call in calls.items():  # warm up (and JIT-compile), then size each sample
        for _ in range(2):
            call()
        _sync(device)
        start = clock()
        call()
        _sync(device)
        once = max(clock() - start, 1e-7)
        inner[name] = max(1, min(1000, int(sample_s / once)))
    samples = {name: [] for name in calls}
    names = list(calls)
    for r in range(rounds):
        for name in names[r % len(names):] + names[: r % len(names)]:
            call, n = calls[name], inner[name]
            _sync(device)
            start = clock()
            for _ in range(n):
                call()
            _sync(device)
            samples[name].append((clock() - start) / n)
    return samples


def pick_clock(device: torch.device, name: str):
    """thread: this thread's CPU time, which a shared machine's other processes do not inflate
    (only meaningful when torch computes in this one thread); wall: perf_counter."""
    if name == "auto":
        name = "thread" if device.type == "cpu" and torch.get_num_threads() == 1 else "wall"
    return name, time.thread_time if name == "thread" else time.perf_counter


def retain_freed_memory() -> bool:
    """Make glibc's malloc keep freed memory for reuse (no trimming; mmap only above 32 MiB).

    By default glibc returns large freed blocks to the OS, so a later allocation of the same size
    page-faults its memory in again. Which format pays that depends on what the formats before it
    in the rotation allocated, not on the format: measured at d=64, h=256, alpha=4, batch 4096,
    grouped's forward read 6.1x dense with the default malloc and 1.8x with freed memory kept
    (101,098 page faults against 0). Keeping freed memory, as torch's CUDA caching allocator and
    the jemalloc/tcmalloc setups recommended for CPU inference do, times the formats themselves.
    Returns False where this is not glibc.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3  # mallopt parameters, from glibc's malloc.h
    return bool(libc.mallopt(m_mmap_threshold, 32 << 20)) and bool(
        libc.mallopt(m_trim_threshold, (1 << 31) - 1))


def run(devices, settings, batches, rounds, sample_s, clock_name="auto") -> pl.DataFrame:
    rows = []
    for device in devices:
        clock_used, clock = pick_clock(device, clock_name)
        print(f"{device.type}: timing with the {clock_used} clock", flush=True)
        for d, h, alpha in settings:
            layers = build_layers(d, h, alpha, device)
            backends = {name: layer.resolve(device)[1] if isinstance(layer, FPELinear)
                        else "torch" for name, layer in layers.items()}
            for batch in batches:
                generator = torch_generator(batch, "bench-kernels-inputs")
                x = torch.randn(batch, d, generator=generator).to(device)
                grads = {width: torch.randn(batch, width, generator=generator).to(device)
                         for width in {layer.out_features for layer in layers.values()}}
                for mode in MODES:
                    calls = {name: make_call(layer, mode, x, grads[layer.out_features])
                             for name, layer in layers.items()
                             if mode == "forward" or name != "output_floor"}
                    samples = time_side_by_side(calls, device, rounds, sample_s, clock)
                    base = statistics.median(samples["dense"])
                    for name, values in samples.items():
                        median = statistics.median(values)
                        rows.append({
                            "device": device.type, "d": d, "h": h, "alpha": alpha,
                            "setting": f"d={d} h={h} a={alpha}", "batch": batch, "mode": mode,
                            "format": name, "backend": backends[name],
                            "split": "shared" if name == "grouped" else (
                                "none" if name in ("dense", "output_floor") else "per-parent"),
                            "median_s": median, "min_s": min(values),
                            "ratio_to_dense": median / base, "rounds": rounds,
                            "clock": clock_used,
                        })
                    print(f"  {device.type} d={d} h={h} alpha={alpha} batch={batch:5d} {mode:8s} "
                          f"dense {base * 1e6:9.1f} us  " + "  ".join(
                              f"{n} {statistics.median(v) / base:5.2f}"
                              for n, v in samples.items() if n != "dense"), flush=True)
    return pl.DataFrame(rows)


def print_tables(frame: pl.DataFrame) -> None:
    for (device, mode, setting), part in frame.sort("d", "h", "alpha").group_by(
            ["device", "mode", "setting"], maintain_order=True):
        table = part.filter(pl.col("format") != "dense").pivot(
            on="batch", index="format", values="ratio_to_dense", sort_columns=False)
        print(f"\n{device} {mode} {setting}: time / dense parent nn.Linear(d, h)")
        header = "format".ljust(14) + "".join(f"{c:>8s}" for c in table.columns[1:])
        print(header)
        for row in table.iter_rows():
            print(row[0].ljust(14) + "".join(f"{v:8.2f}" for v in row[1:]))


def check_targets(frame: pl.DataFrame) -> list[str]:
    """One line per target: met or not, with the worst figure."""
    lines = []

    def ratio(device, mode, fmt):
        return frame.filter((pl.col("device") == device) & (pl.col("mode") == mode)
                            & (pl.col("format") == fmt))

    for device in frame["device"].unique(maintain_order=True):
        for mode, limit in (("forward", 1.1), ("fwd+bwd", 1.2)):
            part = ratio(device, mode, "grouped")
            worst = part["ratio_to_dense"].max()
            share = (part["ratio_to_dense"] <= limit).mean()
            lines.append(f"{device}: grouped {mode} <= {limit}x dense: "
                         f"{'MET' if worst <= limit else 'NOT MET'} (worst {worst:.2f}x, "
                         f"{share:.0%} of cases within)")
        floor = ratio(device, "forward", "output_floor")["ratio_to_dense"]
        lines.append(f"{device}: writing the alpha*h outputs alone (output_floor) costs more "
                     f"than 1.1x the dense forward in {(floor > 1.1).mean():.0%} of cases "
                     f"(worst {floor.max():.2f}x)")
        if device == "cuda":
            for mode in MODES:
                part = ratio(device, mode, "child_label").filter(pl.col("batch") <= 256)
                worst = part["ratio_to_dense"].max()
                lines.append(f"cuda: child_label {mode} <= 1.3x dense at batch <= 256: "
                             f"{'MET' if worst <= 1.3 else 'NOT MET'} (worst {worst:.2f}x)")
                joined = ratio(device, mode, "child_label").join(
                    ratio(device, mode, "csr"), on=["setting", "batch"], suffix="_csr")
                speedup = (joined["median_s_csr"] / joined["median_s"]).min()
                lines.append(f"cuda: child_label {mode} >= 3x faster than csr: "
                             f"{'MET' if speedup >= 3 else 'NOT MET'} (worst {speedup:.2f}x)")
        else:
            lines += _shared_pick_lines(frame, device)
            pick = select_format(False, device)
            for mode in MODES:
                joined = ratio(device, mode, pick).join(
                    ratio(device, mode, "masked"), on=["setting", "batch"], suffix="_masked")
                slower = joined["median_s"] / joined["median_s_masked"]
                lines.append(
                    f"{device}: auto's per-parent format ({pick}) {mode} no slower than masked: "
                    f"{'MET' if slower.max() <= 1.05 else 'NOT MET'} (worst {slower.max():.2f}x "
                    "masked, 5% noise allowance)")
                best = frame.filter((pl.col("device") == device) & (pl.col("mode") == mode)
                                    & pl.col("format").is_in(["child_label", "csr"]))
                best = best.group_by("setting", "batch").agg(pl.col("median_s").min()).join(
                    ratio(device, mode, "masked"), on=["setting", "batch"], suffix="_masked")
                faster = (best["median_s"] < best["median_s_masked"]).mean()
                lines.append(f"{device}: child_label or csr {mode} faster than masked in "
                             f"{faster:.0%} of cases")
    return lines


def _shared_pick_lines(frame: pl.DataFrame, device: str) -> list[str]:
    """How close auto's pick for a shared split (select_format with the layer and batch size)
    comes to the faster of masked and grouped. masked costs the same for any split, so the
    per-parent layer's masked time stands in for the shared layer's."""
    lines = []
    for mode in MODES:
        part = frame.filter((pl.col("device") == device) & (pl.col("mode") == mode)
                            & pl.col("format").is_in(["masked", "grouped"]))
        times = part.pivot(on="format", index=["d", "h", "alpha", "batch"], values="median_s")
        regret = [
            (row["grouped"] if select_format(True, device, d=row["d"], h=row["h"],
                                             alpha=row["alpha"], batch=row["batch"]) == "grouped"
             else row["masked"]) / min(row["masked"], row["grouped"])
            for row in times.iter_rows(named=True)]
        lines.append(f"{device}: auto's shared-split pick {mode}: within 10% of the faster of "
                     f"masked and grouped in {sum(r <= 1.1 for r in regret) / len(regret):.0%} "
                     f"of cases (worst {max(regret):.2f}x)")
    return lines


def plot(frame: pl.DataFrame, path: Path) -> bool:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import NullFormatter, ScalarFormatter
    except ImportError:
        print("matplotlib is not installed: no plot (pip install matplotlib)")
        return False
    panels = frame.select("device", "setting", "d", "h", "alpha").unique().sort(
        "device", "d", "h", "alpha")
    fig, axes = plt.subplots(len(panels), len(MODES), figsize=(11, 3.2 * len(panels)),
                             squeeze=False, sharex=True)
    for row, (device, setting, *_) in enumerate(panels.iter_rows()):
        for col, mode in enumerate(MODES):
            ax = axes[row][col]
            part = frame.filter((pl.col("device") == device) & (pl.col("setting") == setting)
                                & (pl.col("mode") == mode) & (pl.col("format") != "dense"))
            for fmt in part["format"].unique(maintain_order=True):
                line = part.filter(pl.col("format") == fmt).sort("batch")
                ax.plot(line["batch"], line["ratio_to_dense"], marker="o", label=fmt)
            ax.axhline(1.0, color="black", linewidth=0.8)
            ax.axhline(1.1 if mode == "forward" else 1.2, color="gray", linestyle="--",
                       linewidth=0.8)
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.yaxis.set_major_formatter(ScalarFormatter())
            ax.yaxis.set_minor_formatter(NullFormatter())
            ax.set_title(f"{device} {setting} {mode}", fontsize=9)
            ax.set_ylabel("time / dense parent")
            if row == len(panels) - 1:
                ax.set_xlabel("batch size")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The benchmark's options."""
    parser.add_argument("--quick", action="store_true", help="two settings, four batch sizes")
    parser.add_argument("--out", type=Path, default=Path("results/bench-kernels"),
                        help="directory for kernels.parquet and kernels.png (default: "
                             "%(default)s)")
    parser.add_argument("--rounds", type=int, default=None, help="samples per format (median)")
    parser.add_argument("--sample-ms", type=float, default=None, help="length of one sample")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (default 1: steadier ratios on a shared machine)")
    parser.add_argument("--clock", choices=("auto", "thread", "wall"), default="auto",
                        help="auto: thread CPU time when timing the CPU single-threaded (immune "
                             "to other processes), else wall time")
    parser.add_argument("--no-cuda", action="store_true", help="time the CPU only")
    parser.add_argument("--system-malloc", action="store_true",
                        help="leave glibc's malloc returning freed memory to the OS (default: "
                             "keep it, so page faults do not land on whichever format runs next)")
    return parser


def run_from_args(args: argparse.Namespace) -> pl.DataFrame:
    check_output_dir(args.out)  # before the minutes of timing, not after
    if args.threads:
        torch.set_num_threads(args.threads)
    settings = QUICK_SETTINGS if args.quick else SETTINGS
    batches = QUICK_BATCHES if args.quick else BATCHES
    rounds = args.rounds or (5 if args.quick else 7)
    sample_s = (args.sample_ms or (2.0 if args.quick else 4.0)) / 1000
    malloc = "system" if args.system_malloc or not retain_freed_memory() else "retain"
    devices = [torch.device("cpu")]
    if torch.cuda.is_available() and not args.no_cuda:
        devices.append(torch.device("cuda"))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, "
          f"{platform.processor() or platform.machine()}; devices: "
          f"{', '.join(d.type for d in devices)}; child_label via Triton on cuda: "
          f"{devices[-1].type == 'cuda' and triton_usable(devices[-1])}; "
          f"CPU per-parent auto format: {CPU_PER_PARENT_FORMAT}; malloc: {malloc} freed memory")
    frame = run(devices, settings, batches, rounds, sample_s, args.clock)
    frame = frame.with_columns(pl.lit(torch.__version__).alias("torch"),
                               pl.lit(torch.get_num_threads()).alias("cpu_threads"),
                               pl.lit(malloc).alias("malloc"))
    args.out.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(args.out / "kernels.parquet")
    print_tables(frame)
    print("\nTargets:")
    for line in check_targets(frame):
        print("  " + line)
    plotted = plot(frame, args.out / "kernels.png")
    print(f"\nwrote {args.out / 'kernels.parquet'}"
          + (f" and {args.out / 'kernels.png'}" if plotted else ""))
    return frame


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="benchmarks/kernels.py",
                                     description=__doc__.splitlines()[0])
    run_from_args(add_arguments(parser).parse_args(argv))


if __name__ == "__main__":
    main()
