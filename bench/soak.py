"""``make bench-soak``: steady load on ``logsight local`` for a while, every process's memory
sampled as it goes; the time series goes to its own section of docs/benchmarks.md.

    .venv/bin/python -m bench.soak                    # 30 minutes
    .venv/bin/python -m bench.soak --minutes 5 --output /tmp/soak.md

The runtime is started as a user would (``logsight local`` with no LOGSIGHT_DATABASE_URL, so
with its embedded PostgreSQL) on a RabbitMQ vhost created for the run and deleted at the end.
The load is open-loop at a fixed rate: real sentry-sdk error envelopes (gzipped, as the SDK's
transport sends them) mixed with native batches of events, plus a burst every few minutes, as a
client that flushes a backlog would send, so every gateway worker gets used. The run stops by
itself after ``--minutes`` (at most 240).
"""

from __future__ import annotations

import argparse
import pickle
import random
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench import http
from bench.common import REPO, log
from bench.envelopes import envelope_request, record_envelopes
from bench.events import request_body, sample_event
from bench.memory import Sample, read_usage
from bench.resources import BenchVhost
from bench.runtime import LocalRuntime

MAX_MINUTES = 240
STATE = Path(tempfile.gettempdir()) / "logsight-bench" / "soak-state.pickle"
CHUNK_SECONDS = 30.0


@dataclass(frozen=True)
class Load:
    rate: float  # requests/s
    envelope_share: float  # the rest are native batches
    native_batch: int  # events per native request
    burst: int  # requests per burst (0: none)
    burst_every: float  # seconds
    burst_rate: float  # requests/s during a burst


@dataclass
class SoakResult:
    started: datetime
    minutes: float
    interval: float
    load: Load
    samples: list[Sample] = field(default_factory=list)
    requests: int = 0
    accepted_events: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    bursts: int = 0
    command: str = ""
    notes: list[str] = field(default_factory=list)


class Sampler(threading.Thread):
    def __init__(self, root: int, interval: float, result: SoakResult, began: float) -> None:
        super().__init__(name="soak-sampler", daemon=True)
        self.root, self.interval, self.result, self.began = root, interval, result, began
        self.stopping = threading.Event()

    def sample(self) -> Sample:
        sample = Sample(
            time.monotonic() - self.began, self.result.accepted_events, read_usage(self.root)
        )
        self.result.samples.append(sample)
        return sample

    def run(self) -> None:
        while not self.stopping.wait(self.interval):
            sample = self.sample()
            log(
                f"  t={sample.seconds / 60:5.1f} min  events {sample.events:>9,}  PSS "
                f"{sample.total:6.0f} MB  "
                + ", ".join(f"{k} {u.pss:.0f}" for k, u in sorted(sample.usage.items()))
            )


class Driver:
    def __init__(self, runtime: LocalRuntime, load: Load, result: SoakResult) -> None:
        self.runtime, self.load, self.result = runtime, load, result
        self.rng = random.Random(7)
        self.dsn = str(runtime.info["dsn"])
        self.envelopes = record_envelopes(self.dsn, 60, self.rng)
        log(f"recorded {len(self.envelopes)} sentry-sdk envelopes")

    def _requests(self, count: int, *, envelopes_only: bool = False) -> list[bytes | http.Request]:
        requests: list[bytes | http.Request] = []
        for _ in range(count):
            if envelopes_only or self.rng.random() < self.load.envelope_share:
                event_id, envelope = self.rng.choice(self.envelopes)
                requests.append(envelope_request(self.dsn, event_id, envelope))
            else:
                events = [sample_event(self.rng) for _ in range(self.load.native_batch)]
                requests.append(request_body(events))
        return requests

    def _send(self, requests: Sequence[bytes | http.Request], rate: float) -> None:
        outcome = http.open_loop(
            self.runtime.url,
            self.runtime.key,
            requests,
            rate=rate,
            seconds=len(requests) / rate,
            max_connections=64,
        )
        self.result.requests += outcome.sent
        self.result.errors += outcome.errors
        for status, count in outcome.statuses.items():
            self.result.statuses[status] = self.result.statuses.get(status, 0) + count
        sizes = [1 if isinstance(r, http.Request) else self.load.native_batch for r in requests]
        self.result.accepted_events += sum(sizes[index] for _, _, index in outcome.accepted_at)

    def run(self, seconds: float) -> None:
        began = time.monotonic()
        next_burst = began + min(self.load.burst_every, seconds / 4)
        while (left := seconds - (time.monotonic() - began)) > 1:
            if self.load.burst and time.monotonic() >= next_burst and left > 30:
                log(f"burst of {self.load.burst} envelopes")
                self._send(
                    self._requests(self.load.burst, envelopes_only=True), self.load.burst_rate
                )
                self.result.bursts += 1
                next_burst += self.load.burst_every
                continue
            chunk = min(CHUNK_SECONDS, left)
            self._send(self._requests(max(int(chunk * self.load.rate), 1)), self.load.rate)


