"use client";
import Link from "next/link";
import { useSearchParams } from "next/navigation";
import { useCallback, useMemo, useState } from "react";
import { api, errorMessage, type Schemas } from "@/api/client";
import { IssueImpact } from "@/components/IssueImpact";
import { Fields } from "@/components/JsonBlock";
import { Shell, useShell, useTimeZone } from "@/components/Shell";
import LazyTimeChart from "@/components/charts/LazyTimeChart";
import { Badge, Card, Empty, ErrorNote, Spinner } from "@/components/ui";
import { formatNumber, formatRelative, formatTime } from "@/lib/format";
import { unwrap, usePolling } from "@/lib/usePolling";

type Detail = Schemas["IssueDetail"];
type Frame = Schemas["StackFrame"];

function FrameView({ frame, open }: { frame: Frame; open: boolean }) {
  const where = [frame.filename ?? frame.abs_path ?? frame.module ?? "?", frame.lineno, frame.colno].filter((v) => v !== null && v !== undefined).join(":");
  return (
    <li className={`rounded border ${frame.in_app ? "border-indigo-300 bg-indigo-50 dark:border-indigo-700 dark:bg-indigo-950" : "border-slate-200 dark:border-slate-700"}`} data-in-app={frame.in_app}>
      <details open={open}>
        <summary className="cursor-pointer px-2 py-1 font-mono text-xs">
          <span className="font-semibold">{frame.function ?? "<anonymous>"}</span> <span className="text-slate-600 dark:text-slate-300">{where}</span>
          {frame.in_app && <span className="ml-2"><Badge tone="info">in app</Badge></span>}
        </summary>
        {(frame.context_line || frame.vars) && (
          <div className="border-t border-slate-200 px-2 py-1 dark:border-slate-700">
            {frame.context_line && (
              <pre className="overflow-x-auto font-mono text-xs">
                {frame.pre_context?.map((l, i) => <div key={`pre${i}`} className="text-slate-600 dark:text-slate-300">{l}</div>)}
                <div className="bg-amber-100 dark:bg-amber-900">{frame.context_line}</div>
                {frame.post_context?.map((l, i) => <div key={`post${i}`} className="text-slate-600 dark:text-slate-300">{l}</div>)}
              </pre>
            )}
            {frame.vars && (
              <div className="mt-2">
                <h4 className="text-xs font-semibold">Local variables</h4>
                <Fields label="Local variables" value={frame.vars} />
              </div>
            )}
          </div>
        )}
      </details>
    </li>
  );
}

