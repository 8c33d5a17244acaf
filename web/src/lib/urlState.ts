/**
 * The overview's state (range, filters, time zone) lives in the URL, so a view can be
 * bookmarked, shared and reloaded. Parsing is lenient: anything invalid falls back to the
 * default instead of breaking the page.
 */

export const RANGES = ["15m", "1h", "24h", "7d", "30d", "custom"] as const;
export type RangeKey = (typeof RANGES)[number];

const RANGE_MS: Record<Exclude<RangeKey, "custom">, number> = {
  "15m": 15 * 60_000,
  "1h": 3_600_000,
  "24h": 86_400_000,
  "7d": 7 * 86_400_000,
  "30d": 30 * 86_400_000,
};

export const RANGE_LABELS: Record<RangeKey, string> = {
  "15m": "15 min",
  "1h": "1 hour",
  "24h": "24 hours",
  "7d": "7 days",
  "30d": "30 days",
  custom: "Custom",
};

export interface ViewState {
  range: RangeKey;
  /** ISO instants, only with range=custom. */
  from?: string;
  to?: string;
  environment?: string;
  release?: string;
  /** IANA name; absent means the browser's. */
  tz?: string;
}

export const DEFAULT_VIEW: ViewState = { range: "24h" };

function validInstant(value: string | null): string | undefined {
  if (!value) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

function text(value: string | null, max = 200): string | undefined {
  const trimmed = value?.trim();
  return trimmed ? trimmed.slice(0, max) : undefined;
}

export function parseView(params: URLSearchParams, isZone: (name: string) => boolean): ViewState {
  const raw = params.get("range");
  const range = (RANGES as readonly string[]).includes(raw ?? "") ? (raw as RangeKey) : DEFAULT_VIEW.range;
  const view: ViewState = { range };
  if (range === "custom") {
    const from = validInstant(params.get("from"));
    const to = validInstant(params.get("to"));
    if (!from || !to || Date.parse(to) <= Date.parse(from)) return { ...DEFAULT_VIEW };
    view.from = from;
    view.to = to;
  }
  const environment = text(params.get("environment"));
  const release = text(params.get("release"));
  const tz = text(params.get("tz"), 64);
  if (environment) view.environment = environment;
  if (release) view.release = release;
  if (tz && isZone(tz)) view.tz = tz;
  return view;
}

/** The query string for a view, keeping other parameters (the project) and dropping defaults. */
export function serializeView(view: ViewState, keep: URLSearchParams = new URLSearchParams()): string {
  const params = new URLSearchParams(keep);
  for (const key of ["range", "from", "to", "environment", "release", "tz"]) params.delete(key);
  if (view.range !== DEFAULT_VIEW.range) params.set("range", view.range);
  if (view.range === "custom" && view.from && view.to) {
    params.set("from", view.from);
    params.set("to", view.to);
  }
  if (view.environment) params.set("environment", view.environment);
  if (view.release) params.set("release", view.release);
  if (view.tz) params.set("tz", view.tz);
  return params.toString();
}

/** The [from, to) the view covers at `now`: a rolling window, or the custom one. */
export function resolveRange(view: ViewState, now: number): { from: string; to: string } {
  if (view.range === "custom" && view.from && view.to) return { from: view.from, to: view.to };
  const span = RANGE_MS[view.range === "custom" ? "24h" : view.range];
  return { from: new Date(now - span).toISOString(), to: new Date(now).toISOString() };
}
