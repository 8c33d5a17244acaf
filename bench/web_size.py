"""The dashboard's first-load JavaScript per route, measured from the static export, against
the overview's budget; and, with --build, how long a clean production build takes here.
Writes its own section of docs/benchmarks.md (``make web-size``).

First-load JavaScript is what a browser fetches before a page works: every script the route's
HTML references (modern browsers skip ``nomodule`` ones), each gzip-compressed as a CDN would
send it. Chunks loaded later (Recharts, behind next/dynamic) are not part of it."""

from __future__ import annotations

import argparse
import gzip
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench.soak_report import splice_section

REPO = Path(__file__).resolve().parents[1]
WEB = REPO / "web"
OUT = WEB / "out"
PAGE = REPO / "docs" / "benchmarks.md"
HEADING = "## Dashboard: first-load JavaScript and build time"
BEFORE = "## How to run"
BUDGET_KB = 250.0
ROUTES = {
    "/": "Overview",
    "/live/": "Live stream",
    "/events/": "Events",
    "/issues/": "Issues",
    "/issue/": "Issue",
    "/ingest/": "Ingest health",
    "/setup/": "Setup",
    "/login/": "Sign-in",
}
_SCRIPT = re.compile(r"<script\b([^>]*)\bsrc=\"([^\"]+)\"([^>]*)>")


@dataclass(frozen=True)
class RouteSize:
    route: str
    scripts: int
    raw: int
    gzipped: int


def first_load(route: str, out: Path = OUT) -> RouteSize:
    page = (out / route.strip("/") / "index.html").read_text()
    sources = sorted(
        {
            src
            for before, src, after in _SCRIPT.findall(page)
            if "nomodule" not in (before + after).lower()
        }
    )
    raw = gzipped = 0
    for src in sources:
        body = (out / src.split("?")[0].lstrip("/")).read_bytes()
        raw += len(body)
        gzipped += len(gzip.compress(body, compresslevel=9))
    return RouteSize(route, len(sources), raw, gzipped)


def clean_build() -> float:
    shutil.rmtree(WEB / ".next", ignore_errors=True)
    env = {**os.environ, "NEXT_TELEMETRY_DISABLED": "1"}
    began = time.monotonic()
    subprocess.run(["npm", "run", "--silent", "build"], cwd=WEB, env=env, check=True)
    return time.monotonic() - began


def render(sizes: list[RouteSize], build_seconds: float | None) -> str:
    overview = next(s for s in sizes if s.route == "/")
    ok = overview.gzipped / 1024 <= BUDGET_KB
    lines = [
        HEADING,
        "",
        f"Measured by `make web-size` (`python -m bench.web_size`) on "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC from `web/out` (the static export): every "
        "script a route's HTML loads before the page works, gzip level 9. Recharts is loaded "
        "later, only where a chart is drawn, and is not counted.",
        "",
        "| route | page | scripts | raw | gzip | budget |",
        "|---|---|---|---|---|---|",
    ]
    for s in sizes:
        verdict = "✅ met" if ok else "❌ missed"
        budget = f"≤ {BUDGET_KB:.0f} KB: {verdict}" if s.route == "/" else ""
        lines.append(
            f"| `{s.route}` | {ROUTES[s.route]} | {s.scripts} | {s.raw / 1024:.1f} KB "
            f"| {s.gzipped / 1024:.1f} KB | {budget} |"
        )
    lines.append("")
    if build_seconds is not None:
        lines.append(
            f"A clean production build (`next build`, no `.next` cache, telemetry off) took "
            f"**{build_seconds:.0f} s** on this machine's 2 cores, shared with other work."
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--build", action="store_true", help="time a clean build first")
    parser.add_argument("--output", type=Path, default=PAGE)
    args = parser.parse_args()
    build_seconds = clean_build() if args.build else None
    sizes = [first_load(route) for route in ROUTES]
    section = render(sizes, build_seconds)
    page = args.output.read_text() if args.output.exists() else "# LogSight benchmarks\n"
    args.output.write_text(splice_section(page, section, HEADING, BEFORE))
    print(section)
    overview = sizes[0]
    return 0 if overview.gzipped / 1024 <= BUDGET_KB else 1


if __name__ == "__main__":
    sys.exit(main())
