"use client";
import { useCallback, useEffect, useRef, useState } from "react";
import { api, type Schemas } from "@/api/client";
import { EventRow } from "@/components/EventRow";
import { Shell, useShell, useTimeZone } from "@/components/Shell";
import { Card, Empty, ErrorNote, Spinner } from "@/components/ui";
import { formatNumber } from "@/lib/format";
import { prependUnique } from "@/lib/series";
import { unwrap, usePolling } from "@/lib/usePolling";

const POLL_MS = 2000;
const KEEP = 500;

type Event = Schemas["EventSummary"];

/** Like `tail -f`: each poll asks for what arrived since the last cursor. */
function LiveStream() {
  const { project, link } = useShell();
  const timeZone = useTimeZone();
  const [events, setEvents] = useState<Event[]>([]);
  const [paused, setPaused] = useState(false);
  const [filter, setFilter] = useState("");
  const [counts, setCounts] = useState({ events: 0, errors: 0 });
  const cursor = useRef<string | undefined>(undefined);

  useEffect(() => {
    cursor.current = undefined;
    setEvents([]);
    setCounts({ events: 0, errors: 0 });
  }, [project.id]);

  const load = useCallback(
    async (signal: AbortSignal) => {
      const window = unwrap(
        await api.GET("/api/projects/{project_id}/live", {
          params: { path: { project_id: project.id }, query: { cursor: cursor.current, limit: 200 } },
          signal,
        }),
      );
      cursor.current = window.cursor;
      setEvents((old) => prependUnique(window.events, old, KEEP));
      setCounts((old) => ({ events: old.events + window.counts.events, errors: old.errors + window.counts.errors }));
      return window;
    },
    [project.id],
  );
  const { error, loading, data, reload } = usePolling(load, project.id, paused ? null : POLL_MS);

  const needle = filter.trim().toLowerCase();
  const shown = needle
    ? events.filter((e) =>
        [e.name, e.message, e.type, e.level, e.user_id, e.environment, e.release].some((v) => v?.toLowerCase().includes(needle)),
      )
    : events;

  return (
    <Card>
      <div className="mb-3 flex flex-wrap items-end gap-3">
        <button type="button" className="btn" aria-pressed={paused} onClick={() => setPaused(!paused)}>
          {paused ? "Resume" : "Pause"}
        </button>
        <div className="min-w-[12rem] flex-1">
          <label htmlFor="live-filter" className="label">Filter</label>
          <input id="live-filter" className="input" placeholder="name, message, user, level…" value={filter} onChange={(e) => setFilter(e.target.value)} />
        </div>
        <p className="text-sm text-slate-600 dark:text-slate-300" aria-live="polite">
          {paused ? "Paused" : "Live"} · {formatNumber(counts.events)} events, {formatNumber(counts.errors)} errors since opened
        </p>
      </div>
      {error !== undefined && <ErrorNote error={error} onRetry={reload} />}
      {!data && loading ? (
        <Spinner label="Connecting" />
      ) : shown.length === 0 ? (
        <Empty>{events.length ? "No event matches the filter." : "Waiting for events: new ones appear here as they arrive."}</Empty>
      ) : (
        <ol aria-label="Live events" className="font-normal">
          {shown.map((e) => (
            <EventRow key={e.id} event={e} timeZone={timeZone} href={link("/events/", { event: e.id, ts: e.timestamp })} />
          ))}
        </ol>
      )}
    </Card>
  );
}

export default function LivePage() {
  return (
    <Shell title="Live stream">
      <LiveStream />
    </Shell>
  );
}
