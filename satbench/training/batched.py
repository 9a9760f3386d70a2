"""Many small models trained as one batched tensor program instead of one after another.

The toy-models approach: models of one shape have their parameters stacked along a leading model
axis, and one bmm steps them all. `train_runs_batched(runs, datasets)` returns, run for run, what
the single-model trainer `satbench.training.single.train_runs` returns: a Trained run holding a
normal masked `MLP` that `satbench.training.rows.evaluate` takes unchanged. It runs the methods
whose training is the standard loop (`Method.batchable`); the sweep engine routes the others to
the single-model trainer.

Same computation, same rounding. Each step replays, per model, the operations train_steps performs
(F.linear's addmm, relu, binary_cross_entropy_with_logits and its autograd backward,
torch.optim.Adam's single-tensor update, masked_fill), batched so that every kernel rounds each
model's numbers exactly as the model's own call does. With torch 2.13 on CPU (MKL, AVX-512, on the
one thread training is pinned to) this gives bitwise the same weights as train_runs, for one output
or several (tests/test_batched.py). What it takes:
- No padding: the forward and backward run per group of equal hidden width (a run's dense h
  units and its alpha*h models are two groups of one stack). MKL rounds a product differently when
  a model is padded with zero units, although padding is exact in real arithmetic.
- Every per-model matrix a product reads or writes starts on a 64-byte boundary, as a separately
  allocated tensor does: MKL rounds some products differently otherwise (_Layout, _aligned_blocks).
- bmm calls BLAS per model, as mm does, except for small products (< SMALL_PRODUCT multiply-adds),
  which ATen computes itself: those go model by model through mm/addmm. A product with a single
  output column is computed transposed, which rounds as mm does (_matmul).
- Sigmoid rounds differently in its vectorised body and its scalar tail, so every model's block
  is its own inner loop: on one thread, a batched call runs the blocks one after another.
- Adam is torch's formula in torch's order, with a per-model step count (a model that starts at
  T1 with a fresh optimizer gets its own bias correction), learning rate and weight decay; the
  bias corrections are computed in Python floats as torch does and rounded to float32 as its
  kernels round a Python scalar. Masks are re-applied after every step (as masked_fill would).
- DropConnect (a method's weight_dropout): each such model draws its masks from its own generator
  every step, in WeightDropout's order, computes with w * m / keep in buffers of its own, and
  scales its weight gradients as autograd's backward of that product does.
Another BLAS, CPU or torch version may round some product differently; weights then agree to
round-off only, and round-off is not harmless here: a ReLU pre-activation within round-off of zero
can flip and, through Adam's normalised step, kick one trajectory, after which that model's weights
drift visibly apart while its predictions stay almost all the same.

Data: each model reads its own rows: the full training split, or the rows `batch_indices(n,
batch_size, step, seed, cell)` gives at its own data step (each epoch's permutation drawn once).

Schedule per context, as in train_runs: dense (when asked for, or needed for its state at T1) and
the methods that need nothing from it start at step 0; when dense reaches T1 it is copied out
(`warm`) and each method that needs it builds its model from it (Method.build: fpe's expansion,
dense_reset's copy, sparse_scratch's masks on a fresh network) and starts at its own first step
(T1 for methods that start from dense, else 0) with a fresh optimizer; dense continues with its
optimizer state. Training runs in segments between such events; in each segment the active
models (of every run of the group) are stacked, and finished models leave the stack.

Groups: contexts whose models share (n_inputs, n_outputs, rows per step, full batch or not) train
together; a group too large for `memory_limit` bytes of activations is cut into chunks of whole
contexts. Deterministic on CPU: the same runs give bitwise the same weights in any process, whatever
thread count the caller set (satbench.threads pins training to one). wall_seconds: each chunk's
wall time divided evenly among its runs.
"""

import time
from collections import OrderedDict

import torch

