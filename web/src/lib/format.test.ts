import { describe, expect, it } from "vitest";
import {
  formatBucket,
  formatChange,
  formatDuration,
  formatNumber,
  formatPercent,
  formatRelative,
  formatTime,
  isTimeZone,
} from "./format";

describe("formatNumber", () => {
  it("keeps small numbers exact and compacts large ones", () => {
    expect(formatNumber(0)).toBe("0");
    expect(formatNumber(9999)).toBe("9,999");
    expect(formatNumber(12_345)).toBe("12.3K");
    expect(formatNumber(5_600_000)).toBe("5.6M");
    expect(formatNumber(null)).toBe("–");
  });
});

describe("formatPercent and formatChange", () => {
  it("shows small rates with two decimals", () => {
    expect(formatPercent(0)).toBe("0%");
    expect(formatPercent(0.00123)).toBe("0.12%");
    expect(formatPercent(0.256)).toBe("25.6%");
    expect(formatPercent(null)).toBe("–");
  });
  it("signs changes and has none without a previous period", () => {
    expect(formatChange(0.25)).toBe("+25%");
    expect(formatChange(-0.5)).toBe("-50%");
    expect(formatChange(null)).toBeNull();
  });
});

describe("formatDuration", () => {
  it("uses the two largest units", () => {
    expect(formatDuration(850)).toBe("850 ms");
    expect(formatDuration(4200)).toBe("4.2 s");
    expect(formatDuration(42_000)).toBe("42 s");
    expect(formatDuration(185_000)).toBe("3 min 5 s");
    expect(formatDuration(3_600_000)).toBe("1 h");
    expect(formatDuration(7_800_000)).toBe("2 h 10 min");
    expect(formatDuration(3 * 86_400_000 + 4 * 3_600_000 + 59_000)).toBe("3 d 4 h");
    expect(formatDuration(-2000)).toBe("-2 s");
  });
  it("says how long ago", () => {
    const now = Date.parse("2026-01-01T12:00:00Z");
    expect(formatRelative("2026-01-01T11:57:00Z", now)).toBe("3 min ago");
    expect(formatRelative("2026-01-01T12:00:02Z", now)).toBe("just now");
  });
});

describe("time zones", () => {
  it("shows an instant on the zone's wall clock", () => {
    const iso = "2026-03-29T00:30:00Z";
    expect(formatTime(iso, "UTC")).toBe("2026-03-29 00:30:00");
    // Paris moves its clocks at 01:00 UTC that day: still winter time (UTC+1) here.
    expect(formatTime(iso, "Europe/Paris")).toBe("2026-03-29 01:30:00");
    expect(formatTime("2026-03-29T01:30:00Z", "Europe/Paris")).toBe("2026-03-29 03:30:00");
    expect(formatTime(iso, "America/New_York", "day")).toBe("2026-03-28");
    expect(formatTime(iso, "Asia/Kolkata", "minute")).toBe("2026-03-29 06:00");
  });
  it("labels buckets by time of day, or by date for day buckets", () => {
    expect(formatBucket("2026-03-29T10:05:00Z", "5m", "UTC")).toBe("10:05");
    expect(formatBucket("2026-03-28T23:00:00Z", "1d", "Europe/Paris")).toBe("03-29");
  });
  it("knows an IANA name from a typo", () => {
    expect(isTimeZone("Europe/Paris")).toBe(true);
    expect(isTimeZone("Mars/Olympus")).toBe(false);
  });
});
