"""Sampling profiles with py-spy, kept out of the project's environment.

py-spy is installed with pip into a throwaway venv under /tmp (never into .venv, pyproject or
uv.lock). Profiles are taken with ``--gil --nonblocking``: only the thread holding the GIL is
sampled, which in a GIL-bound process is exactly "what the interpreter is busy with", and the
target is never paused. Raw collapsed stacks are reduced to self/inclusive shares per function
and self shares per library.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import log

TOOLS_VENV = Path(tempfile.gettempdir()) / "logsight-bench-tools"
PY_SPY = TOOLS_VENV / "bin" / "py-spy"

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<path>[^()]*?)(?::(?P<line>\d+))?\)$")


def ensure_py_spy() -> Path | None:
    if PY_SPY.exists():
        return PY_SPY
    log(f"installing py-spy into {TOOLS_VENV} (a throwaway venv)")
    try:
        subprocess.run([sys.executable, "-m", "venv", str(TOOLS_VENV)], check=True, timeout=120)
        subprocess.run(
            [str(TOOLS_VENV / "bin" / "pip"), "install", "-q", "py-spy"],
            check=True,
            capture_output=True,
            timeout=300,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        log(f"py-spy unavailable ({exc}); profiles skipped")
        return None
    return PY_SPY if PY_SPY.exists() else None


def _short(path: str) -> str:
    for marker in ("site-packages/", "/work/main/src/", "/work/main/", "lib/python3.12/"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


def _library(path: str) -> str:
    short = _short(path)
    if short.startswith("logsight/"):
        parts = short.split("/")
        return "/".join(parts[:2]) if len(parts) > 2 else short
    if short.startswith("functions/"):
        return "functions"
    head = short.split("/", 1)[0]
    return head.removesuffix(".py") if "/" in short or short.endswith(".py") else head


@dataclass
class Profile:
    name: str
    samples: int
    self_by_function: Counter[str] = field(default_factory=Counter)
    inclusive_by_function: Counter[str] = field(default_factory=Counter)
    self_by_library: Counter[str] = field(default_factory=Counter)
    raw_path: Path | None = None

    def top_self(self, n: int = 12) -> list[tuple[str, float]]:
        return [(k, v / self.samples) for k, v in self.self_by_function.most_common(n)]

    def top_inclusive(self, n: int = 15) -> list[tuple[str, float]]:
        return [(k, v / self.samples) for k, v in self.inclusive_by_function.most_common(n)]

    def libraries(self, n: int = 12) -> list[tuple[str, float]]:
        return [(k, v / self.samples) for k, v in self.self_by_library.most_common(n)]

    def share_inclusive(self, pattern: str) -> float:
        """Inclusive share of all frames whose label matches ``pattern`` (regex)."""
        if not self.samples:
            return 0.0
        rx = re.compile(pattern)
        return sum(v for k, v in self.inclusive_by_function.items() if rx.search(k)) / self.samples


def parse_collapsed(name: str, path: Path) -> Profile:
    profile = Profile(name, 0, raw_path=path)
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        profile.samples += count
        labels: list[str] = []
        libraries: list[str] = []
        for frame in stack.split(";"):
            match = _FRAME.match(frame)
            if match is None:
                labels.append(frame)
                libraries.append(frame)
                continue
            labels.append(f"{match['func']} ({_short(match['path'])})")
            libraries.append(_library(match["path"]))
        if not labels:
            continue
        profile.self_by_function[labels[-1]] += count
        profile.self_by_library[libraries[-1]] += count
        for label in set(labels):
            profile.inclusive_by_function[label] += count
    return profile


class Spy:
    def __init__(self, name: str, process: subprocess.Popen[bytes], out: Path) -> None:
        self.name, self.process, self.out = name, process, out
        self._result: Profile | None = None

    def stop(self) -> Profile | None:
        if self._result is not None or self.process.returncode is not None:
            return self._result
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.out.exists():
            self._result = parse_collapsed(self.name, self.out)
            log(f"profile {self.name}: {self._result.samples} samples -> {self.out}")
        return self._result


class Profiler:
    def __init__(self, py_spy: Path, out_dir: Path, rate: int = 200) -> None:
        self.py_spy, self.out_dir, self.rate = py_spy, out_dir, rate
        out_dir.mkdir(parents=True, exist_ok=True)

    def start(self, pid: int, name: str) -> Spy:
        out = self.out_dir / f"{name}.collapsed.txt"
        out.unlink(missing_ok=True)
        argv = [
            str(self.py_spy),
            "record",
            "--pid",
            str(pid),
            "--rate",
            str(self.rate),
            "--format",
            "raw",
            "--gil",
            "--nonblocking",
            "--output",
            str(out),
        ]
        process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return Spy(name, process, out)
