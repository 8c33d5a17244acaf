"use client";
import Link from "next/link";
import { usePathname, useRouter, useSearchParams } from "next/navigation";
import { useCallback, useState } from "react";
import { api, errorMessage, type Schemas } from "@/api/client";
import { Shell, useShell } from "@/components/Shell";
import { Badge, Card, Empty, ErrorNote, Spinner } from "@/components/ui";
import { formatNumber, formatRelative } from "@/lib/format";
import { unwrap, usePolling } from "@/lib/usePolling";

type Issue = Schemas["IssuePublic"];
const STATUSES = ["unresolved", "resolved", "ignored"] as const;
const SORTS = { last_seen: "Last seen", first_seen: "First seen", events: "Events", users: "Users" } as const;
type Sort = keyof typeof SORTS;

function IssueList() {
  const { project, link } = useShell();
  const params = useSearchParams();
  const router = useRouter();
  const pathname = usePathname();
  const status = (STATUSES as readonly string[]).includes(params.get("status") ?? "") ? (params.get("status") as Issue["status"]) : "unresolved";
  const sort: Sort = (params.get("sort") ?? "") in SORTS ? (params.get("sort") as Sort) : "last_seen";
  const text = params.get("q") ?? "";
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [notice, setNotice] = useState<string | null>(null);

  const setParam = (key: string, value: string | undefined) => {
    const next = new URLSearchParams(params);
    if (value) next.set(key, value);
    else next.delete(key);
    setSelected(new Set());
    router.replace(`${pathname}?${next.toString()}`);
  };

  const { data, error, loading, reload } = usePolling(
    useCallback(
      async (signal: AbortSignal) =>
        unwrap(
          await api.GET("/api/projects/{project_id}/issues", {
            params: { path: { project_id: project.id }, query: { status, sort, query: text || undefined, limit: 100 } },
            signal,
          }),
        ).data,
      [project.id, status, sort, text],
    ),
    `${project.id}|${status}|${sort}|${text}`,
    10_000,
  );

  async function bulk(to: Issue["status"]) {
    const ids = [...selected];
    const result = await api.POST("/api/projects/{project_id}/issues/bulk", {
      params: { path: { project_id: project.id } },
      body: { ids, status: to },
    });
    if (result.error) setNotice(errorMessage(result.error));
    else setNotice(`${result.data.updated} issue${result.data.updated === 1 ? "" : "s"} marked ${to}.`);
    setSelected(new Set());
    reload();
  }

  const issues = data ?? [];
  const allSelected = issues.length > 0 && issues.every((i) => selected.has(i.id));
  return (
    <Card>
      <div className="mb-3 flex flex-wrap items-end gap-3">
        <div role="tablist" aria-label="Status" className="flex gap-1">
          {STATUSES.map((s) => (
            <button key={s} type="button" role="tab" aria-selected={status === s} className={`btn capitalize ${status === s ? "btn-primary" : ""}`} onClick={() => setParam("status", s === "unresolved" ? undefined : s)}>
              {s}
            </button>
          ))}
        </div>
        <div>
          <label htmlFor="issue-sort" className="label">Sort by</label>
          <select id="issue-sort" className="input w-auto" value={sort} onChange={(e) => setParam("sort", e.target.value === "last_seen" ? undefined : e.target.value)}>
            {Object.entries(SORTS).map(([k, v]) => (
              <option key={k} value={k}>{v}</option>
            ))}
          </select>
        </div>
        <form
          role="search"
          className="min-w-[10rem] flex-1"
          onSubmit={(e) => {
            e.preventDefault();
            setParam("q", String(new FormData(e.currentTarget).get("q") ?? "").trim() || undefined);
          }}
        >
          <label htmlFor="issue-q" className="label">Search title or culprit</label>
          <input id="issue-q" name="q" type="search" className="input" defaultValue={text} key={text} />
        </form>
      </div>
      <div className="mb-2 flex flex-wrap items-center gap-2" aria-label="Bulk actions" role="toolbar">
        <span className="text-sm text-slate-600 dark:text-slate-300">{selected.size} selected</span>
        {status !== "resolved" && (
          <button type="button" className="btn" disabled={selected.size === 0} onClick={() => void bulk("resolved")}>
            Resolve
          </button>
        )}
        {status !== "ignored" && (
          <button type="button" className="btn" disabled={selected.size === 0} onClick={() => void bulk("ignored")}>
            Ignore
          </button>
        )}
        {status !== "unresolved" && (
          <button type="button" className="btn" disabled={selected.size === 0} onClick={() => void bulk("unresolved")}>
            Reopen
          </button>
        )}
        {notice && <span role="status" className="text-sm">{notice}</span>}
      </div>
      {error !== undefined && <ErrorNote error={error} onRetry={reload} />}
      {loading && !data && <Spinner />}
      {data && issues.length === 0 && <Empty>No {status} issues.</Empty>}
      {issues.length > 0 && (
        <div className="overflow-x-auto">
          <table className="w-full text-sm">
            <thead>
              <tr className="text-left text-xs text-slate-600 dark:text-slate-300">
                <th className="table-cell w-8">
                  <input
                    type="checkbox"
                    aria-label="Select all issues"
                    checked={allSelected}
                    onChange={() => setSelected(allSelected ? new Set() : new Set(issues.map((i) => i.id)))}
                  />
                </th>
                <th className="table-cell">Issue</th>
                <th className="table-cell text-right">Events</th>
                <th className="table-cell text-right">Users</th>
                <th className="table-cell hidden sm:table-cell">Last seen</th>
              </tr>
            </thead>
            <tbody>
              {issues.map((issue) => (
                <tr key={issue.id} className="border-t border-slate-100 dark:border-slate-800">
                  <td className="table-cell">
                    <input
                      type="checkbox"
                      aria-label={`Select ${issue.title}`}
                      checked={selected.has(issue.id)}
                      onChange={() => {
                        const next = new Set(selected);
                        if (next.has(issue.id)) next.delete(issue.id);
                        else next.add(issue.id);
                        setSelected(next);
                      }}
                    />
                  </td>
                  <td className="table-cell">
                    <Link href={link("/issue/", { id: issue.id })} className="font-medium hover:underline">
                      {issue.title}
                    </Link>
                    <div className="flex flex-wrap items-center gap-2 text-xs text-slate-600 dark:text-slate-300">
                      <Badge tone={issue.level}>{issue.level}</Badge>
                      {issue.regressed && <Badge tone="fatal">regressed</Badge>}
                      {issue.culprit && <span className="break-all font-mono">{issue.culprit}</span>}
                      <span>first seen {formatRelative(issue.first_seen)}</span>
                    </div>
                  </td>
                  <td className="table-cell text-right tabular-nums">{formatNumber(issue.events)}</td>
                  <td className="table-cell text-right tabular-nums">{formatNumber(issue.users)}</td>
                  <td className="table-cell hidden whitespace-nowrap sm:table-cell">{formatRelative(issue.last_seen)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Card>
  );
}

export default function IssuesPage() {
  return (
    <Shell title="Issues">
      <IssueList />
    </Shell>
  );
}
