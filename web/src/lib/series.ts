/** Shaping API answers into chart rows. */

export interface Point {
  bucket: string;
  events: number;
}

/**
 * Counts on a regular grid of `count` buckets of `stepMs` starting at `startMs`, zeros where no
 * point falls; points off the grid land in the bucket that contains them, points outside it
 * are dropped.
 */
export function zeroFill(startMs: number, stepMs: number, count: number, points: Point[]): Point[] {
  const values = new Array<number>(count).fill(0);
  for (const point of points) {
    const index = Math.floor((Date.parse(point.bucket) - startMs) / stepMs);
    if (index >= 0 && index < count) values[index] = (values[index] ?? 0) + point.events;
  }
  return values.map((events, i) => ({ bucket: new Date(startMs + i * stepMs).toISOString(), events }));
}

export interface SeriesLike {
  key: string | null;
  other: boolean;
  values: number[];
}

export type ChartRow = { bucket: string } & Record<string, number | string>;

/**
 * One row per bucket with one column per named series (`columns[i]` names `series[i]`'s
 * first series): the shape Recharts draws. A missing or short series counts as zeros.
 */
export function mergeSeries(
  buckets: string[],
  named: Record<string, SeriesLike[] | undefined>,
): ChartRow[] {
  return buckets.map((bucket, i) => {
    const row: ChartRow = { bucket };
    for (const [column, series] of Object.entries(named)) {
      row[column] = (series ?? []).reduce((sum, s) => sum + (s.values[i] ?? 0), 0);
    }
    return row;
  });
}

/** Keep the newest `max` items, newest first, without duplicates (live polls may overlap). */
export function prependUnique<T extends { id: string }>(incoming: T[], existing: T[], max: number): T[] {
  const seen = new Set<string>();
  const out: T[] = [];
  for (const item of [...incoming, ...existing]) {
    if (seen.has(item.id)) continue;
    seen.add(item.id);
    out.push(item);
    if (out.length === max) break;
  }
  return out;
}