from satbench.errors import SatbenchError
from satbench.methods import BASELINE, Setup, get_method
from satbench.methods.base import late_step
from satbench.models import MLP
from satbench.models.adam import exact_sqrt
from satbench.models.training import WeightDropout
from satbench.rng import torch_generator
from satbench.runs import RunSpec
from satbench.specs import TrainingContext
from satbench.threads import training_threads
from satbench.training.single import Trained

__all__ = ["MEMORY_LIMIT_BYTES", "group_key", "train_runs_batched"]

BETA1, BETA2, EPS = 0.9, 0.999, 1e-8  # torch.optim.Adam's defaults, which make_optimizer uses
MEMORY_LIMIT_BYTES = 1 << 30  # per chunk: models x rows x (2 width + d) float32 activations
WINDOW = 32  # iterations of batch indices gathered at once
EPOCH_CACHE = 8  # permutations kept per data stream
CACHE_BYTES = 1 << 20  # full batch: hidden activations per piece, to stay in a core's L2 cache
SMALL_PRODUCT = 400  # ATen's bmm computes products below this many multiply-adds without BLAS
ALIGN = 16  # floats: 64 bytes


@training_threads()
def train_runs_batched(runs: list[RunSpec], datasets: dict, *,
                       memory_limit: int = MEMORY_LIMIT_BYTES) -> list[Trained]:
    """For each run, what satbench.training.single.train_runs gives for it (masked format).

    datasets: by task fingerprint. All runs are trained together, grouped by shape (see the
    module docstring); a method that is not batchable is a one-line error.
    """
    contexts: dict[TrainingContext, list[RunSpec]] = {}
    for index, run in enumerate(runs):
        if not isinstance(run, RunSpec):
            raise SatbenchError(f"runs[{index}]: expected a RunSpec, got {type(run).__name__}")
        if not run.trainer.batchable:
            raise SatbenchError(f"runs[{index}]: method {run.method!r} trains its own way, so "
                                f"the batched trainer cannot run it; use train_runs")
        contexts.setdefault(run.context, []).append(run)
    states = []
    for context, members in contexts.items():
        dataset = datasets.get(context.task.fingerprint)
        if dataset is None:
            raise SatbenchError(f"no dataset for task {context.task.fingerprint}")
        if dataset.spec.fingerprint != context.task.fingerprint:
            raise SatbenchError(f"the dataset keyed by {context.task.fingerprint} was built for "
                                f"task {dataset.spec.fingerprint}")
        states.append(_ContextState(context, members, dataset))
    groups: dict[tuple, list[_ContextState]] = {}
    for state in states:
        groups.setdefault(group_key(state.context), []).append(state)
    for key, members in groups.items():
        for chunk in _chunks(members, key, memory_limit):
            _train_chunk(chunk, key)
    trained = {t.run.key: t for state in states for t in state.result()}
    return [trained[run.key] for run in runs]


def group_key(context: TrainingContext) -> tuple:
    """(n_inputs, n_outputs, rows per step, full batch): contexts with equal keys train together."""
    return (context.task.n_inputs, context.task.n_outputs, context.rows_per_step,
            context.full_batch)


def _chunks(members, key, memory_limit):
    d, _, rows, _ = key
    chunk, used = [], 0
    for state in members:
        need = sum(rows * (2 * width + d) * 4 for width in state.widths())
        if chunk and used + need > memory_limit:
            yield chunk
            chunk, used = [], 0
        chunk.append(state)
        used += need
    if chunk:
        yield chunk


