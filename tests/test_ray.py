"""Sweeps on a real two-node Ray cluster on this machine: the same rows as the local executor,
and nothing lost when a worker node or the driver dies mid-sweep.

The cluster is what a user starts by hand: `ray start --head` and `ray start --address=...`, one
CPU each, in sessions of their own so that the test can kill one node (its whole process group)
and always tear both down. Ray's token authentication is on, with a token made for the test and
given to every node and driver (RAY_AUTH_TOKEN), so no state in ~/.ray is read or written.
Everything stays on loopback addresses: Ray rewrites 127.0.0.1 into the
machine's public address (its nodes must reach each other), but not the rest of 127/8, so the head
is 127.0.0.2 and the worker node 127.0.0.3.
"""

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

from satbench.cli import main
from satbench.store import read_results, runs_dir
from satbench.sweeps.verify import PROVENANCE

RAY = Path(sys.executable).with_name("ray")
SATBENCH = Path(sys.executable).with_name("satbench")
HEAD, WORKER, PORT = "127.0.0.2", "127.0.0.3", 6391
AUTH = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32),
        "RAY_USAGE_STATS_ENABLED": "0"}
NODE_FLAGS = ["--num-cpus=1", "--object-store-memory=100000000", "--disable-usage-stats",
              "--block"]
# A sweep of single-trainer jobs (one per training context), long enough to kill a node in.
SWEEP = ["sweep", "--neurons", "2,3", "--clauses", "4,5", "--vars", "12", "--train", "256",
         "--test", "64", "--seeds", "3", "--steps", "150,150", "--methods", "dense,fpe,bimt",
         "--trainer", "single", "--no-progress", "--no-report"]


def start_node(*arguments: str, log: Path) -> subprocess.Popen:
    return subprocess.Popen([str(RAY), "start", *arguments, *NODE_FLAGS], env=os.environ,
                            stdout=log.open("w"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def kill_node(node: subprocess.Popen) -> None:
    """SIGKILL the node's whole process group: `ray start`, its raylet and its workers."""
    try:
        os.killpg(node.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    node.wait()


def cluster_cpus() -> float:
    import ray

    ray.init(address=f"{HEAD}:{PORT}", include_dashboard=False, log_to_driver=False,
             configure_logging=False)
    try:
        return ray.cluster_resources().get("CPU", 0)
    finally:
        ray.shutdown()


def wait_for(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds} s waiting for {what}")
        time.sleep(0.5)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """(head, worker node) of a running two-node cluster; both are killed afterwards, pass or
    fail. The token is in this process's environment while it runs (the in-process driver reads
    it) and in every node's and sweep's."""
    saved = {name: os.environ.get(name) for name in AUTH}
    os.environ.update(AUTH)
    logs = tmp_path_factory.mktemp("ray")
    nodes = [start_node("--head", f"--node-ip-address={HEAD}", f"--port={PORT}",
                        "--include-dashboard=false", f"--temp-dir={logs / 'tmp'}",
                        log=logs / "head.log")]
    try:
        time.sleep(3)
        nodes.append(start_node(f"--address={HEAD}:{PORT}", f"--node-ip-address={WORKER}",
                                log=logs / "worker.log"))
        wait_for(lambda: cluster_cpus() == 2, 60, "two nodes of one CPU each")
        yield nodes
    finally:
        for node in reversed(nodes):
            kill_node(node)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def stored(out: Path) -> int:
    return len(list(runs_dir(out).glob("*.parquet"))) if runs_dir(out).is_dir() else 0


def rows(out: Path) -> pl.DataFrame:
    frame = read_results(out).sort("run_key")
    return frame.select([c for c in frame.columns if c not in PROVENANCE])


@pytest.fixture(scope="module")
def local_rows(tmp_path_factory) -> pl.DataFrame:
    out = tmp_path_factory.mktemp("local") / "s"
    assert main([*SWEEP, "--executor", "local", "--out", str(out)]) == 0
    return rows(out)


def sweep_process(out: Path) -> subprocess.Popen:
    command = [str(SATBENCH), *SWEEP, "--executor", "ray", "--address",
               f"{HEAD}:{PORT}", "--out", str(out)]
    return subprocess.Popen(command, env=os.environ, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


@pytest.mark.slow  # a real two-node cluster
def test_a_sweep_on_the_cluster_stores_the_local_executor_s_rows(cluster, local_rows, tmp_path):
    out = tmp_path / "s"
    assert main([*SWEEP, "--executor", "ray", "--address", f"{HEAD}:{PORT}",
                 "--out", str(out)]) == 0
    assert rows(out).equals(local_rows)


@pytest.mark.slow  # a real two-node cluster
def test_a_worker_node_killed_mid_sweep_loses_nothing(cluster, local_rows, tmp_path):
    head, worker = cluster
    out = tmp_path / "s"
    sweep = sweep_process(out)
    try:
        wait_for(lambda: stored(out) >= 3, 120, "the first runs")
        kill_node(worker)  # Ray retries its tasks in flight on the head
        at_kill = stored(out)
        output, _ = sweep.communicate(timeout=300)
    finally:
        sweep.kill()
    assert sweep.returncode == 0, output
    assert at_kill < local_rows.height  # the node died mid-sweep
    assert rows(out).equals(local_rows)


@pytest.mark.slow  # a real two-node cluster
def test_a_driver_killed_mid_sweep_loses_only_what_was_in_flight(cluster, local_rows, tmp_path):
    out = tmp_path / "s"
    sweep = sweep_process(out)
    try:
        wait_for(lambda: stored(out) >= 3, 120, "the first runs")
        sweep.send_signal(signal.SIGKILL)
        sweep.wait()
    finally:
        sweep.kill()
    kept = stored(out)
    assert 3 <= kept < local_rows.height
    rerun = sweep_process(out)
    output, _ = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, output
    assert f"{local_rows.height - kept} runs trained, {kept} already stored" in output
    assert rows(out).equals(local_rows)


@pytest.mark.slow  # a real two-node cluster
def test_a_session_holds_one_connection_so_workers_keep_their_datasets(cluster):
    """A sweep's maps (dataset checks, then training) run in one Ray job, whose workers Ray
    reuses, with the datasets they cached; each map connecting on its own made a new job, with
    new workers, every time. The connection ends with the session."""
    import ray

    from satbench.sweeps.ray_executor import RayExecutor

    def job_id(_):
        return ray.get_runtime_context().get_job_id()

    executor = RayExecutor(f"{HEAD}:{PORT}")
    with executor.session():
        first = set(executor.map_unordered(job_id, range(4)))
        second = set(executor.map_unordered(job_id, range(4)))
    assert len(first) == 1 and first == second
    assert not ray.is_initialized()


def test_without_ray_the_ray_executor_is_one_line_saying_how_to_install_it(monkeypatch, capsys,
                                                                           tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    assert main([*SWEEP, "--executor", "ray", "--out", str(tmp_path / "s")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and 'pip install "satbench[ray]"' in error
    assert not (tmp_path / "s").exists()


def test_an_address_is_for_the_ray_executor_only(capsys, tmp_path):
    assert main([*SWEEP, "--executor", "local", "--address", f"{HEAD}:{PORT}",
                 "--out", str(tmp_path / "s")]) == 2
    assert "--address: only the ray executor" in capsys.readouterr().err
