"use client";
import Link from "next/link";
import { usePathname, useRouter, useSearchParams } from "next/navigation";
import { useCallback, useEffect, useRef, useState, type FormEvent } from "react";
import { api, type Schemas } from "@/api/client";
import { EventRow } from "@/components/EventRow";
import { Fields, JsonBlock } from "@/components/JsonBlock";
import { Shell, useShell, useTimeZone } from "@/components/Shell";
import { Badge, Card, Empty, ErrorNote, Spinner } from "@/components/ui";
import { formatTime } from "@/lib/format";
import { unwrap, usePolling } from "@/lib/usePolling";

type Event = Schemas["EventSummary"];

const FILTERS = ["q", "type", "name", "level", "user_id", "release", "environment", "props"] as const;
const LEVELS = ["", "debug", "info", "warning", "error", "fatal"];
const TEXT_FILTERS = [
  ["name", "Name"],
  ["user_id", "User"],
  ["release", "Release"],
  ["environment", "Environment"],
] as const;

/** "plan=pro, seats=5" → { "prop.plan": ["pro"], "prop.seats": ["5"] } */
function propertyQuery(text: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const part of text.split(",")) {
    const [key, ...rest] = part.split("=");
    if (!key?.trim() || rest.length === 0) continue;
    (out[`prop.${key.trim()}`] ??= []).push(rest.join("=").trim());
  }
  return out;
}

function EventDetail({ id, ts }: { id: string; ts: string | null }) {
  const { project, link } = useShell();
  const timeZone = useTimeZone();
  const params = useSearchParams();
  const back = new URLSearchParams(params);
  back.delete("event");
  back.delete("ts");
  const { data, error, loading, reload } = usePolling(
    useCallback(
      async (signal: AbortSignal) =>
        unwrap(
          await api.GET("/api/projects/{project_id}/events/{event_id}", {
            params: { path: { project_id: project.id, event_id: id }, query: { timestamp: ts ?? undefined } },
            signal,
          }),
        ),
      [project.id, id, ts],
    ),
    `${project.id}|${id}`,
    null,
  );
  return (
    <Card title="Event" actions={<Link href={`?${back.toString()}`} className="text-sm text-indigo-700 hover:underline dark:text-indigo-300">Back to results</Link>}>
      {error !== undefined && <ErrorNote error={error} onRetry={reload} />}
      {loading && !data && <Spinner />}
      {data && (
        <div className="space-y-4">
          <div>
            <h2 className="text-lg font-semibold break-words">{data.name}</h2>
            {data.message && <p className="break-words text-sm">{data.message}</p>}
            <p className="mt-1 flex flex-wrap items-center gap-2 text-xs text-slate-600 dark:text-slate-300">
              <Badge tone={data.level}>{data.level}</Badge>
              <span>{data.type}</span>
              <time dateTime={data.timestamp}>{formatTime(data.timestamp, timeZone)}</time>
              <span>received {formatTime(data.received_at, timeZone)}</span>
            </p>
          </div>
          {data.fingerprint && data.type === "error" && (
            <p className="text-sm">
              <Link className="text-indigo-700 hover:underline dark:text-indigo-300" href={link("/issues/", { q: data.name })}>
                Find its issue
              </Link>
            </p>
          )}
          <section>
            <h3 className="mb-1 text-sm font-semibold">Who and where</h3>
            <Fields
              label="Who and where"
              value={{
                user: data.user_id,
                session: data.session_id,
                release: data.release,
                environment: data.environment,
                browser: data.browser,
                os: data.os,
                device: data.device,
                user_agent: (data.context as Record<string, unknown> | null | undefined)?.user_agent,
              }}
            />
          </section>
          <section>
            <h3 className="mb-1 text-sm font-semibold">Properties</h3>
            <Fields label="Properties" value={data.properties} />
          </section>
          <section>
            <h3 className="mb-1 text-sm font-semibold">Context</h3>
            <Fields label="Context" value={data.context} />
          </section>
          <section>
            <h3 className="mb-1 text-sm font-semibold">Raw JSON</h3>
            <JsonBlock label="Raw event JSON" value={data} />
          </section>
        </div>
      )}
    </Card>
  );
}

