"""What bounds full-batch training: one model's training step in the layout both trainers use,
against the same step computed transposed, side by side in one process.

Both trainers compute a step as torch.nn.functional.linear does (rows x units: addmm(b, x, W.T)),
so that the batched trainer's weights are bitwise the single trainer's. For a layer of few units
(h below about 12) MKL computes that product with a kernel for narrow outputs, which this script
shows running well below the machine's matmul peak. The transposed layout (units x rows:
addmm(b, W, x.T)) uses the wide kernel. For each hidden width it prints:
- the time of one full training step (forward, BCE-with-logits backward, gradients of both layers)
  in each layout, one thread, the best of many repeats, and their ratio;
- the floor: the step's multiply-adds, rows x (2 d h + 3 h) (both products of the first layer,
  three of size h for the second), at the matmul peak measured in the same run;
- whether the two layouts give bitwise the same first-layer output: where they do not, adopting
  the transposed layout would change the round-off of every trained model (both trainers, every
  stored result), not just its speed.

Run: python benchmarks/full_batch_layouts.py [--rows 16384] [--inputs 32] [--widths 2 4 8 16 32]
"""

import argparse

import torch
from throughput import best_seconds, machine_limits  # beside this script

REPEATS = 30


def step_functions(rows: int, d: int, h: int, generator: torch.Generator):
    """(rows-major step, transposed step, their first-layer outputs): one model, one output."""
    x = torch.randn(rows, d, generator=generator)
    y = (torch.rand(rows, 1, generator=generator) < 0.5).float()
    w1, b1 = torch.randn(h, d, generator=generator) * 0.2, torch.randn(h, generator=generator)
    w2, b2 = torch.randn(1, h, generator=generator), torch.randn(1, generator=generator)
    x_t, y_t = x.t().contiguous(), y.t().contiguous()
    g1, g2 = torch.empty(h, d), torch.empty(1, h)
    hidden, d_hidden, logits = torch.empty(rows, h), torch.empty(rows, h), torch.empty(rows, 1)
    hidden_t, d_hidden_t = torch.empty(h, rows), torch.empty(h, rows)
    logits_t = torch.empty(1, rows)

    def rows_major():  # the trainers' step (satbench.training.batched, per model)
        torch.addmm(b1, x, w1.t(), out=hidden).relu_()
        torch.addmm(b2, hidden, w2.t(), out=logits).sigmoid_()
        d_logits = logits.sub_(y).div_(rows)
        torch.mm(d_logits.t(), hidden, out=g2)
        d_logits.sum(0)
        torch.mul(d_logits, w2, out=d_hidden)
        torch.ops.aten.threshold_backward.grad_input(d_hidden, hidden, 0.0, grad_input=d_hidden)
        torch.mm(d_hidden.t(), x, out=g1)
        d_hidden.sum(0)

    def transposed():  # the same step with units x rows activations
        torch.addmm(b1[:, None], w1, x_t, out=hidden_t).relu_()
        torch.addmm(b2[:, None], w2, hidden_t, out=logits_t).sigmoid_()
        d_logits = logits_t.sub_(y_t).div_(rows)
        torch.mm(d_logits, hidden_t.t(), out=g2)
        d_logits.sum(1)
        torch.mul(w2.t(), d_logits, out=d_hidden_t)
        torch.ops.aten.threshold_backward.grad_input(d_hidden_t, hidden_t, 0.0,
                                                     grad_input=d_hidden_t)
        torch.mm(d_hidden_t, x, out=g1)
        d_hidden_t.sum(1)

    first_layers = (torch.addmm(b1, x, w1.t()), torch.addmm(b1[:, None], w1, x_t).t())
    return rows_major, transposed, first_layers


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=16384, help="the full batch (default 16384)")
    parser.add_argument("--inputs", type=int, default=32, help="d (default 32)")
    parser.add_argument("--widths", type=int, nargs="+", default=[2, 4, 8, 16, 32])
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    peak = machine_limits()[0]
    print(f"one thread, torch {torch.__version__}; matmul peak {peak / 1e9:.1f} GFLOP/s; "
          f"{args.rows} rows x {args.inputs} inputs, one output")
    print("| h | trainers' layout, us | transposed, us | speedup | floor at peak, us | "
          "first layer bitwise equal |\n|---|---|---|---|---|---|")
    generator = torch.Generator().manual_seed(0)
    for h in args.widths:
        rows_major, transposed, (ours, theirs) = step_functions(args.rows, args.inputs, h,
                                                                generator)
        ours_s, theirs_s = best_seconds(rows_major, REPEATS), best_seconds(transposed, REPEATS)
        floor = 2 * args.rows * (2 * args.inputs * h + 3 * h) / peak
        equal = torch.equal(ours, theirs)
        share = "yes" if equal else f"no ({(ours != theirs).float().mean():.0%} of entries differ)"
        print(f"| {h} | {ours_s * 1e6:.0f} | {theirs_s * 1e6:.0f} | {ours_s / theirs_s:.2f}x | "
              f"{floor * 1e6:.0f} | {share} |")


if __name__ == "__main__":
    main()
