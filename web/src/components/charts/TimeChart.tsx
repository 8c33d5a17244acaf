"use client";
/** Recharts lives in this module only: pages load it lazily (next/dynamic), after first paint. */
import { Area, AreaChart, Bar, BarChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import type { ChartRow } from "@/lib/series";
import { formatBucket, formatNumber, formatTime } from "@/lib/format";

export interface SeriesSpec {
  key: string;
  label: string;
  color: string;
}

export default function TimeChart({
  rows,
  series,
  bucket,
  timeZone,
  kind = "area",
  height = 220,
}: {
  rows: ChartRow[];
  series: SeriesSpec[];
  bucket: string;
  timeZone: string;
  kind?: "area" | "bar";
  height?: number;
}) {
  const common = {
    data: rows,
    margin: { top: 8, right: 8, bottom: 0, left: 0 },
  };
  // An array, not a fragment: Recharts looks for its axes among its direct children.
  const axes = [
    <CartesianGrid key="grid" strokeDasharray="3 3" stroke="currentColor" strokeOpacity={0.12} />,
    <XAxis
      key="x"
      dataKey="bucket"
      tickFormatter={(v: string) => formatBucket(v, bucket, timeZone)}
      tick={{ fontSize: 11, fill: "currentColor" }}
      minTickGap={24}
    />,
    <YAxis
      key="y"
      tickFormatter={(v: number) => formatNumber(v)}
      tick={{ fontSize: 11, fill: "currentColor" }}
      width={44}
      allowDecimals={false}
    />,
    <Tooltip
      key="tooltip"
      labelFormatter={(v) => formatTime(String(v), timeZone, "minute")}
      formatter={(v) => formatNumber(Number(v))}
      contentStyle={{ fontSize: 12, color: "#0f172a" }}
    />,
    ...(series.length > 1 ? [<Legend key="legend" wrapperStyle={{ fontSize: 12 }} />] : []),
  ];
  return (
    <div style={{ height }} className="text-slate-600 dark:text-slate-300">
      <ResponsiveContainer width="100%" height="100%">
        {kind === "bar" ? (
          <BarChart {...common}>
            {axes}
            {series.map((s) => (
              <Bar key={s.key} dataKey={s.key} name={s.label} fill={s.color} isAnimationActive={false} />
            ))}
          </BarChart>
        ) : (
          <AreaChart {...common}>
            {axes}
            {series.map((s) => (
              <Area
                key={s.key}
                type="monotone"
                dataKey={s.key}
                name={s.label}
                stroke={s.color}
                fill={s.color}
                fillOpacity={0.15}
                isAnimationActive={false}
              />
            ))}
          </AreaChart>
        )}
      </ResponsiveContainer>
    </div>
  );
}
