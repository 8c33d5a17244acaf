"use client";
import { useCallback, useMemo, useState } from "react";
import { api, type Schemas } from "@/api/client";
import LazyTimeChart from "@/components/charts/LazyTimeChart";
import { Shell, useShell, useTimeZone } from "@/components/Shell";
import { Card, Empty, ErrorNote, Spinner, Stat } from "@/components/ui";
import { formatNumber, formatRelative } from "@/lib/format";
import { mergeSeries } from "@/lib/series";
import { resolveRange, RANGE_LABELS, type RangeKey } from "@/lib/urlState";
import { unwrap, usePolling } from "@/lib/usePolling";

const RANGES: RangeKey[] = ["1h", "24h", "7d"];
const OUTCOME_LABELS: Record<string, string> = {
  rate_limited: "Refused by a quota (429)",
  client_discarded: "Dropped by the client",
  skipped: "Accepted, not stored",
  invalid: "Invalid",
};

interface Health {
  summary: Schemas["SummaryPublic"];
  series: Schemas["TimeseriesPublic"];
  outcomes: Schemas["OutcomesPublic"];
}

/** Where to look first when events do not show up: what was stored, refused, dropped, dead-lettered. */
function IngestHealth() {
  const { project } = useShell();
  const timeZone = useTimeZone();
  const [range, setRange] = useState<RangeKey>("24h");

  const health = usePolling(
    useCallback(
      async (signal: AbortSignal): Promise<Health> => {
        const { from, to } = resolveRange({ range }, Date.now());
        const path = { project_id: project.id };
        const query = { from, to, tz: timeZone };
        const [summary, series, outcomes] = await Promise.all([
          api.GET("/api/projects/{project_id}/stats/summary", { params: { path, query }, signal }),
          api.GET("/api/projects/{project_id}/stats/timeseries", { params: { path, query }, signal }),
          api.GET("/api/projects/{project_id}/stats/outcomes", { params: { path, query }, signal }),
        ]);
        return { summary: unwrap(summary), series: unwrap(series), outcomes: unwrap(outcomes) };
      },
      [project.id, range, timeZone],
    ),
    `${project.id}|${range}|${timeZone}`,
    10_000,
  );

  // Admins only: anyone else gets the API's refusal, shown as such rather than as a failure.
  const letters = usePolling(
    useCallback(
      async (signal: AbortSignal) => {
        const result = await api.GET("/api/projects/{project_id}/dead-letters", {
          params: { path: { project_id: project.id }, query: { limit: 50 } },
          signal,
        });
        if (result.response.status === 403) return null;
        return unwrap(result).data;
      },
      [project.id],
    ),
    project.id,
    30_000,
  );

  const rows = useMemo(
    () => (health.data ? mergeSeries(health.data.series.buckets, { accepted: health.data.series.series }) : []),
    [health.data],
  );
  const refused = health.data?.outcomes.data.reduce((sum, o) => sum + o.quantity, 0) ?? 0;
  const rateLimited = health.data?.outcomes.data.filter((o) => o.outcome === "rate_limited").reduce((sum, o) => sum + o.quantity, 0) ?? 0;

  return (
    <div className="space-y-4">
      <div className="flex flex-wrap gap-1" role="group" aria-label="Range">
        {RANGES.map((r) => (
          <button key={r} type="button" aria-pressed={range === r} className={`btn ${range === r ? "btn-primary" : ""}`} onClick={() => setRange(r)}>
            {RANGE_LABELS[r]}
          </button>
        ))}
      </div>
      {health.error !== undefined && <ErrorNote error={health.error} onRetry={health.reload} />}
      {!health.data && health.loading && <Spinner />}
      {health.data && (
        <>
          <div className="grid grid-cols-2 gap-3 lg:grid-cols-4">
            <Stat label="Stored" value={formatNumber(health.data.summary.events)} />
            <Stat label="Not stored" value={formatNumber(refused)} hint="refused, dropped or invalid" />
            <Stat label="Rate-limited" value={formatNumber(rateLimited)} />
            <Stat label="Dead letters" value={letters.data === null ? "–" : formatNumber(letters.data?.length ?? 0)} hint={letters.data === null ? "admins only" : "latest 50"} />
          </div>
          <Card title="Events stored over time">
            <LazyTimeChart rows={rows} bucket={health.data.series.bucket} timeZone={timeZone} kind="bar" height={180} series={[{ key: "accepted", label: "Stored", color: "#16a34a" }]} />
          </Card>
          <Card title="Not stored, by reason">
            {health.data.outcomes.data.length === 0 ? (
              <Empty>Nothing was refused or dropped in this range.</Empty>
            ) : (
              <table className="w-full text-sm">
                <thead>
                  <tr className="text-left text-xs text-slate-600 dark:text-slate-300">
                    <th className="table-cell">Outcome</th>
                    <th className="table-cell">Category</th>
                    <th className="table-cell">Reason</th>
                    <th className="table-cell text-right">Count</th>
                  </tr>
                </thead>
                <tbody>
                  {health.data.outcomes.data.map((o) => (
                    <tr key={`${o.outcome}|${o.category}|${o.reason}`} className="border-t border-slate-100 dark:border-slate-800">
                      <td className="table-cell">{OUTCOME_LABELS[o.outcome] ?? o.outcome}</td>
                      <td className="table-cell">{o.category}</td>
                      <td className="table-cell break-all font-mono text-xs">{o.reason || "–"}</td>
                      <td className="table-cell text-right tabular-nums">{formatNumber(o.quantity)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </Card>
        </>
      )}
      <Card title="Dead letters">
        {letters.error !== undefined && <ErrorNote error={letters.error} onRetry={letters.reload} />}
        {letters.data === null && <Empty>Only the project&apos;s admins see dead letters.</Empty>}
        {letters.data && letters.data.length === 0 && <Empty>No dead letters: every message could be processed.</Empty>}
        {letters.data && letters.data.length > 0 && (
          <ul className="space-y-2 text-sm">
            {letters.data.map((d) => (
              <li key={d.id} className="border-t border-slate-100 pt-2 dark:border-slate-800">
                <div className="flex flex-wrap gap-2">
                  <span className="font-semibold">{d.reason}</span>
                  <span className="text-slate-600 dark:text-slate-300">{formatRelative(d.created_at)}</span>
                  <span className="text-slate-600 dark:text-slate-300">{formatNumber(d.size)} bytes</span>
                  <span className="text-slate-600 dark:text-slate-300">{d.replayed_at ? `replayed ${formatRelative(d.replayed_at)}` : d.redrive}</span>
                </div>
                {d.preview && <pre className="mt-1 overflow-x-auto rounded bg-slate-100 p-2 font-mono text-xs dark:bg-slate-950">{d.preview}</pre>}
              </li>
            ))}
          </ul>
        )}
      </Card>
    </div>
  );
}

export default function IngestPage() {
  return (
    <Shell title="Ingest health">
      <IngestHealth />
    </Shell>
  );
}
