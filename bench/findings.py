"""Bottlenecks and suggested fixes, ranked by expected gain, with this run's evidence.

The diagnosis (where the time goes and why) is text written from the profiles and breakdowns;
every number in it is filled in from the run that writes the page, expected gains are computed
from the same run's measurements, and a suggestion whose evidence is missing from a partial run
says so rather than guessing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bench.machine import cpu_count
from bench.report import (
    best_http,
    best_publish,
    cached_import,
    cpu_budget,
    default_e2e,
    main_drain,
    n,
    raw_copy,
    single_publish,
    table,
)

if TYPE_CHECKING:
    from bench.profiling import Profile
    from bench.run import State

TAG = "100x48"  # the processor breakdown's full batch of 100-event messages
PY_STAGES = ("poller_event_build", "records_from_event", "decode", "message_rows", "copy_values")
DB_STAGES = ("db_copy_staging", "db_insert_events_rollups", "db_commit")


@dataclass
class Suggestion:
    title: str
    metric: str
    gain: float | None  # expected factor on that metric (None: not measurable in this run)
    gain_text: str
    effort: str
    details: list[str]
    missed_goal: bool = True  # does it work on a goal this run missed?


def _share(profile: Profile | None, pattern: str) -> str:
    if profile is None or not profile.samples:
        return "n/a"
    return f"{profile.share_inclusive(pattern):.0%}"


def _lib(profile: Profile | None, *names: str) -> str:
    if profile is None or not profile.samples:
        return "n/a"
    total = sum(v for k, v in profile.self_by_library.items() if k in names)
    return f"{total / profile.samples:.0%}"


def _x(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "n/a"
    return f"{value:.2f}x" if value >= MEANINGFUL else "none measured"


MEANINGFUL = 1.10  # below this, a measured "gain" is within this shared machine's noise


def suggestions(state: State) -> list[Suggestion]:
    cores = cpu_count()
    out: list[Suggestion] = []
    ingest, proc = state.inproc_ingest, state.inproc_processor
    gw, pp = state.gateway_profile, state.processor_profile

    # -- import time: bytecode ------------------------------------------------------------------
    cached = cached_import(state)
    uncached = [t for t in state.import_times if not t.cached]
    if cached is not None and uncached:
        out.append(
            Suggestion(
                "Ship compiled bytecode (.pyc) in the Lambda assets",
                "ingest cold-start import",
                uncached[0].import_ms / cached,
                f"{n(uncached[0].import_ms)} → {n(cached)} ms",
                "packaging flag",
                [
                    f"Without .pyc files the ingest handler's imports take "
                    f"{n(uncached[0].import_ms)} ms; with them {n(cached)} ms (medians, fresh "
                    f"interpreters). /var/task is read-only, so a package built without .pyc "
                    f"(uv installs none unless `--compile-bytecode`; this venv has none and "
                    f"PYTHONDONTWRITEBYTECODE is set) recompiles every module on every cold "
                    f"start. pip's default install compiles them; make the asset build do so "
                    f"explicitly and check the asset contains `__pycache__`.",
                ],
            )
        )

    # -- ingest: validation ----------------------------------------------------------------------
    hundred = best_http(state.hundred)
    if hundred is not None and ingest.get("normalize_100"):
        per, _ = cpu_budget(hundred.cpu, hundred.wrk.per_second * 100)
        gateway_us = per.get("gateway", math.nan)
        normalize_us = ingest["normalize_100"] / 100
        lean_us = ingest.get("whatif_typeadapter_validate_json_100", math.nan) / 100
        saved = normalize_us - lean_us if not math.isnan(lean_us) else math.nan
        upper = gateway_us / (gateway_us - saved) if saved < gateway_us else math.nan
        sanitize = ingest.get("normalize_100:sanitize", math.nan)
        # Conservative: only the sanitizing walk goes (the fast path); the rest stays.
        gain = gateway_us / (gateway_us - sanitize / 100) if sanitize / 100 < gateway_us else None
        validate = ingest.get("normalize_100:model_validate", math.nan)
        dump = ingest.get("normalize_100:model_dump", math.nan)
        size = ingest.get("normalize_100:size_check", math.nan)
        out.append(
            Suggestion(
                "Ingest: cheapen event normalization (sanitizing walk first)",
                "100-event requests (gateway CPU per event)",
                gain,
                f"{n(gateway_us)} → {n(gateway_us - sanitize / 100)} µs/event without the "
                f"walk; ≤ {_x(upper)} with one validate_json",
                "moderate (src/logsight/ingest/normalize.py)",
                [
                    f"100-event requests reached {n(hundred.wrk.per_second * 100)} events/s with "
                    f"the gateway process at {hundred.cpu.cores('gateway'):.2f} cores, "
                    f"{n(gateway_us)} µs of gateway CPU per event. In-process, normalizing 100 "
                    f"events takes {n(ingest['normalize_100'])} µs; the whole handler without "
                    f"the publish {n(ingest.get('handler_no_publish_100'))} µs. Its parts, per "
                    f"100 events: "
                    f"the recursive `sanitize` walk {n(sanitize)} µs (a Python call, isinstance "
                    f"checks and a path f-string via `_join` for every node, ~28 nodes per "
                    f"event, though paths are only needed when something is trimmed), pydantic "
                    f"`model_validate` {n(validate)} µs, dumping sub-models back to dicts "
                    f"{n(dump)} µs, the `orjson.dumps` size check {n(size)} µs.",
                    f"Fix: a fast path — the size check already serializes the event; if that is "
                    f"at most max_string_bytes long and contains no `\\u0000`, no string can "
                    f"need trimming or NUL-stripping, so only the nesting depth needs checking; "
                    f"build paths lazily (tuples, joined only on a finding); validate and dump "
                    f"once. For scale: one `TypeAdapter(list[IncomingEvent]).validate_json` on "
                    f"the same 100 events, JSON parsing included, takes "
                    f"{n(ingest.get('whatif_typeadapter_validate_json_100'))} µs (not "
                    f"equivalent — it does not sanitize — so an upper bound on the gain).",
                ],
            )
        )

    # -- processor: overlap and per-event work ------------------------------------------------
    drain = main_drain(state)
    copy = raw_copy(state)
    python_us = sum(proc.get(f"{k}_{TAG}", 0.0) for k in PY_STAGES)
    db_us = sum(proc.get(f"{k}_{TAG}", 0.0) for k in DB_STAGES)
    if drain is not None and python_us and db_us:
        overlap = (python_us + db_us) / max(python_us, db_us)
        eps = drain.steady_events_per_second
        details = [
            f"The processor wrote {n(eps)} events/s"
            + (f" (bare COPY: {n(copy[1])} rows/s)" if copy else "")
            + (
                f"; the process used {drain.cpu.cores('processor'):.2f} cores and PostgreSQL "
                f"{drain.cpu.cores('postgresql'):.2f}"
                if drain.cpu
                else ""
            )
            + ". Neither saturates a core because each poller works strictly in turn: "
            f"decode and build rows in Python ({n(python_us, 1)} µs/event), then COPY + INSERT "
            f"while Python waits ({n(db_us, 1)} µs/event), then ack. The whole handler costs "
            f"{n(proc.get(f'handler_total_{TAG}'), 1)} µs/event in-process, which is the "
            f"measured rate.",
            f"Fix: pipeline the poller — build batch N+1's rows while batch N is in "
            f"PostgreSQL (a second thread, or psycopg's pipeline mode), acking in order. The "
            f"rate then tends to 1/max(Python, database) instead of 1/(Python + database): "
            f"~{overlap:.2f}x. The local runtime owns the poller, so the AWS path is unchanged "
            f"(on Lambda the same overlap needs the handler itself to pipeline).",
        ]
        if pp is not None:
            details.append(
                f"Profile of the draining process (GIL holder): `BatchProcessor.process` "
                f"{_share(pp, r'^BatchProcessor.process ')}, `EventWriter.write` "
                f"{_share(pp, r'^EventWriter.write ')} (psycopg `Copy.write_row` "
                f"{_share(pp, r'^Copy.write_row ')}), `message_rows` "
                f"{_share(pp, r'^message_rows ')}, `decode` {_share(pp, r'^decode ')}, "
                f"`EventRow.copy_values` {_share(pp, r'^EventRow.copy_values ')}, base64 "
                f"{_share(pp, r'^b64decode ')}."
            )
        out.append(
            Suggestion(
                "Processor: overlap Python and PostgreSQL work in each poller",
                "processor events/s",
                overlap,
                f"{n(eps)} → ~{n(eps * overlap)} events/s",
                "moderate (src/logsight/local/poller.py)",
                details,
            )
        )
        staging = proc.get(f"db_copy_staging_{TAG}", 0.0)
        total = proc.get(f"handler_total_{TAG}", 0.0)
        events_insert = proc.get(f"explain_{TAG}::events", math.nan)
        rollups = sum(
            v
            for k, v in proc.items()
            if k.startswith(f"explain_{TAG}::") and not k.endswith(("::events", "::total"))
        )
        if total:
            out.append(
                Suggestion(
                    "Processor: write each row once, with less Python per value",
                    "processor events/s",
                    total / (total - staging) if total > staging else None,
                    f"≤ {n(total, 1)} → {n(total - staging, 1)} µs/event if the staging COPY "
                    f"cost vanished",
                    "moderate (src/logsight/storage/writer.py)",
                    [
                        f"Per event: COPY into the session's staging table "
                        f"{n(staging, 1)} µs (mostly psycopg's text COPY formatter handling 22 "
                        f"values per row in Python, plus jsonb parsing), then INSERT … SELECT "
                        f"… ON CONFLICT DO NOTHING RETURNING with the rollup CTEs "
                        f"{n(proc.get(f'db_insert_events_rollups_{TAG}'), 1)} µs — EXPLAIN "
                        f"ANALYZE puts {n(events_insert, 1)} µs of it in the `events` insert "
                        f"itself (primary key + four secondary indexes) and {n(rollups, 1)} µs "
                        f"in all rollup and sketch tables together. Before that, Python "
                        f"materializes every event three times: JSON → dicts (`decode`, "
                        f"{n(proc.get(f'decode_{TAG}'), 1)} µs), dicts → `EventRow` "
                        f"(`message_rows`, {n(proc.get(f'message_rows_{TAG}'), 1)} µs: UUID(), "
                        f"fromisoformat(), fingerprint, user agent, each JSON column serialized "
                        f"once), `EventRow` → tuple, JSON columns decoded to text for COPY "
                        f"(`copy_values`, {n(proc.get(f'copy_values_{TAG}'), 1)} µs).",
                        "Fix: `INSERT … SELECT … FROM unnest(%s::uuid[], %s::timestamptz[], …) "
                        "ON CONFLICT DO NOTHING RETURNING …` with column arrays passed in binary "
                        "(or one jsonb parameter per batch expanded by `jsonb_to_recordset`) "
                        "writes each row once and skips the text COPY formatter; pass JSON "
                        "columns as the message's own bytes (binary jsonb) instead of "
                        "serializing each column again. Every secondary index "
                        "on `events` is paid per row: keep only those the API's queries use.",
                        (
                            f"On this machine the goal of 30,000 events/s is above the bare "
                            f"COPY rate into an events-shaped table ({n(copy[1])} rows/s, same "
                            f"run): it needs fewer indexes or more cores, not only less Python."
                            if copy and copy[1] < 30000
                            else ""
                        ),
                    ],
                )
            )

    # -- gateway: threads, processes ----------------------------------------------------------
    single = best_http(state.single)
    workers = {k.value: k.result for k in state.knobs if k.setting == "LOGSIGHT_GATEWAY_WORKERS"}
    if single is not None:
        per, service = cpu_budget(single.cpu, single.wrk.per_second)
        # The default measured the same way as the other values when the knob runs have it.
        base = workers.get("32", single.wrk.per_second)
        best_workers = max(workers.items(), key=lambda kv: kv[1]) if workers else None
        budget = [
            f"At {n(single.wrk.per_second)} req/s each single-event request cost {n(service)} µs "
            f"of CPU on the "
            f"service side: gateway {n(per.get('gateway'))}, RabbitMQ {n(per.get('rabbitmq'))}, "
            f"processor {n(per.get('processor'))}, PostgreSQL {n(per.get('postgresql'))}. "
            f"{cores} cores carry at most ~{n(cores / service * 1e6 if service else 0)} req/s "
            f"at that cost; {n(3000)} req/s needs ≤ {n(cores / 3000 * 1e6)} µs per request in "
            f"total.",
            f"The handler's own logic is small — in-process, one thread: "
            f"{n(ingest.get('handler_no_publish_1'))} µs without the publish (normalize "
            f"{n(ingest.get('normalize_1'))}, metrics flush {n(ingest.get('metrics_1'))}, API "
            f"Gateway event build {n(ingest.get('gateway_event_build_1'))}). The rest of the "
            f"gateway's cost is the machinery around it: uvicorn + asyncio "
            f"({_lib(gw, 'uvicorn', 'asyncio', 'uvloop')} of GIL samples, self), py-amqp "
            f"({_lib(gw, 'amqp', 'vine')}; `basic_publish_confirm` "
            f"{_share(gw, r'^Channel.basic_publish_confirm ')} inclusive), the event-loop → "
            f"thread-pool hand-off ({_lib(gw, 'concurrent', 'threading', 'queue')}), uuid4 "
            f"({_share(gw, r'^uuid4 ')}; three per request: API Gateway request id, Lambda "
            f"context id, event id) and powertools metrics "
            f"({_lib(gw, 'aws_lambda_powertools')}).",
        ]
        knob: list[str] = []
        if best_workers is not None:
            better = best_workers[1] >= base * MEANINGFUL
            knob.append(
                "LOGSIGHT_GATEWAY_WORKERS: "
                + ", ".join(
                    f"{k} → {n(v)} req/s"
                    for k, v in sorted(workers.items(), key=lambda kv: int(kv[0]))
                )
                + (
                    " (32 is the default). "
                    if "32" in workers
                    else f" (default 32 → {n(base)} in the main run). "
                )
                + (
                    f"{best_workers[0]} workers did best in this run; repeat runs before "
                    "changing the default, since every worker blocks on its own broker round "
                    "trip and more threads also mean more GIL hand-offs."
                    if better
                    else "No value did measurably better: the thread count is not what "
                    "limits the gateway; the CPU per request is."
                )
            )
        out.append(
            Suggestion(
                "Gateway: handler thread count (LOGSIGHT_GATEWAY_WORKERS)",
                "single-event req/s",
                best_workers[1] / base if best_workers else None,
                f"{n(base)} → {n(best_workers[1])} req/s with {best_workers[0]} workers"
                if best_workers
                else "not measured",
                "config default (LOGSIGHT_GATEWAY_WORKERS)",
                knob if state.whatif else budget + knob,
            )
        )
        if state.whatif:
            one = next((r.wrk.per_second for p, _, r in state.whatif if p == 1), base)
            top = max(state.whatif, key=lambda w: w[2].wrk.per_second)
            out.append(
                Suggestion(
                    "Gateway: several processes instead of one (SO_REUSEPORT / workers)",
                    "single-event req/s",
                    top[2].wrk.per_second / one,
                    ", ".join(f"{p}x{pool}: {n(r.wrk.per_second)}" for p, pool, r in state.whatif)
                    + " req/s",
                    "small (src/logsight/local/gateway.py)",
                    [
                        *budget,
                        "Measured with bench/multigateway.py (the unchanged Gateway, N "
                        "processes on one SO_REUSEPORT port). One gateway process is bounded "
                        "by one GIL; Lambda environments are separate processes anyway. On "
                        f"{cores} cores the gain is small because the machine is already full "
                        f"(machine busy {top[2].cpu.machine_busy / top[2].cpu.wall_seconds:.2f}"
                        f" of {cores} in the best run, {top[0]} process"
                        f"{'es' if top[0] > 1 else ''}; RabbitMQ "
                        f"{top[2].cpu.cores('rabbitmq'):.2f} cores): it pays off with cores to "
                        "spare, or after the per-request cost comes down.",
                    ],
                )
            )
        small_one, small_best = (
            single_publish(state, large=False),
            best_publish(state, large=False),
        )
        out.append(
            Suggestion(
                "Ingest: one publisher per process with asynchronous confirms",
                "single-event req/s, broker CPU per message",
                None,
                "not measured here",
                "larger (src/logsight/queue/publisher.py)",
                [
                    f"Each handler thread owns a py-amqp connection and blocks on its own "
                    f"confirm ({n(ingest.get('publish_confirm_1'))} µs per publish, "
                    f"sequentially, in-process). RabbitMQ spends "
                    f"{n(per.get('rabbitmq'))} µs of CPU per confirmed persistent message at "
                    f"this rate. The raw limit in the same run: "
                    + (
                        f"{n(small_one.per_second)} msg/s for one synchronous publisher, "
                        f"{n(small_best.per_second)} for the best parallel set"
                        if small_one and small_best
                        else "n/a"
                    )
                    + (
                        f" — so {n(3000)} single-event req/s with one confirmed message each is "
                        f"{3000 / small_best.per_second:.0%} of what the broker confirmed with "
                        f"nothing else running on the {cores} cores, whatever the gateway does. "
                        if small_best
                        else ". "
                    )
                    + "A per-process publisher that keeps many messages in flight on one channel "
                    "(resolve each request's future on basic.ack by delivery tag) lets the "
                    "broker batch its fsyncs and removes the per-thread connections; it is the "
                    "change that moves the broker side of the budget.",
                ],
            )
        )

    # -- import time: what is imported ---------------------------------------------------------
    if cached is not None:
        t = next(x for x in state.import_times if x.cached and x.module.endswith("ingest.handler"))
        cum = {name: c for name, _, c in t.by_package}
        own = {name: o for name, o, _ in t.by_package}
        psycopg_ms = cum.get("psycopg") or 0.0
        powertools_ms = cum.get("aws_lambda_powertools") or 0.0
        settings_ms = own.get("pydantic_settings") or 0.0
        trimmed = psycopg_ms + powertools_ms + settings_ms
        out.append(
            Suggestion(
                "Ingest: trim the import path (psycopg lazily, lighter settings and logging)",
                "ingest cold-start import",
                cached / max(cached - trimmed, 1.0) if trimmed else None,
                f"~{n(trimmed)} ms of {n(cached)} ms",
                "small (src/logsight/ingest, functions/ingest, config)",
                [
                    f"With .pyc, importing psycopg costs {n(psycopg_ms)} ms (its own modules "
                    f"{n(own.get('psycopg'))} ms, plus asyncio, which it imports), only for the "
                    f"ingest-key look-up. Importing it inside the key store takes it out of the "
                    f"import — though a cold environment's first request always misses the key "
                    f"cache, so that request still pays it unless keys are looked up without "
                    f"psycopg.",
                    f"pydantic-settings ({n(settings_ms)} ms own, "
                    f"{n(cum.get('pydantic_settings'))} ms cumulative with what it pulls in) "
                    f"builds the whole Settings model (API, auth and local-runtime fields "
                    f"included) where ingest needs a dozen values; aws_lambda_powertools costs "
                    f"{n(cum.get('aws_lambda_powertools'))} ms for a Logger and EMF metrics "
                    f"that a few lines of "
                    f"JSON logging would replace. pydantic itself ({n(own.get('pydantic'))} + "
                    f"{n(own.get('pydantic_core'))} ms) is needed by the event schema.",
                ],
            )
        )

    # -- latency -------------------------------------------------------------------------------
    result = default_e2e(state)
    window = [r for label, r in state.e2e if "WINDOW" in label]
    if result is not None and window:
        out.append(
            Suggestion(
                "Local runtime: a 0.1-0.2 s batching window by default",
                "202 → queryable p50",
                result.p50_ms / window[0].p50_ms if window[0].p50_ms else None,
                f"{n(result.p50_ms)} → {n(window[0].p50_ms)} ms p50",
                "config default (LOGSIGHT_BATCH_WINDOW_SECONDS)",
                missed_goal=result.p50_ms > 1000 or result.p99_ms > 3000,
                details=[
                    f"202 → queryable is mostly the window: p50 {n(result.p50_ms)} ms / p99 "
                    f"{n(result.p99_ms)} ms with 0.5 s, {n(window[0].p50_ms)} / "
                    f"{n(window[0].p99_ms)} ms with 0.1 s at {n(result.rate)} events/s. A "
                    f"short window only makes batches smaller when traffic is low, which is "
                    f"when they are cheap; under load batches fill before the window ends.",
                ],
            )
        )
    if proc.get("first_user_agent_parse_ms"):
        out.append(
            Suggestion(
                "Processor: build the user-agent parser at set-up",
                "first batch after a cold start",
                None,
                f"{n(proc['first_user_agent_parse_ms'])} ms once",
                "trivial (src/logsight/processing/user_agent.py)",
                missed_goal=False,
                details=[
                    f"The first user agent parsed in a process builds ua-parser's resolver "
                    f"lazily: {n(proc['first_user_agent_parse_ms'])} ms, then "
                    f"{n(proc.get('second_user_agent_parse_ms'), 2)} ms for the next new agent. "
                    f"Doing it when the processor is built keeps it out of the first batch "
                    f"(and out of the first invocation's timeout budget on Lambda).",
                ],
            )
        )
    return out


def findings(state: State) -> list[str]:
    items = suggestions(state)

    def useful(s: Suggestion) -> bool:
        return s.gain is not None and not math.isnan(s.gain) and s.gain >= MEANINGFUL

    # Missed goals first, then by the size of the expected gain.
    measured = sorted(
        (s for s in items if useful(s)), key=lambda s: (not s.missed_goal, -(s.gain or 0.0))
    )
    unmeasured = [s for s in items if not useful(s)]
    ranked = measured + unmeasured
    out = ["## Bottlenecks and suggestions, ranked by expected gain", ""]
    out += [
        "Expected gains are estimated from this run's measurements (in-process breakdowns, "
        "profiles, knob runs, the what-if run). Suggestions for goals this run missed come "
        "first, then by expected gain; those without a measurable estimate, or whose measured "
        "effect is under 10 % (run-to-run noise on this shared machine is of that order), come "
        "last. Nothing under src/ or "
        "functions/ was changed to obtain them.",
        "",
    ]
    out += table(
        ["#", "suggestion", "affects", "goal", "expected gain", "estimate", "effort"],
        [
            (
                i,
                s.title,
                s.metric,
                "missed" if s.missed_goal else "met",
                _x(s.gain),
                s.gain_text,
                s.effort,
            )
            for i, s in enumerate(ranked, 1)
        ],
    )
    for i, s in enumerate(ranked, 1):
        out += [f"**{i}. {s.title}**", ""]
        out += [f"- {d}" for d in s.details if d]
        out += [""]
    return out
