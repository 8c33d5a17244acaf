import { describe, expect, it } from "vitest";
import { isTimeZone } from "./format";
import { DEFAULT_VIEW, parseView, resolveRange, serializeView } from "./urlState";

const parse = (query: string) => parseView(new URLSearchParams(query), isTimeZone);

describe("URL state", () => {
  it("round-trips a view and keeps other parameters", () => {
    const view = {
      range: "custom" as const,
      from: "2026-01-01T00:00:00.000Z",
      to: "2026-01-02T00:00:00.000Z",
      environment: "production",
      release: "shop@1.2.0",
      tz: "Europe/Paris",
    };
    const query = serializeView(view, new URLSearchParams("project=p1&range=7d"));
    expect(new URLSearchParams(query).get("project")).toBe("p1");
    expect(parse(query)).toEqual(view);
  });
  it("leaves the defaults out of the URL", () => {
    expect(serializeView(DEFAULT_VIEW)).toBe("");
    expect(serializeView({ range: "1h" })).toBe("range=1h");
  });
  it("falls back to the default on anything invalid", () => {
    expect(parse("range=2y")).toEqual(DEFAULT_VIEW);
    expect(parse("range=custom&from=yesterday&to=2026-01-01")).toEqual(DEFAULT_VIEW);
    expect(parse("range=custom&from=2026-01-02&to=2026-01-01")).toEqual(DEFAULT_VIEW);
    expect(parse("tz=Mars/Olympus&release=%20")).toEqual(DEFAULT_VIEW);
  });
  it("resolves rolling and custom ranges", () => {
    const now = Date.parse("2026-01-01T12:00:00Z");
    expect(resolveRange({ range: "1h" }, now)).toEqual({
      from: "2026-01-01T11:00:00.000Z",
      to: "2026-01-01T12:00:00.000Z",
    });
    expect(resolveRange({ range: "custom", from: "a", to: "b" }, now)).toEqual({ from: "a", to: "b" });
  });
});
