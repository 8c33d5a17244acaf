/** Numbers, durations and times as people read them; every function is pure (unit-tested). */

const compact = new Intl.NumberFormat("en", { notation: "compact", maximumFractionDigits: 1 });
const whole = new Intl.NumberFormat("en");

/** 950 → "950", 1234 → "1.2K", 5_600_000 → "5.6M"; below 10,000 the exact figure. */
export function formatNumber(value: number | null | undefined): string {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  return Math.abs(value) < 10_000 ? whole.format(value) : compact.format(value);
}

/** A ratio (0.0123) as a percentage ("1.23%"); two significant digits below 1%. */
export function formatPercent(ratio: number | null | undefined): string {
  if (ratio === null || ratio === undefined || Number.isNaN(ratio)) return "–";
  const percent = ratio * 100;
  if (percent === 0) return "0%";
  const digits = Math.abs(percent) < 1 ? 2 : 1;
  return `${Number(percent.toFixed(digits))}%`;
}

/** A relative change (0.25) as "+25%"; null when there was nothing to compare with. */
export function formatChange(ratio: number | null | undefined): string | null {
  if (ratio === null || ratio === undefined || !Number.isFinite(ratio)) return null;
  const percent = Math.round(ratio * 100);
  return `${percent > 0 ? "+" : ""}${percent}%`;
}

/** Milliseconds as the one or two largest units: "850 ms", "4.2 s", "3 min 5 s", "2 h 10 min", "3 d 4 h". */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return "–";
  const sign = ms < 0 ? "-" : "";
  const abs = Math.abs(ms);
  if (abs < 1000) return `${sign}${Math.round(abs)} ms`;
  if (abs < 60_000) return `${sign}${Number((abs / 1000).toFixed(abs < 10_000 ? 1 : 0))} s`;
  const units: [string, number][] = [
    ["d", 86_400_000],
    ["h", 3_600_000],
    ["min", 60_000],
    ["s", 1000],
  ];
  const rest = Math.floor(abs / 1000) * 1000;
  const first = units.findIndex(([, size]) => rest >= size);
  const [name, size] = units[first] ?? ["s", 1000];
  const count = Math.floor(rest / size);
  const parts = [`${count} ${name}`];
  const next = units[first + 1];
  if (next) {
    const remainder = Math.floor((rest - count * size) / next[1]);
    if (remainder > 0) parts.push(`${remainder} ${next[0]}`);
  }
  return sign + parts.join(" ");
}

/** "3 min ago" / "in 2 h" from two instants. */
export function formatRelative(iso: string, now: number = Date.now()): string {
  const delta = now - Date.parse(iso);
  if (Math.abs(delta) < 5000) return "just now";
  const text = formatDuration(Math.abs(delta)).split(" ").slice(0, 2).join(" ");
  return delta >= 0 ? `${text} ago` : `in ${text}`;
}

/** An instant in a time zone: "2026-03-29 02:30:00" style, 24 h, the zone's own wall clock. */
export function formatTime(
  iso: string,
  timeZone: string,
  precision: "second" | "minute" | "day" = "second",
): string {
  const options: Intl.DateTimeFormatOptions = {
    timeZone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hourCycle: "h23",
  };
  if (precision !== "day") {
    options.hour = "2-digit";
    options.minute = "2-digit";
  }
  if (precision === "second") options.second = "2-digit";
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat("en-CA", options).formatToParts(new Date(iso)).map((p) => [p.type, p.value]),
  );
  const date = `${parts.year}-${parts.month}-${parts.day}`;
  if (precision === "day") return date;
  const time = `${parts.hour}:${parts.minute}${precision === "second" ? `:${parts.second}` : ""}`;
  return `${date} ${time}`;
}

/** The label of a chart bucket: the time of day for short ranges, the date for day buckets. */
export function formatBucket(iso: string, bucket: string, timeZone: string): string {
  const full = formatTime(iso, timeZone, bucket === "1d" ? "day" : "minute");
  return bucket === "1d" ? full.slice(5) : full.slice(11);
}

/** The browser's time zone (an IANA name), UTC when it cannot tell. */
export function localTimeZone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  } catch {
    return "UTC";
  }
}

export function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat("en", { timeZone: name });
    return true;
  } catch {
    return false;
  }
}