class _ContextState:
    """One context's runs, as their models are produced."""

    def __init__(self, context: TrainingContext, runs: list[RunSpec], dataset):
        self.context, self.runs, self.dataset = context, runs, dataset
        self.setup = Setup(context, dataset)
        self.baseline = next((run for run in runs if run.method == BASELINE), None)
        self.warm_needed = any(run.trainer.needs_warm for run in runs)
        self.trained: dict[str, tuple[MLP, float]] = {}
        self.seconds = 0.0

    def widths(self) -> list[int]:
        dense = [self.context.neurons] if self.baseline or self.warm_needed else []
        return dense + [run.trainer.hidden_width(run.params, self.context)
                        for run in self.runs if run.method != BASELINE]

    def initial_jobs(self) -> list["_Job"]:
        context = self.context
        jobs = []
        if self.baseline is not None or self.warm_needed:  # dense as a run, or only to T1
            run = self.baseline or RunSpec(context, BASELINE)
            steps = context.total_steps if self.baseline else context.warmup_steps
            jobs.append(_Job(self, self.baseline, get_method(BASELINE).build(run.params,
                                                                            self.setup).model,
                             first_step=0, steps=steps,
                             checkpoint=context.warmup_steps if self.warm_needed else None))
        return jobs + [self._job(run) for run in self.runs
                       if run.method != BASELINE and not run.trainer.needs_warm]

    def after_warmup(self, warm: MLP) -> list["_Job"]:
        """The runs whose models are built from the dense model after T1."""
        self.setup.warm = warm
        return [self._job(run) for run in self.runs
                if run.method != BASELINE and run.trainer.needs_warm]

    def _job(self, run: RunSpec) -> "_Job":
        method = run.trainer
        built = method.build(run.params, self.setup)
        return _Job(self, run, built.model, first_step=method.first_step(self.context),
                    steps=method.steps(self.context), measures=built.measures(),
                    dropout=method.weight_dropout(run.params, self.context))

    def result(self) -> list[Trained]:
        return [Trained(run, model, self.seconds, layer_format="masked", late=late, **measures)
                for run in self.runs for model, late, measures in [self.trained[run.key]]]


class _Layout:
    """Where a model's parameters sit in its flat vector: W1 (h, d), b1 (h), W2 (o, h), b2 (o),
    each block starting on a 64-byte boundary (ALIGN floats), as separately allocated tensors do.

    MKL rounds some GEMMs differently when a matrix is not 64-byte aligned, so every per-model
    matrix the batched kernels read or write starts on such a boundary (see _WidthGroup).
    """

    def __init__(self, h: int, d: int, o: int):
        self.h, self.d, self.o = h, d, o
        self.w1 = 0
        self.b1 = _aligned(h * d)
        self.w2 = self.b1 + _aligned(h)
        self.b2 = self.w2 + _aligned(o * h)
        self.size = self.b2 + _aligned(o)

    def views(self, flat: torch.Tensor):
        """(W1, b1, W2, b2) views of flat (..., size)."""
        h, d, o = self.h, self.d, self.o
        return (flat[..., self.w1 : self.w1 + h * d].unflatten(-1, (h, d)),
                flat[..., self.b1 : self.b1 + h],
                flat[..., self.w2 : self.w2 + o * h].unflatten(-1, (o, h)),
                flat[..., self.b2 : self.b2 + o])


