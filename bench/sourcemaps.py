"""Source map resolution cost: the first resolution through a new ~5 MB map (parse + lookup +
context lines) and a frame through a map already parsed (the warm cache), with symbolic.

``python -m bench.sourcemaps``: builds a bundle with the snippet's esbuild (`make sdk` first),
prints a Markdown table for docs/benchmarks.md. The database fetch of the map is not included.
"""

from __future__ import annotations

import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from symbolic.sourcemap import SourceView

from logsight import sourcemap_format
from logsight.processing.sourcemaps import _apply, _Found, _Parsed

ESBUILD = Path(__file__).resolve().parents[1] / "sdk" / "node_modules" / ".bin" / "esbuild"
MODULES = 400
FUNCTIONS = 40


def build(workdir: Path) -> tuple[bytes, bytes]:
    lines = []
    for m in range(MODULES):
        body = "\n".join(
            f"export function handler{m}_{f}(input) {{\n  const value = input.items[{f}] * {m};\n"
            f"  if (value > {f * 7}) {{ throw new Error('module {m} function {f} ' + value); }}\n"
            f"  return value + handler{m}_{(f + 1) % FUNCTIONS}.length;\n}}"
            for f in range(FUNCTIONS)
        )
        (workdir / f"m{m}.js").write_text(body + "\n")
        lines.append(f"import * as m{m} from './m{m}.js'; window.m{m} = m{m};")
    (workdir / "entry.js").write_text("\n".join(lines) + "\n")
    subprocess.run(
        [str(ESBUILD), "entry.js", "--bundle", "--minify", "--sourcemap", "--outfile=out/app.js"],
        cwd=workdir,
        check=True,
        capture_output=True,
    )
    return (workdir / "out" / "app.js").read_bytes(), (workdir / "out" / "app.js.map").read_bytes()


def frames(bundle: bytes, count: int) -> list[dict[str, Any]]:
    found = []
    for line_number, line in enumerate(bundle.split(b"\n")):
        start = 0
        while len(found) < count:
            at = line.find(b"throw new Error", start)
            if at < 0:
                break
            found.append(
                {"abs_path": "https://x/app.js", "lineno": line_number + 1, "colno": at + 1}
            )
            start = at + 1
    return found


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        bundle, source_map = build(Path(tmp))
    sample = frames(bundle, 2000)
    found = _Found(None, "https://x/app.js.map", "")

    started = time.perf_counter()
    view = sourcemap_format.parse(source_map)
    parsed = _Parsed(view, SourceView.from_bytes(bundle), len(source_map))
    _apply(dict(sample[0], function="a"), found, parsed)
    cold = time.perf_counter() - started

    timings = []
    for frame in sample:
        started = time.perf_counter()
        _apply(dict(frame, function="a"), found, parsed)
        timings.append(time.perf_counter() - started)
    size = f"{len(source_map) / 1e6:.1f} MB, bundle {len(bundle) / 1e6:.1f} MB"
    median = statistics.median(timings) * 1e6
    p99 = sorted(timings)[int(len(timings) * 0.99)] * 1e6
    print("| measurement | result |\n|---|---|")
    print(f"| map size (esbuild, sourcesContent) | {size} |")
    print(f"| first resolution through a new map | {cold * 1e3:.0f} ms |")
    print(f"| a frame, map cached ({len(timings)}) | median {median:.0f} µs, p99 {p99:.0f} µs |")


if __name__ == "__main__":
    main()
