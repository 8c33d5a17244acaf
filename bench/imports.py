"""Cold-start import time of the handlers in fresh interpreters.

Two numbers per handler, medians of several runs after one warm-up run (which also leaves the
bytecode caches warm, as a deployed package ships them): the import itself timed with
perf_counter inside the interpreter, and the wall time of the whole process
(``python -c 'import functions.ingest.handler'``: interpreter start-up included). One extra run
with ``-X importtime`` shows which packages the time goes to.

Measured twice: with a bytecode cache (a private PYTHONPYCACHEPREFIX, filled by the warm-up
run, as a deployed package that ships .pyc files) and without one (this venv as installed: uv
writes no .pyc files and the environment may set PYTHONDONTWRITEBYTECODE, so every import
compiles from source, as a Lambda package without .pyc files would on every cold start).
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from bench.common import PYTHON, REPO, log, median
from bench.runtime import bench_env

_TIMED = "import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"


@dataclass
class ImportTime:
    module: str
    cached: bool  # bytecode cache available (as a deployed package with .pyc files)
    import_ms: float  # median
    process_ms: float  # median
    runs: int
    import_min_ms: float
    process_min_ms: float
    # (top-level package, own ms of its modules, cumulative ms of importing the package itself
    # the first time, dependencies it pulled in included)
    by_package: list[tuple[str, float, float]]


def _env(pycache: Path | None) -> dict[str, str]:
    if pycache is None:
        # As this venv is installed: no .pyc files, and PYTHONDONTWRITEBYTECODE=1 (if set in
        # the caller's environment) keeps it that way, so every import compiles from source.
        return bench_env({"PYTHONDONTWRITEBYTECODE": "1"})
    # A private bytecode cache: nothing is written into the project's venv.
    env = bench_env({"PYTHONPYCACHEPREFIX": str(pycache)})
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _by_package(module: str, env: dict[str, str]) -> list[tuple[str, float, float]]:
    """Import time per top-level package, from ``-X importtime`` (own times sum to the total)."""
    out = subprocess.run(
        [PYTHON, "-X", "importtime", "-c", f"import {module}"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    own: dict[str, float] = {}
    cumulative: dict[str, float] = {}
    for line in out.stderr.splitlines():
        if not line.startswith("import time:") or line.count("|") != 2:
            continue
        first, second, name = line.split("|")
        try:
            self_us, cumulative_us = int(first.split(":")[1]), int(second)
        except ValueError:
            continue
        module_name = name.strip()
        package = module_name.split(".")[0]
        own[package] = own.get(package, 0.0) + self_us / 1000
        if module_name == package:
            cumulative[package] = cumulative_us / 1000
    ranked = sorted(own.items(), key=lambda kv: -kv[1])[:16]
    return [(name, ms, cumulative.get(name, ms)) for name, ms in ranked]


def measure(module: str, runs: int, *, pycache: Path | None) -> ImportTime:
    env = _env(pycache)
    # Warm-up: fills the private bytecode cache when there is one, and the OS page cache.
    subprocess.run([PYTHON, "-c", f"import {module}"], cwd=REPO, env=env, check=True)
    inside: list[float] = []
    whole: list[float] = []
    for _ in range(runs):
        out = subprocess.run(
            [PYTHON, "-c", _TIMED.format(module=module)],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        inside.append(float(out.stdout.strip()) * 1000)
        began = time.perf_counter()
        subprocess.run([PYTHON, "-c", f"import {module}"], cwd=REPO, env=env, check=True)
        whole.append((time.perf_counter() - began) * 1000)
    result = ImportTime(
        module=module,
        cached=pycache is not None,
        import_ms=median(inside),
        process_ms=median(whole),
        runs=runs,
        import_min_ms=min(inside),
        process_min_ms=min(whole),
        by_package=_by_package(module, env),
    )
    log(
        f"import {module} ({'with' if result.cached else 'without'} .pyc):"
        f" {result.import_ms:.0f} ms inside, {result.process_ms:.0f} ms process"
        f" (median of {runs})"
    )
    return result
