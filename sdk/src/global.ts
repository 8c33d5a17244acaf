/**
 * The script-tag build: `window.LogSight`, and `window.logsight` when the tag carries data-key:
 *   <script src="https://logsight.example.com/sdk/logsight.js" data-key="lsk_…"></script>
 * data-host defaults to the origin the script came from, which serves /v1/events too.
 */
import { LogSight } from "./index";

const w = window as unknown as { LogSight: typeof LogSight; logsight?: LogSight };
w.LogSight = LogSight;
try {
  const script = document.currentScript as HTMLScriptElement | null;
  const data = script?.dataset;
  if (data?.key) {
    w.logsight = new LogSight(data.key, {
      host: data.host || new URL(script!.src).origin,
      release: data.release,
      environment: data.environment,
      anonymousId: data.anonymousId == "true",
    });
  }
} catch {
  // Never break the page that included us.
}
