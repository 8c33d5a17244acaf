"use client";
import { useState } from "react";
import { RANGES, RANGE_LABELS, type RangeKey, type ViewState } from "@/lib/urlState";
import { localTimeZone } from "@/lib/format";

const ZONES = ["UTC", "America/Los_Angeles", "America/New_York", "Europe/London", "Europe/Paris", "Asia/Kolkata", "Asia/Tokyo", "Australia/Sydney"];

function toLocalInput(iso: string | undefined): string {
  if (!iso) return "";
  const d = new Date(iso);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function RangeControls({
  view,
  onChange,
  releases,
  environments,
}: {
  view: ViewState;
  onChange: (view: ViewState) => void;
  releases: string[];
  environments: string[];
}) {
  const [custom, setCustom] = useState({ from: toLocalInput(view.from), to: toLocalInput(view.to) });
  const zone = view.tz ?? localTimeZone();
  const zones = ZONES.includes(zone) ? ZONES : [zone, ...ZONES];
  return (
    <div className="mb-4 flex flex-wrap items-end gap-3">
      <fieldset>
        <legend className="label">Range</legend>
        <div className="flex flex-wrap gap-1" role="group">
          {RANGES.map((range: RangeKey) => (
            <button
              key={range}
              type="button"
              aria-pressed={view.range === range}
              className={`btn ${view.range === range ? "btn-primary" : ""}`}
              onClick={() => {
                if (range !== "custom") onChange({ ...view, range, from: undefined, to: undefined });
                else {
                  const to = new Date();
                  const from = new Date(to.getTime() - 86_400_000);
                  setCustom({ from: toLocalInput(from.toISOString()), to: toLocalInput(to.toISOString()) });
                  onChange({ ...view, range, from: from.toISOString(), to: to.toISOString() });
                }
              }}
            >
              {RANGE_LABELS[range]}
            </button>
          ))}
        </div>
      </fieldset>
      {view.range === "custom" && (
        <form
          className="flex flex-wrap items-end gap-2"
          onSubmit={(e) => {
            e.preventDefault();
            const from = new Date(custom.from);
            const to = new Date(custom.to);
            if (!Number.isNaN(from.getTime()) && !Number.isNaN(to.getTime()) && to > from)
              onChange({ ...view, from: from.toISOString(), to: to.toISOString() });
          }}
        >
          <div>
            <label htmlFor="range-from" className="label">From</label>
            <input id="range-from" type="datetime-local" className="input" value={custom.from} onChange={(e) => setCustom({ ...custom, from: e.target.value })} />
          </div>
          <div>
            <label htmlFor="range-to" className="label">To</label>
            <input id="range-to" type="datetime-local" className="input" value={custom.to} onChange={(e) => setCustom({ ...custom, to: e.target.value })} />
          </div>
          <button type="submit" className="btn">Apply</button>
        </form>
      )}
      <div>
        <label htmlFor="filter-environment" className="label">Environment</label>
        <select id="filter-environment" className="input w-auto" value={view.environment ?? ""} onChange={(e) => onChange({ ...view, environment: e.target.value || undefined })}>
          <option value="">All</option>
          {[...new Set([...(view.environment ? [view.environment] : []), ...environments])].map((env) => (
            <option key={env} value={env}>{env}</option>
          ))}
        </select>
      </div>
      <div>
        <label htmlFor="filter-release" className="label">Release</label>
        <select id="filter-release" className="input w-auto max-w-[12rem]" value={view.release ?? ""} onChange={(e) => onChange({ ...view, release: e.target.value || undefined })}>
          <option value="">All</option>
          {[...new Set([...(view.release ? [view.release] : []), ...releases])].map((r) => (
            <option key={r} value={r}>{r}</option>
          ))}
        </select>
      </div>
      <div>
        <label htmlFor="filter-tz" className="label">Time zone</label>
        <select id="filter-tz" className="input w-auto" value={zone} onChange={(e) => onChange({ ...view, tz: e.target.value === localTimeZone() ? undefined : e.target.value })}>
          {zones.map((z) => (
            <option key={z} value={z}>{z}</option>
          ))}
        </select>
      </div>
    </div>
  );
}
