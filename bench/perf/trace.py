"""Benchmark of the wire trace writer: what writing the trace costs, per mode and with gzip.

    python -m bench.perf.trace [--scale N] [--repeat K] [--no-profile]

Records every crossing of one `sim` run of smoke (scaled as in `bench.perf.sim`), then replays
them into each writer, interleaved, timing CPU seconds (`time.process_time`, steadier than wall
time on a shared machine): the reference is the writer as it was before it was optimised (one
`emsp.wire.dumps` of a dict per line), kept here as the baseline; its bytes must equal `full`'s.
Prints messages per CPU second, the ratio to the reference, and the bytes written. Then, unless
`--no-profile`, the share of trace writing in a cProfile'd `sim` run (the figure that matters:
how much of a run the trace costs).
"""

from __future__ import annotations

import argparse
import cProfile
import gzip
import pstats
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import simplejson

from bench.logs import logs_dropped
from bench.perf.sim import scaled
from bench.runtime.sim import SimRuntime
from bench.trace import WireTrace
from bench.world import build_world
from emsp.timeutil import format_utc
from emsp.wire import HttpRequest, HttpResponse, dumps

Crossing = tuple[str, tuple[Any, ...]]


class _Recorder(WireTrace):
    """Counts like a trace with mode off, and keeps every call to replay it."""

    def __init__(self) -> None:
        super().__init__(None, "off")
        self.calls: list[Crossing] = []

    def ocpp(self, t: datetime, proto: str, src: str, dst: str, frame: str) -> None:
        self.calls.append(("ocpp", (t, proto, src, dst, frame)))
        super().ocpp(t, proto, src, dst, frame)

    def ocpi_request(self, t: datetime, proto: str, src: str, dst: str, request: HttpRequest) -> None:
        self.calls.append(("ocpi_request", (t, proto, src, dst, request)))
        super().ocpi_request(t, proto, src, dst, request)

    def ocpi_response(
        self, t: datetime, proto: str, src: str, dst: str, request: HttpRequest, response: HttpResponse
    ) -> None:
        self.calls.append(("ocpi_response", (t, proto, src, dst, request, response)))
        super().ocpi_response(t, proto, src, dst, request, response)


def _world(scale: int) -> Any:
    scenario, base = scaled(scale)
    return build_world(
        scenario,
        base,
        emsp_base_url="http://emsp.local/ocpi",
        cpo_base_urls={c.id: f"http://{c.id}.cpo.local/ocpi" for c in scenario.cpos},
    )


def record(scale: int) -> list[Crossing]:
    recorder = _Recorder()
    SimRuntime(_world(scale), recorder).run()
    return recorder.calls


class _Reference:
    """The writer before: a dict per line through emsp.wire.dumps (a new encoder per call)."""

    def __init__(self, path: Path) -> None:
        self._file = path.open("w", encoding="utf-8")

    @staticmethod
    def _embed(body: str | None) -> str:
        if body is None or body == "":
            return "null"
        try:
            simplejson.loads(body)
        except ValueError:
            return dumps(body)
        return body.strip()

    def _write(self, head: dict[str, object], body: str | None, body_key: str = "body") -> None:
        line = dumps(head)
        if body_key == "frame":
            line = f'{line[:-1]},"frame":{dumps(body)}}}'
        else:
            line = f'{line[:-1]},"body":{self._embed(body)}}}'
        self._file.write(line + "\n")

    def ocpp(self, t: datetime, proto: str, src: str, dst: str, frame: str) -> None:
        self._write({"t": format_utc(t), "proto": proto, "src": src, "dst": dst}, frame, "frame")

    def ocpi_request(self, t: datetime, proto: str, src: str, dst: str, request: HttpRequest) -> None:
        head: dict[str, object] = {
            "t": format_utc(t),
            "proto": proto,
            "src": src,
            "dst": dst,
            "kind": "request",
        }
        self._write(
            head | {"method": request.method, "url": request.url, "headers": request.headers}, request.body
        )

    def ocpi_response(
        self, t: datetime, proto: str, src: str, dst: str, request: HttpRequest, response: HttpResponse
    ) -> None:
        head: dict[str, object] = {
            "t": format_utc(t),
            "proto": proto,
            "src": src,
            "dst": dst,
            "kind": "response",
        }
        head |= {"method": request.method, "url": request.url, "headers": response.headers}
        self._write(head | {"status": response.status}, response.body)

    def close(self) -> None:
        self._file.close()


