"use client";
import { useCallback, useState, type FormEvent } from "react";
import { api } from "@/api/client";
import { Card, ErrorNote, Spinner } from "./ui";
import { formatNumber, formatPercent } from "@/lib/format";
import { unwrap, usePolling } from "@/lib/usePolling";

/**
 * What an error costs the product: users and sessions that met it, and for a chosen event
 * (say checkout_completed) the share of sessions reaching it with the error and without.
 */
export function IssueImpact({ projectId, issueId }: { projectId: string; issueId: string }) {
  const [event, setEvent] = useState("");
  const { data, error, loading, reload } = usePolling(
    useCallback(
      async (signal: AbortSignal) =>
        unwrap(
          await api.GET("/api/projects/{project_id}/issues/{issue_id}/impact", {
            params: { path: { project_id: projectId, issue_id: issueId }, query: { event: event || undefined } },
            signal,
          }),
        ),
      [projectId, issueId, event],
    ),
    `${projectId}|${issueId}|${event}`,
    30_000,
  );

  function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    setEvent(String(new FormData(e.currentTarget).get("event") ?? "").trim());
  }

  return (
    <Card title="Impact">
      {error !== undefined && <ErrorNote error={error} onRetry={reload} />}
      {loading && !data && <Spinner />}
      {data && (
        <div className="space-y-3 text-sm">
          <p data-impact>
            <strong>{formatNumber(data.users)}</strong> of {formatNumber(data.active_users)} active users and{" "}
            <strong>{formatNumber(data.sessions)}</strong> of {formatNumber(data.active_sessions)} sessions met this error.
          </p>
          <form onSubmit={submit} className="flex flex-wrap items-end gap-2">
            <div className="min-w-[10rem] flex-1">
              <label htmlFor="impact-event" className="label">Sessions reaching the event</label>
              <input id="impact-event" name="event" className="input" placeholder="checkout_completed" defaultValue={event} />
            </div>
            <button type="submit" className="btn">Compare</button>
          </form>
          {data.reach && (
            <p>
              {formatPercent(data.reach.with_error.share)} of sessions with the error reached <code>{data.reach.event}</code>,{" "}
              {formatPercent(data.reach.without_error.share)} without it
              {data.reach.difference !== null && ` (${data.reach.difference > 0 ? "+" : ""}${Math.round(data.reach.difference * 100)} points)`}.
            </p>
          )}
        </div>
      )}
    </Card>
  );
}