function IssueView({ id }: { id: string }) {
  const { project, link } = useShell();
  const timeZone = useTimeZone();
  const [appOnly, setAppOnly] = useState(true);
  const [notice, setNotice] = useState<string | null>(null);
  const { data, error, loading, reload } = usePolling(
    useCallback(
      async (signal: AbortSignal) =>
        unwrap(await api.GET("/api/projects/{project_id}/issues/{issue_id}", { params: { path: { project_id: project.id, issue_id: id } }, signal })),
      [project.id, id],
    ),
    `${project.id}|${id}`,
    10_000,
  );
  const chart = useMemo(() => (data ? data.events_24h.map((p) => ({ bucket: p.bucket, events: p.events })) : []), [data]);

  async function setStatus(status: Detail["status"]) {
    const result = await api.PATCH("/api/projects/{project_id}/issues/{issue_id}", {
      params: { path: { project_id: project.id, issue_id: id } },
      body: { status },
    });
    setNotice(result.error ? errorMessage(result.error) : `Marked ${status}.`);
    reload();
  }

  if (error !== undefined && !data) return <ErrorNote error={error} onRetry={reload} />;
  if (loading && !data) return <Spinner />;
  if (!data) return null;
  const anyInApp = data.exceptions.some((e) => (e.frames ?? []).some((f) => f.in_app));
  return (
    <div className="space-y-4">
      <Card>
        <div className="flex flex-wrap items-start justify-between gap-3">
          <div className="min-w-0">
            <h2 className="break-words text-lg font-semibold">{data.title}</h2>
            {data.culprit && <p className="break-all font-mono text-xs text-slate-600 dark:text-slate-300">{data.culprit}</p>}
            <p className="mt-2 flex flex-wrap items-center gap-2 text-xs text-slate-600 dark:text-slate-300">
              <Badge tone={data.level}>{data.level}</Badge>
              <span data-issue-status={data.status} className="font-semibold capitalize">{data.status}</span>
              {data.regressed && <Badge tone="fatal">regressed {data.regressed_at ? formatRelative(data.regressed_at) : ""}</Badge>}
              <span>{formatNumber(data.events)} events</span>
              <span>{formatNumber(data.users)} users</span>
              <span>first seen {formatRelative(data.first_seen)}</span>
              <span>last seen {formatRelative(data.last_seen)}</span>
              {data.first_release && <span>since {data.first_release}</span>}
            </p>
          </div>
          <div className="flex flex-wrap gap-2" role="group" aria-label="Status">
            {data.status !== "resolved" && <button type="button" className="btn btn-primary" onClick={() => void setStatus("resolved")}>Resolve</button>}
            {data.status !== "ignored" && <button type="button" className="btn" onClick={() => void setStatus("ignored")}>Ignore</button>}
            {data.status !== "unresolved" && <button type="button" className="btn" onClick={() => void setStatus("unresolved")}>Reopen</button>}
          </div>
        </div>
        {notice && <p role="status" className="mt-2 text-sm">{notice}</p>}
      </Card>
      <div className="grid gap-4 lg:grid-cols-3">
        <Card title="Events, last 24 hours" className="lg:col-span-2">
          <LazyTimeChart rows={chart} bucket="1h" timeZone={timeZone} kind="bar" height={160} series={[{ key: "events", label: "Events", color: "#dc2626" }]} />
        </Card>
        <Card title="Tags">
          {data.tags.length === 0 ? (
            <Empty>No tags.</Empty>
          ) : (
            <div className="space-y-3">
              {data.tags.slice(0, 8).map((tag) => (
                <div key={tag.key}>
                  <h3 className="text-xs font-semibold">{tag.key}</h3>
                  <ul>
                    {tag.values.slice(0, 4).map((v) => (
                      <li key={v.value} className="relative my-0.5 overflow-hidden rounded bg-slate-100 px-2 text-xs dark:bg-slate-800">
                        <span className="absolute inset-y-0 left-0 bg-indigo-200 dark:bg-indigo-800" style={{ width: `${(v.count / Math.max(1, tag.total)) * 100}%` }} aria-hidden="true" />
                        <span className="relative flex justify-between gap-2">
                          <span className="truncate">{v.value}</span>
                          <span className="tabular-nums">{Math.round((v.count / Math.max(1, tag.total)) * 100)}%</span>
                        </span>
                      </li>
                    ))}
                  </ul>
                </div>
              ))}
            </div>
          )}
        </Card>
      </div>
      <IssueImpact projectId={project.id} issueId={id} />
      <Card
        title="Stack trace"
        actions={
          anyInApp && (
            <label className="flex items-center gap-2 text-sm">
              <input type="checkbox" checked={appOnly} onChange={(e) => setAppOnly(e.target.checked)} /> Only in-app frames
            </label>
          )
        }
      >
        {data.exceptions.length === 0 ? (
          <Empty>The latest event has no stack trace.</Empty>
        ) : (
          <div className="space-y-4">
            {[...data.exceptions].reverse().map((exc, i) => {
              // The crash site first, as people read a trace.
              const frames = [...(exc.frames ?? [])].reverse().filter((f) => !appOnly || !anyInApp || f.in_app);
              return (
                <div key={i}>
                  <h3 className="break-words font-mono text-sm">
                    <span className="font-semibold">{exc.type}</span>: {exc.value}
                  </h3>
                  <ol className="mt-2 space-y-1">
                    {frames.map((f, j) => <FrameView key={j} frame={f} open={j === 0} />)}
                  </ol>
                </div>
              );
            })}
          </div>
        )}
      </Card>
      <Card title="Breadcrumbs">
        {data.breadcrumbs.length === 0 ? (
          <Empty>No breadcrumbs.</Empty>
        ) : (
          <ol className="space-y-1 text-xs">
            {data.breadcrumbs.map((b, i) => {
              const crumb = b as { timestamp?: string | number; category?: string; message?: string; level?: string; type?: string; data?: unknown };
              const when = typeof crumb.timestamp === "number" ? new Date(crumb.timestamp * 1000).toISOString() : crumb.timestamp;
              return (
                <li key={i} className="flex flex-wrap gap-2 border-t border-slate-100 pt-1 dark:border-slate-800">
                  <span className="w-20 font-mono text-slate-600 dark:text-slate-300">{when ? formatTime(when, timeZone).slice(11) : ""}</span>
                  <span className="font-semibold">{crumb.category ?? crumb.type ?? "log"}</span>
                  <span className="min-w-0 flex-1 break-words">{crumb.message ?? (crumb.data ? JSON.stringify(crumb.data) : "")}</span>
                </li>
              );
            })}
          </ol>
        )}
      </Card>
      {data.latest_event && (
        <p className="text-sm">
          <Link className="text-indigo-700 hover:underline dark:text-indigo-300" href={link("/events/", { event: data.latest_event.id, ts: data.latest_event.timestamp })}>
            Latest event in full
          </Link>
        </p>
      )}
    </div>
  );
}

function IssuePageInner() {
  const id = useSearchParams().get("id");
  return id ? <IssueView id={id} /> : <ErrorNote error={new Error("No issue given: open one from the issue list.")} />;
}

export default function IssuePage() {
  return (
    <Shell title="Issue">
      <IssuePageInner />
    </Shell>
  );
}