WRITERS: dict[str, tuple[str, Callable[[Path], Any]]] = {
    "reference (before)": ("ref.jsonl", _Reference),
    "full": ("trace.jsonl", lambda p: WireTrace(p, "full")),
    "full + gzip": ("trace.jsonl.gz", lambda p: WireTrace(p, "full")),
    "ocpi": ("ocpi.jsonl", lambda p: WireTrace(p, "ocpi")),
    "ocpi + gzip": ("ocpi.jsonl.gz", lambda p: WireTrace(p, "ocpi")),
    "off": ("off.jsonl", lambda p: WireTrace(p, "off")),
}


def replay(calls: list[Crossing], writer: Any) -> float:
    methods = {name: getattr(writer, name) for name in ("ocpp", "ocpi_request", "ocpi_response")}
    started = time.process_time()
    for name, args in calls:
        methods[name](*args)
    writer.close()
    return time.process_time() - started


def trace_share(scale: int) -> tuple[float, float]:
    """(seconds in WireTrace's methods, total seconds) of one profiled sim run with a full trace."""
    with tempfile.TemporaryDirectory() as tmp:
        world = _world(scale)
        trace = WireTrace(Path(tmp) / "trace.jsonl")
        profile = cProfile.Profile()
        profile.enable()
        SimRuntime(world, trace).run()
        trace.close()
        profile.disable()
    stats = pstats.Stats(profile)
    entry = ("ocpp", "ocpi_request", "ocpi_response", "close")
    spent = sum(
        cumulative
        for (file, _, name), (_, _, _, cumulative, _) in stats.stats.items()  # type: ignore[attr-defined]
        if file.endswith("bench/trace.py") and name in entry
    )
    return spent, stats.total_tt  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--scale", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-profile", action="store_true")
    args = parser.parse_args()
    with logs_dropped():
        _measure(args)


def _measure(args: argparse.Namespace) -> None:
    calls = record(args.scale)
    print(f"scale {args.scale}: {len(calls)} crossings recorded")
    seconds: dict[str, list[float]] = {name: [] for name in WRITERS}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        for _ in range(args.repeat):
            for name, (file, make) in WRITERS.items():  # interleaved: load drifts hit every writer alike
                seconds[name].append(replay(calls, make(out / file)))
        same = (out / "ref.jsonl").read_bytes() == (out / "trace.jsonl").read_bytes()
        same_gz = gzip.decompress((out / "trace.jsonl.gz").read_bytes()) == (out / "trace.jsonl").read_bytes()
        sizes = {
            name: (out / file).stat().st_size if (out / file).exists() else 0
            for name, (file, _) in WRITERS.items()
        }
    reference = statistics.median(seconds["reference (before)"])
    for name, runs in seconds.items():
        cpu = statistics.median(runs)
        print(
            f"{name:>20}: {len(calls) / cpu:>10,.0f} messages per CPU second, "
            f"{reference / cpu:5.2f}x the reference, {sizes[name]:>11,} bytes"
        )
    print(
        f"full writes the reference's bytes: {'yes' if same else 'NO'}; "
        f"gzip holds them: {'yes' if same_gz else 'NO'}"
    )
    if not args.no_profile:
        spent, total = trace_share(args.scale)
        print(
            f"cProfile of one sim run (full trace): trace writing {spent:.3f} s "
            f"of {total:.3f} s ({spent / total:.1%})"
        )


if __name__ == "__main__":
    main()
