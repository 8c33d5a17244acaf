"""What scrubbing costs the processor per event: ``python -m bench.privacy``.

Times ``Scrubber.event`` (the processor's only privacy call per event, made before the row is
built) on events made the way ingest makes them: a Sentry error event as sentry-python sends
it (frames with local variables, request headers and query string, breadcrumbs, contexts)
mapped and normalized by the real code, a browser page view from the snippet, and the Sentry
event with secrets planted.
Best of five rounds; the result goes to its own section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import copy
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.soak_report import splice_section
from logsight.ingest.normalize import Limits, normalize_event
from logsight.ingest.sentry.mapping import map_event
from logsight.privacy.identity import EmailMode, IpMode
from logsight.privacy.scrubber import PrivacySettings, Scrubber
from logsight.processing.rows import event_row
from logsight.queue.message import EventMessage

REPO = Path(__file__).resolve().parents[1]
HEADING = "## Privacy scrubbing"
BEFORE = "## How to run"
LIMITS = Limits(1024 * 1024, 32, 256, 8192, timedelta(days=30), timedelta(seconds=60))


def _frame(i: int) -> dict[str, Any]:
    return {
        "filename": f"app/services/orders_{i}.py",
        "abs_path": f"/srv/app/services/orders_{i}.py",
        "function": f"handle_{i}",
        "module": f"app.services.orders_{i}",
        "lineno": 40 + i,
        "in_app": True,
        "context_line": "    total = sum(line.price for line in cart.lines)",
        "pre_context": ["def handle(cart):", "    log.info('pricing %s', cart.id)"],
        "post_context": ["    return total", ""],
        "vars": {
            "cart": "<Cart id=8842 lines=3>",
            "self": "<OrderService object at 0x7f3a2b1c9d60>",
            "customer_id": "'c_18832'",
            "retries": "2",
            "started": "datetime.datetime(2026, 12, 2, 0, 12, 3, 118231)",
        },
    }


def sentry_event(secrets: bool) -> dict[str, Any]:
    """A sentry-python 2.x error event (Django request, 12 frames, 10 breadcrumbs)."""
    event: dict[str, Any] = {
        "event_id": uuid.uuid4().hex,
        "timestamp": datetime.now(UTC).isoformat(),
        "platform": "python",
        "level": "error",
        "logger": "django.request",
        "server_name": "web-3",
        "release": "shop@4.12.0",
        "environment": "production",
        "exception": {
            "values": [
                {
                    "type": "ZeroDivisionError",
                    "value": "division by zero",
                    "module": None,
                    "mechanism": {"type": "django", "handled": False},
                    "stacktrace": {"frames": [_frame(i) for i in range(12)]},
                }
            ]
        },
        "request": {
            "url": "https://shop.example/checkout/",
            "method": "POST",
            "query_string": "step=2&utm_source=mail",
            "headers": {
                "Host": "shop.example",
                "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/120.0",
                "Accept": "text/html,application/xhtml+xml",
                "Accept-Language": "en-GB,en;q=0.9",
                "Referer": "https://shop.example/cart/",
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Forwarded-For": "203.0.113.77",
            },
            "env": {"SERVER_NAME": "web-3", "SERVER_PORT": "8000", "REMOTE_ADDR": "10.0.3.4"},
        },
        "user": {"id": "18832", "ip_address": "203.0.113.77"},
        "contexts": {
            "runtime": {"name": "CPython", "version": "3.12.7"},
            "os": {"name": "Linux"},
            "trace": {"trace_id": uuid.uuid4().hex, "span_id": uuid.uuid4().hex[:16]},
        },
        "tags": {"url_name": "checkout", "shard": "eu-1"},
        "breadcrumbs": {
            "values": [
                {
                    "type": "default",
                    "category": "query",
                    "message": f"SELECT * FROM orders WHERE id = {i}",
                    "timestamp": datetime.now(UTC).isoformat(),
                    "data": {"duration_ms": 1.2},
                }
                for i in range(10)
            ]
        },
        "sdk": {"name": "sentry.python.django", "version": "2.19.0"},
    }
    if secrets:
        request = event["request"]
        request["query_string"] += "&access_token=tok_live_abcdef0123"
        request["headers"]["X-Api-Key"] = "sk_live_0123456789"
        frames = event["exception"]["values"][0]["stacktrace"]["frames"]
        frames[-1]["vars"]["password"] = "'hunter2'"  # noqa: S105 - a planted secret
        frames[-2]["vars"]["payment"] = "{'card': '4111111111111111', 'cvv': '123'}"
        event["breadcrumbs"]["values"][3]["message"] = "auth with Bearer eyJhbGciOi.eyJzdWIi.sig0"
        event["user"]["email"] = "ann@example.com"
    return event


def browser_pageview() -> dict[str, Any]:
    return {
        "type": "pageview",
        "name": "pageview",
        "timestamp": datetime.now(UTC).isoformat(),
        "session_id": "s_8f2a",
        "user": {"id": "u_18832"},
        "properties": {"path": "/pricing", "plan": "team", "ab": "b"},
        "context": {
            "url": "https://shop.example/pricing?ref=mail",
            "referrer": "https://www.example.org/",
            "user_agent": "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/120.0",
            "locale": "en-GB",
            "screen": "1920x1080",
            "timezone": "Europe/Berlin",
            "title": "Pricing",
        },
        "sdk": {"name": "logsight.js", "version": "0.3.0"},
    }


def as_normalized(event: dict[str, Any]) -> dict[str, Any]:
    """The event as ingest queues it: what the processor scrubs before building its row."""
    return dict(normalize_event(event, received_at=datetime.now(UTC), limits=LIMITS))


def row_event(case: str) -> Callable[[], object]:
    """The processor's own per-event work before scrubbing (``event_row``: user agent, grouping),
    for scale."""
    source = (
        browser_pageview()
        if case == "browser page view"
        else map_event(sentry_event("planted" in case))
    )
    received = datetime.now(UTC)
    normalized = normalize_event(source, received_at=received, limits=LIMITS)
    message = EventMessage(uuid.uuid4(), received, "bench", [normalized])
    return lambda: event_row(message, normalized)


def best_us(work: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(5):
        # CPU time: the machine is shared, and waiting for a core is not the code's cost.
        started = time.process_time()
        for _ in range(repeat):
            work()
        best = min(best, (time.process_time() - started) / repeat)
    return best * 1e6


def _scrub_costs(
    settings: PrivacySettings, key: bytes, row: dict[str, Any], repeat: int
) -> tuple[float, float]:
    """(first sight, warm): every string new to the scrubber's text cache, or all seen before
    (key decisions cached in both, as in a running processor)."""
    scrubber = Scrubber(settings, key)
    sample = copy.deepcopy(row)
    scrubber.event(sample)

    def cold() -> None:
        scrubber._texts.clear()
        scrubber.event(sample)

    return best_us(cold, repeat), best_us(lambda: scrubber.event(sample), repeat)


def measure(repeat: int) -> list[tuple[str, str, float, float]]:
    key = b"k" * 32
    cases = {
        "Sentry error, no secrets": as_normalized(map_event(sentry_event(False))),
        "Sentry error, 7 secrets planted": as_normalized(map_event(sentry_event(True))),
        "browser page view": as_normalized(browser_pageview()),
    }
    rules = {
        "defaults": PrivacySettings(),
        "e-mails and IPs hashed": PrivacySettings(email=EmailMode.HASH, ip=IpMode.HASH),
        "scrubbing off": PrivacySettings(scrub=False, ip=IpMode.STORE),
    }
    results: list[tuple[str, str, float, float]] = []
    for case_name in cases:
        build = best_us(row_event(case_name), repeat)
        results.append((case_name, "(reference) the processor's row building", build, build))
    for rule_name, settings in rules.items():
        for case_name, row in cases.items():
            results.append((case_name, rule_name, *_scrub_costs(settings, key, row, repeat)))
    return results


def render(results: list[tuple[str, str, float, float]]) -> str:
    lines = [
        HEADING,
        "",
        "`python -m bench.privacy`: the processor's privacy call (`Scrubber.event`, applied to "
        "each event before its row is built) per event, on events made by the real mapping and "
        "normalization code; one thread, CPU time, best "
        "of five rounds, key caches warm (as in a running processor). The reference rows time "
        "the processor's own per-event row building (user agent, grouping) in the same run, "
        "for scale.",
        "",
        "| event | rules | µs per event, strings first seen | µs per event, strings seen before |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {case} | {rules} | {cold:,.1f} | {warm:,.1f} |" for case, rules, cold, warm in results
    ]
    lines += [
        "",
        "Findings. Scrubbing is a walk over every value of the event in Python, so its cost "
        "follows the number of values. A browser page view (about 15 values) costs about as "
        "much as its row building. A sentry-python error with 12 frames of variables and 10 "
        "breadcrumbs (about 350 values, 235 strings) costs several times its row building: "
        "once its strings have been seen (frames' code lines, paths and header values repeat "
        "across events, and each distinct short string is scrubbed once per project scrubber, "
        "which lives until the project's settings change) it is about as much again as the "
        "processor's whole per-event cost measured above for simple events; the first time, "
        "more. That is the price of scrubbing frame variables and source lines, which is where "
        "the secrets were (the issue's `local_secret_note`). The numbers are CPU time on the "
        "shared 2-core machine while other work ran (load average about 8): compare rows of "
        "this table with each other rather than with other sections.",
        "",
        "What keeps it cheap: strings under 13 characters without `=` or `@` are not searched; "
        "each secret shape has its own pattern behind a gate that costs almost nothing (a "
        "substring such as `PRIVATE KEY`, `earer` or `eyJ`, the length, the number of digits), "
        "so most strings meet no pattern at all; checksums run only on candidates; key "
        "decisions, short strings and addresses are cached per scrubber; an unchanged value is "
        "returned as the same object, so nothing inside an event with nothing to scrub is "
        "copied. With scrubbing off and e-mails and addresses stored, the processor does "
        "nothing at all. "
        "Next step if it matters: scrub the JSON text the writer produces for COPY in one pass "
        "instead of walking the objects.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=2000)
    parser.add_argument("--output", type=Path, default=REPO / "docs" / "benchmarks.md")
    args = parser.parse_args()
    section = render(measure(args.repeat))
    print(section)
    page = args.output.read_text()
    args.output.write_text(splice_section(page, section, HEADING, BEFORE))


if __name__ == "__main__":
    main()