function Explorer() {
  const { project, link } = useShell();
  const timeZone = useTimeZone();
  const params = useSearchParams();
  const router = useRouter();
  const pathname = usePathname();
  const [pages, setPages] = useState<{ events: Event[]; next: string | null; error?: unknown; loading: boolean }>({
    events: [],
    next: null,
    loading: true,
  });
  const sentinel = useRef<HTMLDivElement>(null);
  const filterKey = FILTERS.map((f) => params.get(f) ?? "").join("|");

  const fetchPage = useCallback(
    async (cursor: string | null) => {
      const get = (k: string) => params.get(k) || undefined;
      const level = get("level");
      const type = get("type");
      const name = get("name");
      const result = await api.GET("/api/projects/{project_id}/events", {
        params: {
          path: { project_id: project.id },
          query: {
            q: get("q"),
            type: type ? [type] : undefined,
            name: name ? [name] : undefined,
            level: level ? [level] : undefined,
            user_id: get("user_id"),
            release: get("release"),
            environment: get("environment"),
            limit: 50,
            cursor: cursor ?? undefined,
            ...propertyQuery(params.get("props") ?? ""),
          },
        },
      });
      return unwrap(result);
    },
    // The filters, not the event being viewed.
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [project.id, filterKey],
  );

  useEffect(() => {
    let cancelled = false;
    setPages({ events: [], next: null, loading: true });
    fetchPage(null).then(
      (page) => !cancelled && setPages({ events: page.data, next: page.next_cursor ?? null, loading: false }),
      (error) => !cancelled && setPages({ events: [], next: null, loading: false, error }),
    );
    return () => {
      cancelled = true;
    };
  }, [fetchPage]);

  const loadMore = useCallback(() => {
    setPages((state) => {
      if (!state.next || state.loading) return state;
      fetchPage(state.next).then(
        (page) => setPages((s) => ({ events: [...s.events, ...page.data], next: page.next_cursor ?? null, loading: false })),
        (error) => setPages((s) => ({ ...s, loading: false, error })),
      );
      return { ...state, loading: true };
    });
  }, [fetchPage]);

  // Infinite scroll: the next page loads when the end of the list comes into view.
  useEffect(() => {
    const node = sentinel.current;
    if (!node) return;
    const observer = new IntersectionObserver((entries) => entries.some((e) => e.isIntersecting) && loadMore(), { rootMargin: "400px" });
    observer.observe(node);
    return () => observer.disconnect();
  }, [loadMore]);

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const next = new URLSearchParams();
    if (params.get("project")) next.set("project", params.get("project")!);
    for (const f of FILTERS) {
      const v = String(form.get(f) ?? "").trim();
      if (v) next.set(f, v);
    }
    router.replace(`${pathname}?${next.toString()}`);
  }

  const eventId = params.get("event");
  return (
    <div className="space-y-4">
      {eventId && <EventDetail id={eventId} ts={params.get("ts")} />}
      <Card title="Search">
        <form key={filterKey} onSubmit={submit} className="grid grid-cols-1 gap-3 sm:grid-cols-2 lg:grid-cols-4" role="search" aria-label="Events">
          <div className="sm:col-span-2">
            <label htmlFor="f-q" className="label">Text in name or message</label>
            <input id="f-q" name="q" type="search" className="input" defaultValue={params.get("q") ?? ""} />
          </div>
          <div>
            <label htmlFor="f-type" className="label">Type</label>
            <input id="f-type" name="type" className="input" placeholder="error, pageview…" defaultValue={params.get("type") ?? ""} />
          </div>
          <div>
            <label htmlFor="f-level" className="label">Level</label>
            <select id="f-level" name="level" className="input" defaultValue={params.get("level") ?? ""}>
              {LEVELS.map((l) => (
                <option key={l} value={l}>{l || "Any"}</option>
              ))}
            </select>
          </div>
          {TEXT_FILTERS.map(([name, label]) => (
            <div key={name}>
              <label htmlFor={`f-${name}`} className="label">{label}</label>
              <input id={`f-${name}`} name={name} className="input" defaultValue={params.get(name) ?? ""} />
            </div>
          ))}
          <div className="sm:col-span-2 lg:col-span-3">
            <label htmlFor="f-props" className="label">Properties (key=value, comma-separated)</label>
            <input id="f-props" name="props" className="input" placeholder="plan=pro, seats=5" defaultValue={params.get("props") ?? ""} />
          </div>
          <div className="flex items-end gap-2">
            <button type="submit" className="btn btn-primary">Search</button>
            <Link href={link("/events/")} className="btn">Clear</Link>
          </div>
        </form>
      </Card>
      <Card title="Events">
        {pages.error !== undefined && <ErrorNote error={pages.error} />}
        {pages.events.length === 0 && !pages.loading && pages.error === undefined && <Empty>No event matches these filters.</Empty>}
        {pages.events.length > 0 && (
          <ol aria-label="Events">
            {pages.events.map((e) => (
              <EventRow key={e.id} event={e} timeZone={timeZone} href={`?${new URLSearchParams({ ...Object.fromEntries(params), event: e.id, ts: e.timestamp }).toString()}`} />
            ))}
          </ol>
        )}
        <div ref={sentinel} />
        {pages.loading && <Spinner />}
        {pages.next && !pages.loading && (
          <button type="button" className="btn mt-2" onClick={loadMore}>
            Load more
          </button>
        )}
      </Card>
    </div>
  );
}

export default function EventsPage() {
  return (
    <Shell title="Events">
      <Explorer />
    </Shell>
  );
}
