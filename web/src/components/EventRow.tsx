import Link from "next/link";
import type { Schemas } from "@/api/client";
import { formatTime } from "@/lib/format";
import { Badge } from "./ui";

type Event = Schemas["EventSummary"];

/** One event as a row of the live stream and the explorer: time, level, name, who, where. */
export function EventRow({ event, href, timeZone }: { event: Event; href: string; timeZone: string }) {
  return (
    <li className="border-t border-slate-100 first:border-t-0 dark:border-slate-800">
      <Link href={href} className="flex flex-wrap items-baseline gap-x-3 gap-y-1 px-2 py-2 text-sm hover:bg-slate-50 dark:hover:bg-slate-800" data-event-name={event.name}>
        <time dateTime={event.timestamp} className="w-36 shrink-0 font-mono text-xs text-slate-600 dark:text-slate-300">
          {formatTime(event.timestamp, timeZone)}
        </time>
        <Badge tone={event.level}>{event.level}</Badge>
        <span className="text-xs text-slate-600 dark:text-slate-300">{event.type}</span>
        <span className="min-w-0 flex-1 break-words font-medium">
          {event.name}
          {event.message && event.message !== event.name && (
            <span className="ml-2 font-normal text-slate-600 dark:text-slate-300">{event.message}</span>
          )}
        </span>
        <span className="text-xs text-slate-600 dark:text-slate-300">
          {[event.user_id && `user ${event.user_id}`, event.environment, event.release, event.browser].filter(Boolean).join(" · ")}
        </span>
      </Link>
    </li>
  );
}