def soak(minutes: float, interval: float, load: Load, command: str) -> SoakResult:
    result = SoakResult(datetime.now(UTC), minutes, interval, load, command=command)
    vhost = BenchVhost()
    vhost.create()
    runtime = LocalRuntime(amqp_url=vhost.url, database_url=None)
    sampler: Sampler | None = None
    try:
        runtime.start(timeout=180)
        driver = Driver(runtime, load, result)
        time.sleep(5)  # start-up settles
        sampler = Sampler(runtime.pid, interval, result, time.monotonic())
        fresh = sampler.sample()
        log(f"fresh: PSS {fresh.total:.0f} MB")
        sampler.start()
        driver.run(minutes * 60)
        time.sleep(interval)  # the processor finishes the last batches
        sampler.stopping.set()
        sampler.join(interval + 30)
        sampler.sample()
    except KeyboardInterrupt:
        result.notes.append("interrupted before the planned end")
    finally:
        if sampler is not None:
            sampler.stopping.set()
        runtime.cleanup()
        vhost.delete()
    return result


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.soak", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--minutes", type=float, default=30.0, help="load duration (default 30)")
    parser.add_argument("--interval", type=float, default=20.0, help="seconds between samples")
    parser.add_argument("--rate", type=float, default=40.0, help="steady requests/s")
    parser.add_argument("--envelope-share", type=float, default=0.8)
    parser.add_argument("--native-batch", type=int, default=10, help="events per native request")
    parser.add_argument("--burst", type=int, default=2000, help="envelopes per burst (0: none)")
    parser.add_argument("--burst-every", type=float, default=300.0, help="seconds between bursts")
    parser.add_argument("--burst-rate", type=float, default=800.0, help="requests/s in a burst")
    parser.add_argument("--output", type=Path, default=REPO / "docs" / "benchmarks.md")
    parser.add_argument("--state", type=Path, default=STATE, help="where the samples are kept")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not 0 < args.minutes <= MAX_MINUTES:
        print(f"--minutes must be in (0, {MAX_MINUTES}]")
        return 2
    load = Load(
        rate=args.rate,
        envelope_share=args.envelope_share,
        native_batch=args.native_batch,
        burst=args.burst,
        burst_every=args.burst_every,
        burst_rate=args.burst_rate,
    )
    command = " ".join([".venv/bin/python -m bench.soak", *(argv or sys.argv[1:])])
    result = soak(args.minutes, args.interval, load, command)
    from bench.soak_report import write_section

    # Kept so the section can be re-rendered without measuring again: python -m bench.soak_report
    args.state.parent.mkdir(parents=True, exist_ok=True)
    with args.state.open("wb") as f:
        pickle.dump(result, f)

    write_section(args.output, result)
    log(f"wrote the soak section of {args.output}")
    return 0 if result.samples and not result.notes else 1


if __name__ == "__main__":
    from bench import soak as _soak  # noqa: PLW0406 - pickle-friendly module name

    sys.exit(_soak.main())
