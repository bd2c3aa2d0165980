"""SIGTERM (CI cancel, docker stop, Kubernetes) ends a command as Ctrl-C does: exit 130, "interrupted",
the partial trace kept, no result file, no worker process left behind."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.cli_signals import sigterm_as_interrupt

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc for sessions")
# Ctrl-C reaches a foreground process, whose SIGINT is Python's default handler. A test run started
# as a background job (`cmd &` without job control) passes SIGINT on ignored, and Python keeps an
# ignored SIGINT ignored: the CLI under test gets the handler back as from a terminal.
CLI = [
    sys.executable,
    "-c",
    "import signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "from bench.cli_main import main; main()",
]
SIGNALS = [signal.SIGINT, signal.SIGTERM]


def _start(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [*CLI, *args],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        env={**os.environ, "CI": "true"},
        start_new_session=True,  # its own session: every process it starts is found by session id
    )


def _wait_for_a_run(directory: Path, proc: subprocess.Popen[bytes]) -> None:
    """Until some run under `directory` has logged (under way), then a second more for its trace."""
    deadline = time.monotonic() + 300  # a busy machine takes long to import and build a world
    while time.monotonic() < deadline:
        assert proc.poll() is None, "ended before it could be interrupted"
        if any(path.stat().st_size > 0 for path in directory.rglob("log.jsonl")):
            time.sleep(1)
            return
        time.sleep(0.05)
    raise AssertionError("no run under way within 300 s")


def _in_session(sid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[3]) == sid and fields[0] != "Z":  # (state, ppid, pgrp, session)
                pids.append(int(entry.name))
    return pids


def _left_in_session(pid: int) -> list[int]:
    """The processes of `pid`'s session still alive after up to 20 s (killed, so none outlives the test)."""
    deadline = time.monotonic() + 20
    while _in_session(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = _in_session(pid)
    for other in left:
        os.kill(other, signal.SIGKILL)
    return left


@pytest.mark.parametrize("runtime", ["sim", "live"])
@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: s.name)
def test_a_run_stops_on_the_signal_with_130_keeping_its_trace(
    tmp_path: Path, runtime: str, sig: signal.Signals
) -> None:
    out = tmp_path / "run"
    pace = ["--speed", "60"] if runtime == "live" else ["--set", "demand.drivers=100",
            "--set", "demand.arrivals_per_hour=300", "--set", "duration_minutes=2880"]  # fmt: skip
    proc = _start(["run", "smoke", "--runtime", runtime, "--out", str(out), "--no-progress", *pace],
                  tmp_path / "log")  # fmt: skip
    _wait_for_a_run(out, proc)
    proc.send_signal(sig)
    assert proc.wait(timeout=60) == 130, (tmp_path / "log").read_text()
    assert "interrupted" in (tmp_path / "log").read_text()
    assert (out / "trace.jsonl").stat().st_size > 0
    assert not (out / "summary.json").exists() and not (out / "junit.xml").exists()


@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: s.name)
def test_a_suite_stops_on_the_signal_with_130_and_no_process_left(
    tmp_path: Path, sig: signal.Signals
) -> None:
    out = tmp_path / "suite"
    proc = _start(["suite", "smoke", "offline-stations", "--seeds", "1-2", "--jobs", "2", "--out", str(out),
                   "--no-progress"], tmp_path / "log")  # fmt: skip
    _wait_for_a_run(out, proc)
    proc.send_signal(sig)
    assert proc.wait(timeout=60) == 130, (tmp_path / "log").read_text()
    assert _left_in_session(proc.pid) == []
    # The runs under way were interrupted (no result), not waited for; a finished one keeps its results.
    runs = [run for run in out.iterdir() if run.is_dir()]
    assert any(not (run / "summary.json").exists() for run in runs)
    for run in runs:
        assert (run / "junit.xml").exists() == (run / "summary.json").exists(), run
    # The suite's report lists every run that got under way: INTERRUPTED without a summary.
    with (out / "suite.csv").open(encoding="utf-8") as handle:
        listed = {Path(row["run_dir"]).name: row["verdict"] for row in csv.DictReader(handle)}
    assert sorted(listed) == sorted(run.name for run in runs)
    for run in runs:
        assert (listed[run.name] == "INTERRUPTED") == (not (run / "summary.json").exists()), listed
    assert (out / "junit.xml").read_text().count("interrupted") >= 1


def test_the_handler_is_only_there_while_inside_and_follows_sigint() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with sigterm_as_interrupt(), pytest.raises(KeyboardInterrupt):
        signal.raise_signal(signal.SIGTERM)
    assert signal.getsignal(signal.SIGTERM) is before
    calls: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, _frame: calls.append(signum))
    try:
        with sigterm_as_interrupt():
            signal.raise_signal(signal.SIGTERM)  # an installed SIGINT handler (asyncio's) decides
    finally:
        signal.signal(signal.SIGINT, previous)
    assert calls == [signal.SIGINT]


# The suite's pool, interrupted right after it started its first worker (still importing, the
# forkserver maybe too): Ctrl-C reaches the whole process group, SIGTERM the suite's process only.
_INTERRUPTED_WHILE_STARTING = """
import os, signal, sys
from concurrent.futures import ProcessPoolExecutor
from bench.cli_signals import sigterm_as_interrupt
from bench.suite import RunSpec, run_local
submit = ProcessPoolExecutor.submit
def interrupting(self, *args, **kwargs):
    future = submit(self, *args, **kwargs)
    ProcessPoolExecutor.submit = submit
    if sys.argv[1] == "SIGINT":
        os.killpg(0, signal.SIGINT)
    else:
        os.kill(os.getpid(), signal.SIGTERM)
    return future
ProcessPoolExecutor.submit = interrupting
specs = [RunSpec("smoke", seed, os.path.join(sys.argv[2], f"smoke-{seed}")) for seed in (1, 2, 3)]
try:
    with sigterm_as_interrupt():
        run_local(specs, 2)
except KeyboardInterrupt:
    print("interrupted")
    sys.exit(130)
"""


@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: s.name)
def test_a_suite_interrupted_while_its_workers_start_exits_130_quietly(
    tmp_path: Path, sig: signal.Signals
) -> None:
    log = tmp_path / "log"
    proc = subprocess.Popen(
        [sys.executable, "-c", _INTERRUPTED_WHILE_STARTING, sig.name, str(tmp_path / "suite")],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    assert proc.wait(timeout=120) == 130, log.read_text()
    assert _left_in_session(proc.pid) == []
    assert log.read_text() == "interrupted\n"  # no traceback of a worker or of the forkserver
    assert not list(tmp_path.rglob("summary.json"))  # no run went on after the interrupt
