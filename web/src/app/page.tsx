"use client";
import Link from "next/link";
import { usePathname, useRouter, useSearchParams } from "next/navigation";
import { useCallback, useMemo } from "react";
import { api, type Schemas } from "@/api/client";
import { Shell, useShell } from "@/components/Shell";
import { RangeControls } from "@/components/RangeControls";
import LazyTimeChart from "@/components/charts/LazyTimeChart";
import { Badge, Card, Empty, ErrorNote, Spinner, Stat } from "@/components/ui";
import { formatChange, formatNumber, formatPercent, formatRelative, isTimeZone, localTimeZone } from "@/lib/format";
import { mergeSeries } from "@/lib/series";
import { parseView, resolveRange, serializeView, type ViewState } from "@/lib/urlState";
import { unwrap, usePolling } from "@/lib/usePolling";

const POLL_MS = 5000;
const ERROR_LEVELS = ["error", "fatal"];

interface OverviewData {
  summary: Schemas["SummaryPublic"];
  events: Schemas["TimeseriesPublic"];
  errors: Schemas["TimeseriesPublic"];
  users: Schemas["TimeseriesPublic"];
  newest: Schemas["IssuePublic"][];
}

function Overview() {
  const { project, link } = useShell();
  const router = useRouter();
  const pathname = usePathname();
  const params = useSearchParams();
  const view = useMemo(() => parseView(params, isTimeZone), [params]);
  const tz = view.tz ?? localTimeZone();
  const projectId = project.id;

  const setView = useCallback(
    (next: ViewState) => {
      const query = serializeView(next, params);
      router.replace(query ? `${pathname}?${query}` : pathname, { scroll: false });
    },
    [params, pathname, router],
  );

  const key = `${projectId}|${serializeView(view)}`;
  const load = useCallback(
    async (signal: AbortSignal): Promise<OverviewData> => {
      const { from, to } = resolveRange(view, Date.now());
      const path = { project_id: projectId };
      const range = { from, to, tz };
      const release = view.release ? [view.release] : undefined;
      const [summary, events, errors, users, newest] = await Promise.all([
        api.GET("/api/projects/{project_id}/stats/summary", { params: { path, query: range }, signal }),
        api.GET("/api/projects/{project_id}/stats/timeseries", { params: { path, query: { ...range, release } }, signal }),
        api.GET("/api/projects/{project_id}/stats/timeseries", {
          params: { path, query: { ...range, release, level: ERROR_LEVELS } },
          signal,
        }),
        api.GET("/api/projects/{project_id}/stats/timeseries", { params: { path, query: { ...range, metric: "users" } }, signal }),
        api.GET("/api/projects/{project_id}/issues", {
          params: {
            path,
            query: { sort: "first_seen", limit: 5, environment: view.environment, release: view.release },
          },
          signal,
        }),
      ]);
      return {
        summary: unwrap(summary),
        events: unwrap(events),
        errors: unwrap(errors),
        users: unwrap(users),
        newest: unwrap(newest).data,
      };
    },
    [projectId, view, tz],
  );
  const { data, error, loading, reload } = usePolling(load, key, view.range === "custom" ? null : POLL_MS);

  // Filter choices: the releases seen in the range, the environments of recent events.
  const choices = usePolling(
    useCallback(
      async (signal: AbortSignal) => {
        const { from, to } = resolveRange(view, Date.now());
        const path = { project_id: projectId };
        const [releases, recent] = await Promise.all([
          api.GET("/api/projects/{project_id}/stats/timeseries", {
            params: { path, query: { from, to, tz: "UTC", group_by: "release", top: 20 } },
            signal,
          }),
          api.GET("/api/projects/{project_id}/events", { params: { path, query: { limit: 200 } }, signal }),
        ]);
        return {
          releases: unwrap(releases).series.flatMap((s) => (s.key && !s.other ? [s.key] : [])),
          environments: [...new Set(unwrap(recent).data.flatMap((e) => (e.environment ? [e.environment] : [])))],
        };
      },
      // Only the range matters for the choices.
      // eslint-disable-next-line react-hooks/exhaustive-deps
      [projectId, view.range, view.from, view.to],
    ),
    `${projectId}|${view.range}|${view.from}|${view.to}`,
    60_000,
  );

  const rows = useMemo(
    () =>
      data
        ? mergeSeries(data.events.buckets, { events: data.events.series, errors: data.errors.series })
        : [],
    [data],
  );
  const userRows = useMemo(() => (data ? mergeSeries(data.users.buckets, { users: data.users.series }) : []), [data]);

  const summary = data?.summary;
  return (
    <>
      <RangeControls view={view} onChange={setView} releases={choices.data?.releases ?? []} environments={choices.data?.environments ?? []} />
      <p className="-mt-2 mb-4 text-xs text-slate-600 dark:text-slate-300">
        Totals and top lists cover every release and environment; the charts follow the release filter, new issues both filters.
        {view.range !== "custom" && " Refreshes every 5 seconds."}
      </p>
      {error !== undefined && <div className="mb-4"><ErrorNote error={error} onRetry={reload} /></div>}
      {!data && loading && <Spinner />}
      {data && summary && (
        <div aria-busy={loading} className="space-y-4">
          <div className="grid grid-cols-2 gap-3 lg:grid-cols-4">
            <Stat label="Events" value={formatNumber(summary.events)} change={formatChange(summary.change.events)} />
            <Stat label="Errors" value={formatNumber(summary.errors)} change={formatChange(summary.change.errors)} />
            <Stat label="Error rate" value={formatPercent(summary.error_rate)} change={formatChange(summary.change.error_rate)} />
            <Stat
              label="Unique users"
              value={formatNumber(summary.unique_users)}
              change={formatChange(summary.change.unique_users)}
              hint={summary.unique_users_approximate ? "estimated" : undefined}
            />
          </div>
          {summary.events === 0 && (
            <Card>
              <Empty>
                No events in this range yet. Send one with the browser snippet, a Sentry SDK or{" "}
                <code>curl -X POST /v1/events</code> and it shows up here within seconds.
              </Empty>
            </Card>
          )}
          <div className="grid gap-4 lg:grid-cols-3">
            <Card title="Events and errors" className="lg:col-span-2">
              <LazyTimeChart
                rows={rows}
                bucket={data.events.bucket}
                timeZone={tz}
                series={[
                  { key: "events", label: "Events", color: "#4f46e5" },
                  { key: "errors", label: "Errors", color: "#dc2626" },
                ]}
              />
            </Card>
            <Card title="Unique users">
              <LazyTimeChart rows={userRows} bucket={data.users.bucket} timeZone={tz} kind="bar" series={[{ key: "users", label: "Users", color: "#0891b2" }]} />
            </Card>
          </div>
          <div className="grid gap-4 lg:grid-cols-3">
            <Card title="Top events">
              {summary.top_events.length === 0 ? (
                <Empty>No events.</Empty>
              ) : (
                <table className="w-full text-sm">
                  <thead className="sr-only"><tr><th>Event</th><th>Count</th></tr></thead>
                  <tbody>
                    {summary.top_events.map((e) => (
                      <tr key={`${e.type}:${e.name}`} className="border-t border-slate-100 dark:border-slate-800">
                        <td className="table-cell">
                          <Link className="hover:underline" href={link("/events/", { name: e.name, type: e.type })}>
                            {e.name}
                          </Link>{" "}
                          <span className="text-xs text-slate-600 dark:text-slate-300">{e.type}</span>
                        </td>
                        <td className="table-cell text-right tabular-nums">{formatNumber(e.events)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
            </Card>
            <Card title="Top pages">
              {summary.top_pages.length === 0 ? (
                <Empty>No page views.</Empty>
              ) : (
                <table className="w-full text-sm">
                  <thead className="sr-only"><tr><th>Path</th><th>Views</th></tr></thead>
                  <tbody>
                    {summary.top_pages.map((p) => (
                      <tr key={p.path} className="border-t border-slate-100 dark:border-slate-800">
                        <td className="table-cell break-all font-mono text-xs">{p.path}</td>
                        <td className="table-cell text-right tabular-nums">{formatNumber(p.views)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
            </Card>
            <Card title="New issues" actions={<Link className="text-sm text-indigo-700 hover:underline dark:text-indigo-300" href={link("/issues/")}>All issues</Link>}>
              {data.newest.length === 0 ? (
                <Empty>No unresolved issues.</Empty>
              ) : (
                <ul className="space-y-2">
                  {data.newest.map((issue) => (
                    <li key={issue.id} className="text-sm">
                      <Link className="font-medium hover:underline" href={link("/issue/", { id: issue.id })}>
                        {issue.title}
                      </Link>
                      <div className="flex flex-wrap items-center gap-2 text-xs text-slate-600 dark:text-slate-300">
                        <Badge tone={issue.level}>{issue.level}</Badge>
                        <span>{formatNumber(issue.events)} events</span>
                        <span>first seen {formatRelative(issue.first_seen)}</span>
                      </div>
                    </li>
                  ))}
                </ul>
              )}
            </Card>
          </div>
        </div>
      )}
    </>
  );
}

export default function OverviewPage() {
  return (
    <Shell title="Overview">
      <Overview />
    </Shell>
  );
}
