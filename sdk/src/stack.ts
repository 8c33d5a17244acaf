/** Stack traces as LogSight frames, and the retry timing of the transport. */

export interface Frame {
  filename: string;
  function?: string;
  lineno: number;
  colno?: number;
  in_app: boolean;
}

// V8 (Chrome, Edge, Node): "    at fn (file:1:2)" or "    at file:1:2".
const V8 = /^\s*at (?:(.+?) \()?(.+?):(\d+):(\d+)\)?$/;
// SpiderMonkey (Firefox) and JavaScriptCore (Safari): "fn@file:1:2", "@file:1:2", "file:1:2".
const GECKO = /^\s*(?:(.*?)@)?(.+?):(\d+)(?::(\d+))?$/;
// Code the application does not own: extensions, bundled dependencies, eval and engine internals.
const VENDOR = /node_modules|extension:|^[[<]|^native/;
const MAX_FRAMES = 50;

/** Frames oldest call first and the crash site last, as Sentry and LogSight's grouping expect. */
export function parseStack(stack: unknown): Frame[] {
  const text = typeof stack == "string" ? stack : "";
  // Only V8 prefixes frames with "at"; its first lines are the message, which must not be
  // mistaken for a frame by the looser Gecko pattern.
  const v8 = /^\s*at /m.test(text);
  const frames: Frame[] = [];
  for (const line of text.split("\n")) {
    const m = (v8 ? V8 : GECKO).exec(line);
    if (m && frames.length < MAX_FRAMES) {
      const file = m[2]!;
      const fn = m[1] && m[1].replace(/^async\*/, "");
      frames.push({
        filename: file,
        function: fn || undefined,
        lineno: +m[3]!,
        colno: m[4] ? +m[4] : undefined,
        in_app: !VENDOR.test(file),
      });
    }
  }
  return frames.reverse();
}

const MAX_BACKOFF = 30_000;

/** Exponential backoff with "equal jitter": between half and all of 1 s × 2^attempt, ≤ 30 s. */
export const backoff = (attempt: number, random = Math.random()): number =>
  Math.min(MAX_BACKOFF, 1000 * 2 ** attempt) * (0.5 + random / 2);

// A monthly quota may ask to wait weeks: past 2^31 - 1 ms (about 24.8 days) setTimeout fires at
// once, and a quota raised meanwhile should not be waited out; ask again within the hour.
const MAX_WAIT = 3_600_000;

/** Retry-After in seconds or as an HTTP date (at most an hour); the backoff when absent. */
export function retryDelay(header: string | null, attempt: number, random?: number): number {
  if (header) {
    const seconds = +header;
    if (seconds >= 0) return Math.min(seconds * 1000, MAX_WAIT);
    const date = Date.parse(header);
    if (date) return Math.min(Math.max(0, date - Date.now()), MAX_WAIT);
  }
  return backoff(attempt, random);
}
