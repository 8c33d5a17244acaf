"use client";
import { useRouter } from "next/navigation";
import { useCallback, useEffect, useRef, useState, type FormEvent } from "react";
import { api, errorMessage } from "@/api/client";
import { Shell, useShell } from "@/components/Shell";
import { Card, ErrorNote, Spinner } from "@/components/ui";
import { unwrap, usePolling } from "@/lib/usePolling";

function Snippet({ label, code }: { label: string; code: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <div>
      <div className="mb-1 flex items-center justify-between">
        <h3 className="text-sm font-semibold">{label}</h3>
        <button
          type="button"
          className="btn"
          onClick={() => void navigator.clipboard.writeText(code).then(() => setCopied(true), () => setCopied(false))}
          aria-label={`Copy ${label}`}
        >
          {copied ? "Copied" : "Copy"}
        </button>
      </div>
      <pre tabIndex={0} aria-label={label} className="overflow-x-auto rounded-md bg-slate-100 p-3 font-mono text-xs dark:bg-slate-950">{code}</pre>
    </div>
  );
}

/** Getting data in: a project, the snippet, the npm usage, the DSN, and a test event watched arriving. */
function Setup() {
  const { project, me, link } = useShell();
  const router = useRouter();
  const [error, setError] = useState<string | null>(null);
  const [sent, setSent] = useState<"no" | "sending" | "sent">("no");
  const [arrived, setArrived] = useState(false);
  const cursor = useRef<string | undefined>(undefined);
  const origin = typeof location === "undefined" ? "" : location.origin;

  const keys = usePolling(
    useCallback(
      async (signal: AbortSignal) =>
        unwrap(await api.GET("/api/projects/{project_id}/keys", { params: { path: { project_id: project.id } }, signal })).data,
      [project.id],
    ),
    project.id,
    null,
  );
  const key = keys.data?.find((k) => k.active)?.public_key;

  // The live check: from the moment the page opened, wait for the test event.
  useEffect(() => {
    if (sent !== "sent" || arrived) return;
    const timer = setInterval(async () => {
      const result = await api.GET("/api/projects/{project_id}/live", {
        params: { path: { project_id: project.id }, query: { cursor: cursor.current, limit: 50 } },
      });
      if (!result.data) return;
      cursor.current = result.data.cursor;
      if (result.data.events.some((e) => e.name === "logsight_test_event")) setArrived(true);
    }, 1000);
    return () => clearInterval(timer);
  }, [sent, arrived, project.id]);

  async function sendTest() {
    if (!key) return;
    setSent("sending");
    setArrived(false);
    setError(null);
    // Start the live window before sending so the event cannot fall before it.
    const start = await api.GET("/api/projects/{project_id}/live", { params: { path: { project_id: project.id }, query: { limit: 0 } } });
    cursor.current = start.data?.cursor;
    const response = await fetch("/v1/events", {
      method: "POST",
      headers: { "content-type": "application/json", "x-logsight-key": key },
      body: JSON.stringify({ name: "logsight_test_event", properties: { from: "dashboard setup" } }),
    });
    if (response.ok) setSent("sent");
    else {
      setSent("no");
      setError(`The test event was refused (${response.status}).`);
    }
  }

  async function createProject(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const result = await api.POST("/api/projects", {
      body: { organization_id: String(form.get("organization")), name: String(form.get("name")) },
    });
    if (result.error) setError(errorMessage(result.error));
    // A full load, so the project list includes the new one.
    else location.assign(`/setup/?project=${result.data.id}`);
  }

  return (
    <div className="space-y-4">
      {error && <ErrorNote error={new Error(error)} />}
      <Card title={`Send events to ${project.name}`}>
        {keys.loading && !keys.data ? (
          <Spinner />
        ) : !key ? (
          <p className="text-sm">This project has no active ingest key: an admin can create one with the API (POST /api/projects/…/keys).</p>
        ) : (
          <div className="space-y-4">
            <Snippet label="Browser snippet" code={`<script src="${origin}/sdk/logsight.js" data-key="${key}"></script>`} />
            <Snippet
              label="npm"
              code={`// npm install logsight (sdk/ of this repository)\nimport { LogSight } from "logsight";\n\nconst logsight = new LogSight("${key}", { host: "${origin}" });\nlogsight.track("signup", { plan: "pro" });`}
            />
            {project.dsn && <Snippet label="Sentry DSN" code={project.dsn} />}
            <Snippet label="curl" code={`curl -X POST '${origin}/v1/events' -H 'Content-Type: application/json' -H 'X-LogSight-Key: ${key}' -d '{"name": "hello"}'`} />
            <div className="flex flex-wrap items-center gap-3">
              <button type="button" className="btn btn-primary" disabled={sent === "sending"} onClick={() => void sendTest()}>
                Send a test event
              </button>
              <p role="status" className="text-sm">
                {arrived ? (
                  <>
                    ✓ The test event arrived.{" "}
                    <button type="button" className="text-indigo-700 underline dark:text-indigo-300" onClick={() => router.push(link("/live/"))}>
                      Open the live stream
                    </button>
                  </>
                ) : sent === "sent" ? (
                  "Sent; waiting for it to arrive…"
                ) : (
                  ""
                )}
              </p>
            </div>
          </div>
        )}
      </Card>
      <Card title="New project">
        <form onSubmit={createProject} className="flex flex-wrap items-end gap-3">
          <div>
            <label htmlFor="new-org" className="label">Organization</label>
            <select id="new-org" name="organization" className="input w-auto" required>
              {me.organizations.map((o) => (
                <option key={o.id} value={o.id}>{o.name}</option>
              ))}
            </select>
          </div>
          <div className="min-w-[12rem] flex-1">
            <label htmlFor="new-name" className="label">Name</label>
            <input id="new-name" name="name" className="input" required maxLength={100} />
          </div>
          <button type="submit" className="btn">Create project</button>
        </form>
      </Card>
    </div>
  );
}

export default function SetupPage() {
  return (
    <Shell title="Get started">
      <Setup />
    </Shell>
  );
}
