import type { ReactNode } from "react";
import { errorMessage } from "@/api/client";

export function Card({ title, children, className = "", actions }: { title?: string; children: ReactNode; className?: string; actions?: ReactNode }) {
  return (
    <section className={`rounded-lg border border-slate-200 bg-white p-4 shadow-sm dark:border-slate-700 dark:bg-slate-900 ${className}`} aria-label={title}>
      {(title || actions) && (
        <div className="mb-3 flex items-center justify-between gap-2">
          {title && <h2 className="text-sm font-semibold text-slate-700 dark:text-slate-200">{title}</h2>}
          {actions}
        </div>
      )}
      {children}
    </section>
  );
}

export function Spinner({ label = "Loading" }: { label?: string }) {
  return (
    <div role="status" className="flex items-center gap-2 py-6 text-sm text-slate-600 dark:text-slate-300">
      <span className="h-4 w-4 animate-spin rounded-full border-2 border-slate-300 border-t-indigo-600" aria-hidden="true" />
      {label}…
    </div>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className="py-6 text-center text-sm text-slate-600 dark:text-slate-300">{children}</div>;
}

export function ErrorNote({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  return (
    <div role="alert" className="flex items-center justify-between gap-3 rounded-md border border-red-300 bg-red-50 p-3 text-sm text-red-800 dark:border-red-800 dark:bg-red-950 dark:text-red-200">
      <span>{errorMessage(error)}</span>
      {onRetry && (
        <button type="button" className="btn" onClick={onRetry}>
          Retry
        </button>
      )}
    </div>
  );
}

const LEVEL_STYLES: Record<string, string> = {
  fatal: "bg-red-700 text-white",
  error: "bg-red-100 text-red-800 dark:bg-red-900 dark:text-red-100",
  warning: "bg-amber-100 text-amber-900 dark:bg-amber-900 dark:text-amber-100",
  info: "bg-sky-100 text-sky-900 dark:bg-sky-900 dark:text-sky-100",
  debug: "bg-slate-200 text-slate-800 dark:bg-slate-700 dark:text-slate-100",
};

export function Badge({ children, tone }: { children: ReactNode; tone?: string }) {
  const style = LEVEL_STYLES[tone ?? ""] ?? "bg-slate-100 text-slate-800 dark:bg-slate-800 dark:text-slate-100";
  return <span className={`inline-block rounded px-1.5 py-0.5 text-xs font-medium ${style}`}>{children}</span>;
}

export function Stat({ label, value, change, hint }: { label: string; value: string; change?: string | null; hint?: string }) {
  return (
    <div className="rounded-lg border border-slate-200 bg-white p-4 dark:border-slate-700 dark:bg-slate-900">
      <div className="text-xs font-medium uppercase tracking-wide text-slate-600 dark:text-slate-300">{label}</div>
      <div className="mt-1 text-2xl font-semibold tabular-nums" data-stat={label}>
        {value}
      </div>
      <div className="mt-1 h-4 text-xs text-slate-600 dark:text-slate-300">
        {change ? `${change} vs previous period` : hint}
      </div>
    </div>
  );
}
