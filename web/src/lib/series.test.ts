import { describe, expect, it } from "vitest";
import { mergeSeries, prependUnique, zeroFill } from "./series";

describe("zeroFill", () => {
  it("puts every point in its bucket and zeros elsewhere", () => {
    const start = Date.parse("2026-01-01T00:00:00Z");
    const filled = zeroFill(start, 60_000, 4, [
      { bucket: "2026-01-01T00:01:00Z", events: 3 },
      { bucket: "2026-01-01T00:03:30Z", events: 2 },
      { bucket: "2026-01-01T00:03:10Z", events: 1 },
      { bucket: "2025-12-31T23:59:00Z", events: 9 },
      { bucket: "2026-01-01T00:04:00Z", events: 9 },
    ]);
    expect(filled.map((p) => p.events)).toEqual([0, 3, 0, 3]);
    expect(filled[0]?.bucket).toBe("2026-01-01T00:00:00.000Z");
    expect(filled[3]?.bucket).toBe("2026-01-01T00:03:00.000Z");
  });
  it("is all zeros without points", () => {
    expect(zeroFill(0, 1000, 3, []).map((p) => p.events)).toEqual([0, 0, 0]);
  });
});

describe("mergeSeries", () => {
  it("makes one row per bucket, summing groups and zero-filling short series", () => {
    const rows = mergeSeries(["a", "b", "c"], {
      events: [
        { key: "x", other: false, values: [1, 2, 3] },
        { key: null, other: true, values: [10, 0, 0] },
      ],
      errors: [{ key: null, other: false, values: [0, 1] }],
      users: undefined,
    });
    expect(rows).toEqual([
      { bucket: "a", events: 11, errors: 0, users: 0 },
      { bucket: "b", events: 2, errors: 1, users: 0 },
      { bucket: "c", events: 3, errors: 0, users: 0 },
    ]);
  });
});

describe("prependUnique", () => {
  it("keeps the newest first without duplicates, at most max", () => {
    const ids = (xs: { id: string }[]) => xs.map((x) => x.id);
    const merged = prependUnique([{ id: "c" }, { id: "b" }], [{ id: "b" }, { id: "a" }], 10);
    expect(ids(merged)).toEqual(["c", "b", "a"]);
    expect(ids(prependUnique([{ id: "d" }], merged, 2))).toEqual(["d", "c"]);
  });
});