def _aligned(n: int) -> int:
    return -(-n // ALIGN) * ALIGN


def _aligned_blocks(k: int, shape: tuple[int, ...], *, apart: bool = False) -> torch.Tensor:
    """A (k, *shape) float32 tensor whose k blocks each start on a 64-byte boundary.

    apart: leave a gap after every block, so that an elementwise op cannot fuse the blocks into
    one loop and runs each block as its own inner loop, as on a model's own tensor.
    """
    size = 1
    for extent in shape:
        size *= extent
    return torch.empty(k, _aligned(size + apart))[:, :size].unflatten(1, shape)


class _Job:
    """One model's training: its flat parameters (see _Layout), mask and Adam state."""

    def __init__(self, owner: _ContextState, run: RunSpec | None, model: MLP, *,
                 first_step: int, steps: int, checkpoint: int | None = None,
                 measures: dict | None = None, dropout: WeightDropout | None = None):
        if model.fc1.bias is None or model.fc2.bias is None:
            raise SatbenchError("batched training: expected an MLP with biases")
        # run: None for a dense model trained only for its state at T1
        self.owner, self.run, self.measures = owner, run, measures or {}
        self.dropout = dropout  # DropConnect's masks (their generator's state goes on with it)
        # The model when the last tenth of its steps begins, for the convergence check (as
        # Method.train takes it); a dense model trained only to T1 needs none.
        late = late_step(first_step, steps) if run is not None else None
        self.late_at, self.late = (None if late is None else late - first_step), None
        self.width = model.width
        self.layout = _Layout(model.width, model.n_inputs, model.n_outputs)
        self.params = torch.zeros(self.layout.size)
        self.pruned = torch.ones(self.layout.size, dtype=torch.bool)  # padding counts as pruned
        with torch.no_grad():
            tensors = (model.fc1.effective_weight(), model.fc1.bias,
                       model.fc2.effective_weight(), model.fc2.bias)
            masks = (model.fc1.mask, True, model.fc2.mask, True)
            for view, tensor in zip(self.layout.views(self.params), tensors, strict=True):
                view.copy_(tensor)
            for view, mask in zip(self.layout.views(self.pruned), masks, strict=True):
                view.copy_(~torch.as_tensor(mask))
        self.exp_avg = torch.zeros_like(self.params)
        self.exp_avg_sq = torch.zeros_like(self.params)
        self.adam_steps = 0  # optimizer steps taken with the current optimizer
        self.first_step, self.steps, self.done = first_step, steps, 0
        self.checkpoint = checkpoint  # a step count at which the run wants a copy (dense: T1)
        context = owner.context
        self.learning_rate = float(context.learning_rate)
        self.weight_decay = float(context.weight_decay)

    def until_event(self) -> int:
        events = [self.steps, self.checkpoint, self.late_at if self.late is None else None]
        return min(e for e in events if e is not None and e > self.done) - self.done \
            if self.done < self.steps else 0

    def model(self) -> MLP:
        w1, b1, w2, b2 = self.layout.views(self.params)
        keep1, _, keep2, _ = self.layout.views(~self.pruned)
        return MLP.from_tensors(w1, b1, w2, b2, keep1, keep2).train()  # as train_steps leaves it


class _Rows:
    """batch_indices(n_rows, batch_size, step, seed, cell) for runs of steps, each epoch drawn
    once."""

    def __init__(self, n_rows: int, batch_size: int, seed: int, cell: str | None = None):
        self.n_rows, self.batch_size, self.seed, self.cell = n_rows, batch_size, seed, cell
        self.per_epoch = n_rows // batch_size
        self.epochs: OrderedDict[int, torch.Tensor] = OrderedDict()

    def epoch(self, epoch: int) -> torch.Tensor:
        if epoch in self.epochs:
            self.epochs.move_to_end(epoch)
        else:
            order = torch.randperm(self.n_rows,
                                   generator=torch_generator(self.seed, "data-order", epoch,
                                                             cell=self.cell))
            self.epochs[epoch] = order[: self.per_epoch * self.batch_size].view(
                self.per_epoch, self.batch_size)
            if len(self.epochs) > EPOCH_CACHE:
                self.epochs.popitem(last=False)
        return self.epochs[epoch]

    def window(self, first_step: int, count: int) -> torch.Tensor:
        """(count, batch_size): the rows of steps first_step .. first_step+count-1."""
        parts, step, end = [], first_step, first_step + count
        while step < end:
            epoch, position = divmod(step, self.per_epoch)
            take = min(self.per_epoch - position, end - step)
            parts.append(self.epoch(epoch)[position : position + take])
            step += take
        return parts[0] if len(parts) == 1 else torch.cat(parts)


class _Data:
    """The chunk's training splits.

    Full batch: `full` holds, per dataset, its own (rows, d) inputs and (rows, o) targets in
    float32 (own allocations, so 64-byte aligned). Mini-batches: `packed` holds every dataset's
    [x | y] rows concatenated for gathers, int8 when that is exact (inputs in {-1, 0, 1}, targets
    in {0, 1}: a quarter of the memory traffic), float32 otherwise; `offset` maps a dataset to
    its first row there.
    """

    def __init__(self, chunk: list[_ContextState], full: bool):
        self.full, self.offset, packed, total = {}, {}, [], 0
        for state in chunk:
            dataset = state.dataset
            if id(dataset) in self.offset:
                continue
            # Copies made by torch's allocator, which aligns them (numpy's may not).
            x = dataset.inputs("train").to(torch.float32, copy=True,
                                           memory_format=torch.contiguous_format)
            y = dataset.targets("train").to(torch.float32, copy=True,
                                            memory_format=torch.contiguous_format)
            if full:
                self.full[id(dataset)] = (x, y)
            else:
                packed.append(torch.cat([x, y], dim=1))
            self.offset[id(dataset)] = total
            total += len(x)
        if not full:
            packed = torch.cat(packed)
            small = packed.to(torch.int8)
            self.packed = small if torch.equal(small.to(torch.float32), packed) else packed


def _train_chunk(chunk: list[_ContextState], key: tuple) -> None:
    start = time.perf_counter()
    data, streams = _Data(chunk, full=key[3]), {}
    jobs = [job for state in chunk for job in state.initial_jobs()]
    with torch.no_grad():
        while True:
            jobs = _fire_events(jobs)
            if not jobs:
                break
            steps = min(job.until_event() for job in jobs)
            segment = _Segment(jobs, steps, key, data, streams)
            for i in range(steps):
                segment.step(i)
            segment.write_back()
    seconds = (time.perf_counter() - start) / sum(len(state.runs) for state in chunk)
    for state in chunk:
        state.seconds = seconds


def _fire_events(jobs: list[_Job]) -> list[_Job]:
    """Hand out checkpoint copies and finished models; returns the jobs still training."""
    active, pending = [], list(jobs)
    while pending:
        job = pending.pop(0)
        if job.late is None and job.done == job.late_at:
            job.late = job.model()
        if job.checkpoint is not None and job.done == job.checkpoint:
            job.checkpoint = None
            with torch.enable_grad():  # expand and the MLP constructors build normal modules
                pending.extend(job.owner.after_warmup(job.model()))
        if job.done == job.steps:
            if job.run is not None:
                job.owner.trained[job.run.key] = (job.model(), job.late, job.measures)
        else:
            active.append(job)
    return active


def _bias_corrections(jobs: list[_Job], steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(steps, K, 1) float32 tables of -lr/bias_correction1 and sqrt(bias_correction2).

    Computed in Python floats exactly as torch.optim.Adam does (step counts are per model), then
    rounded to float32 as its kernels round a Python scalar.
    """
    columns: dict[tuple, tuple[list, list]] = {}
    for job in jobs:
        key = (job.learning_rate, job.adam_steps)
        if key not in columns:
            lr, first = key
            step_sizes, roots = [], []
            for step in range(first + 1, first + steps + 1):
                step_sizes.append(-(lr / (1 - BETA1 ** float(step))))
                roots.append((1 - BETA2 ** float(step)) ** 0.5)
            columns[key] = (step_sizes, roots)
    keys = list(columns)
    which = torch.tensor([keys.index((job.learning_rate, job.adam_steps)) for job in jobs])
    step_size = torch.tensor([columns[k][0] for k in keys], dtype=torch.float32).T
    root = torch.tensor([columns[k][1] for k in keys], dtype=torch.float32).T
    return (step_size[:, which].contiguous().unsqueeze(2),
            root[:, which].contiguous().unsqueeze(2))


def _matmul(out: torch.Tensor, a: torch.Tensor, b: torch.Tensor,
            bias: torch.Tensor | None = None, *, by_model: bool = False) -> torch.Tensor:
    """out[i] = bias[i] + a[i] @ b[i] for every model i, rounded as torch.mm / torch.addmm would.

    bmm hands a product to BLAS as mm does, except a small one (fewer than SMALL_PRODUCT
    multiply-adds per model), which ATen computes itself and rounds differently: those, and any
    with by_model, go model by model through mm / addmm.
    """
    k, rows, inner = a.shape
    cols = b.shape[2]
    if not by_model and rows * inner * cols >= SMALL_PRODUCT:
        if cols == 1 < rows:  # mm with a single output column rounds like the transposed product
            a, b, out = b.transpose(1, 2), a.transpose(1, 2), out.transpose(1, 2)
            bias = None if bias is None else bias.transpose(1, 2)
        if bias is None:
            return torch.bmm(a, b, out=out)
        return torch.baddbmm(bias, a, b, out=out)
    for i in range(k):
        if bias is None:
            torch.mm(a[i], b[i], out=out[i])
        else:
            torch.addmm(bias[i], a[i], b[i], out=out[i])
    return out


class _Segment:
    """Every active model of a chunk, stacked, for a run of steps without events.

    One (K, P) tensor holds all parameters (each row a model's flat vector, see _Layout, padded to
    the widest); Adam and the data gathering treat all models at once, and the forward and
    backward run per width group (models of one hidden width, rows next to each other).
    """

    def __init__(self, jobs: list[_Job], steps: int, key: tuple, data: _Data, streams: dict):
        d, o, rows, full = key
        self.d, self.o, self.rows, self.full, self.data, self.steps = d, o, rows, full, data, steps
        first_width, first_dataset = {}, {}
        for job in jobs:
            first_width.setdefault(job.width, len(first_width))
            first_dataset.setdefault(id(job.owner.dataset), len(first_dataset))
        jobs = sorted(jobs, key=lambda job: (first_width[job.width],
                                             first_dataset[id(job.owner.dataset)]))
        self.jobs, k = jobs, len(jobs)
        size = max(job.layout.size for job in jobs)
        self.params = torch.zeros(k, size)
        self.keep = torch.zeros(k, size)  # 1 where a weight lives, 0 where pruned or padding
        self.exp_avg = torch.zeros(k, size)
        self.exp_avg_sq = torch.zeros(k, size)
        for index, job in enumerate(jobs):
            for name in ("params", "exp_avg", "exp_avg_sq"):
                getattr(self, name)[index, : job.layout.size] = getattr(job, name)
            self.keep[index, : job.layout.size] = ~job.pruned
        self.grad = torch.zeros_like(self.params)  # padding keeps a zero gradient
        # Adam's temporaries, allocated once per segment rather than every step.
        self.denom, self.update = torch.empty_like(self.params), torch.empty_like(self.params)
        self.step_size, self.root = _bias_corrections(jobs, steps)
        self.decay = []  # (rows of the stack or None for all, weight decay), nonzero decays only
        for value in sorted({job.weight_decay for job in jobs} - {0.0}):
            members = [i for i, job in enumerate(jobs) if job.weight_decay == value]
            self.decay.append((None if len(members) == k else torch.tensor(members), value))
        self.groups, begin = [], 0
        while begin < k:
            end = begin + 1
            while end < k and jobs[end].width == jobs[begin].width:
                end += 1
            self.groups.append(_WidthGroup(self, slice(begin, end)))
            begin = end
        if not full:
            self.sources = []
            for job in jobs:
                context = job.owner.context
                stream_key = (id(job.owner.dataset), context.batch_size, context.seed,
                              context.cell)
                if stream_key not in streams:
                    streams[stream_key] = _Rows(context.task.n_train, context.batch_size,
                                                context.seed, context.cell)
                self.sources.append(streams[stream_key])
            self.offsets = torch.tensor([data.offset[id(job.owner.dataset)] for job in jobs])
            self.x = _aligned_blocks(k, (rows, d))

    def step(self, i: int) -> None:
        """Step i of the segment: gradients, then Adam, for every model."""
        if self.full:
            for group in self.groups:
                group.full_batch()
        else:
            k, rows, d = len(self.jobs), self.rows, self.d
            if i % WINDOW == 0:
                count = min(WINDOW, self.steps - i)
                table = torch.stack([
                    source.window(job.first_step + job.done + i, count)
                    for source, job in zip(self.sources, self.jobs, strict=True)])  # (K, count, B)
                table += self.offsets.view(k, 1, 1)
                self.table = table.transpose(0, 1).reshape(count, k * rows)
            batch = self.data.packed.index_select(0, self.table[i % WINDOW]).view(k, rows, -1)
            self.x.copy_(batch[:, :, :d])
            y = batch[:, :, d:].to(torch.float32)
            for group in self.groups:
                group.gradient(self.x[group.rows], y[group.rows], slice(None))
        self._adam(i)

    def _adam(self, i: int) -> None:
        """satbench.models.adam.Adam's step (torch.optim.Adam's single-tensor step with a correctly
        rounded square root), per-model step count, lr and weight decay."""
        grad = self.grad
        for rows, value in self.decay:
            if rows is None:
                grad = grad.add(self.params, alpha=value)
            else:
                grad = grad.clone() if grad is self.grad else grad
                grad[rows] = grad[rows].add(self.params[rows], alpha=value)
        self.exp_avg.lerp_(grad, 1 - BETA1)
        self.exp_avg_sq.mul_(BETA2).addcmul_(grad, grad, value=1 - BETA2)
        denom = self.denom.copy_(exact_sqrt(self.exp_avg_sq)).div_(self.root[i]).add_(EPS)
        self.params.add_(torch.mul(self.exp_avg, self.step_size[i], out=self.update).div_(denom))
        # No step may revive a pruned weight: masked_fill_'s result, by a multiply (5-8x faster
        # than masked_fill_ here) and + 0.0, which turns the -0.0 of a negative value times 0
        # into +0.0 and leaves every other value as it is (no weight that lives is ever -0.0:
        # a sum that cancels rounds to +0.0). A pruned value is one Adam step from zero, so it is
        # finite unless the run has diverged, when every weight of its unit is NaN already.
        self.params.mul_(self.keep).add_(0.0)

    def write_back(self) -> None:
        for index, job in enumerate(self.jobs):
            size = job.layout.size
            job.params = self.params[index, :size].clone()
            job.exp_avg = self.exp_avg[index, :size].clone()
            job.exp_avg_sq = self.exp_avg_sq[index, :size].clone()
            job.adam_steps += self.steps
            job.done += self.steps


class _WidthGroup:
    """The models of one hidden width in a segment: their views and activation buffers."""

    def __init__(self, segment: _Segment, rows: slice):
        self.segment, self.rows = segment, rows
        jobs = segment.jobs[rows]
        k, h, n, d, o = len(jobs), jobs[0].width, segment.rows, segment.d, segment.o
        layout = jobs[0].layout
        self.weights = layout.views(segment.params[rows])
        self.grads = layout.views(segment.grad[rows])
        most = k
        if segment.full:
            # Pieces of at most CACHE_BYTES of hidden activations, each on one dataset, whose
            # inputs every model of the piece reads through a stride-0 expand.
            per_piece = max(1, CACHE_BYTES // (n * h * 4))
            self.pieces, begin = [], 0
            while begin < k:
                dataset = jobs[begin].owner.dataset
                end = begin + 1
                while end < k and end - begin < per_piece and jobs[end].owner.dataset is dataset:
                    end += 1
                x, y = segment.data.full[id(dataset)]
                self.pieces.append((slice(begin, end), x.expand(end - begin, n, d),
                                    y.expand(end - begin, n, o)))
                begin = end
            most = max(part.stop - part.start for part, _, _ in self.pieces)
        # DropConnect models (by index in the group): the weights a step computes with are
        # drawn into buffers of their own, 64-byte aligned like the fresh tensors of their loop.
        self.dropouts = [(i, job.dropout) for i, job in enumerate(jobs) if job.dropout]
        if self.dropouts:
            self.used_w1 = _aligned_blocks(most, (h, d))
            self.used_w2 = _aligned_blocks(most, (o, h))
        # Activations, each model's block 64-byte aligned (see _Layout).
        self.hidden = _aligned_blocks(most, (n, h))
        self.d_hidden = _aligned_blocks(most, (n, h))
        self.logits = _aligned_blocks(most, (n, o), apart=True)

    def full_batch(self) -> None:
        for part, x, y in self.pieces:
            self.gradient(x, y, part)

    def gradient(self, x: torch.Tensor, y: torch.Tensor, part: slice) -> None:
        """Each model's gradient of its own mean BCE-with-logits, into the segment's grad.

        x (k, N, d), y (k, N, o) for the models `part` of the group. Pruned weights are zero in
        the parameters (the masks are re-applied after every step), so this is the forward of the
        effective weights; the gradients at pruned positions are left in (the mask is re-applied
        after the step).
        """
        w1, b1, w2, b2 = (tensor[part] for tensor in self.weights)
        g_w1, g_b1, g_w2, g_b2 = (tensor[part] for tensor in self.grads)
        k, rows, o = w1.shape[0], self.segment.rows, self.segment.o
        dropped = self._dropped(w1, w2, part.start or 0)
        if dropped:
            w1, w2 = self.used_w1[:k], self.used_w2[:k]
        hidden, d_hidden, logits = self.hidden[:k], self.d_hidden[:k], self.logits[:k]
        _matmul(hidden, x, w1.transpose(1, 2), b1.unsqueeze(1)).relu_()
        _matmul(logits, hidden, w2.transpose(1, 2), b2.unsqueeze(1))
        # On one thread (training pins it) each model's (N, o) block is its own inner loop, so
        # the vectorised body and the scalar tail fall where they do in its own call.
        logits.sigmoid_()
        # binary_cross_entropy_with_logits' backward, mean reduction: (sigmoid(z) - y) / numel
        d_logits = logits.sub_(y).div_(rows * o)
        _matmul(g_w2, d_logits.transpose(1, 2), hidden)
        torch.sum(d_logits, 1, out=g_b2)
        if o == 1:  # an outer product: one rounding per entry, however it is computed
            torch.mul(d_logits, w2, out=d_hidden)
        else:  # with one hidden unit, mm and bmm pick different BLAS calls for the (o, 1) operand
            _matmul(d_hidden, d_logits, w2, by_model=w2.shape[2] == 1)
        torch.ops.aten.threshold_backward.grad_input(d_hidden, hidden, 0.0, grad_input=d_hidden)
        _matmul(g_w1, d_hidden.transpose(1, 2), x)
        torch.sum(d_hidden, 1, out=g_b1)
        for i, keep, m1, m2 in dropped:  # autograd's backward of w * m / keep
            g_w1[i].div_(keep).mul_(m1)
            g_w2[i].div_(keep).mul_(m2)

    def _dropped(self, w1: torch.Tensor, w2: torch.Tensor, first: int) -> list[tuple]:
        """This step's DropConnect weights for the models first .. first+k-1 of the group, as
        WeightDropout.logits computes them, into used_w1/used_w2 (every other model's weights
        copied as they are); (index, keep, m1, m2) per DropConnect model, [] when there is none."""
        k = w1.shape[0]
        mine = [(i - first, dropout) for i, dropout in self.dropouts if first <= i < first + k]
        if not mine:
            return []
        used_w1, used_w2 = self.used_w1[:k], self.used_w2[:k]
        used_w1.copy_(w1)
        used_w2.copy_(w2)
        dropped = []
        for i, dropout in mine:
            m1, m2 = dropout.masks(w1[i].shape, w2[i].shape)
            used_w1[i] = dropout.dropped(w1[i], m1)
            used_w2[i] = dropout.dropped(w2[i], m2)
            dropped.append((i, dropout.keep, m1, m2))
        return dropped
