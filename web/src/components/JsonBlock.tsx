export function JsonBlock({ value, label }: { value: unknown; label: string }) {
  return (
    <pre aria-label={label} tabIndex={0} className="max-h-96 overflow-auto rounded-md bg-slate-100 p-3 font-mono text-xs dark:bg-slate-950">
      {JSON.stringify(value, null, 2)}
    </pre>
  );
}

/** Key → value pairs of an object, values as compact JSON when not text. */
export function Fields({ value, label }: { value: Record<string, unknown> | null | undefined; label: string }) {
  const entries = Object.entries(value ?? {});
  if (entries.length === 0) return <p className="text-sm text-slate-600 dark:text-slate-300">None.</p>;
  return (
    <dl aria-label={label} className="grid grid-cols-[minmax(6rem,auto)_1fr] gap-x-4 gap-y-1 text-sm">
      {entries.map(([k, v]) => (
        <div key={k} className="contents">
          <dt className="font-mono text-xs text-slate-600 dark:text-slate-300">{k}</dt>
          <dd className="break-all font-mono text-xs">{typeof v === "string" ? v : JSON.stringify(v)}</dd>
        </div>
      ))}
    </dl>
  );
}
