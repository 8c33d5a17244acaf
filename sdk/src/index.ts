/**
 * The LogSight browser snippet. Everything runs behind guards: the host page must never see an
 * exception, a changed return value or a lost event because of this file.
 */
import { type Frame, parseStack, retryDelay } from "./stack";

export type { Frame } from "./stack";
export type Level = "debug" | "info" | "warning" | "error" | "fatal";
export type Properties = Record<string, unknown>;

export interface Breadcrumb {
  timestamp: number;
  category: string;
  message: string;
  level?: Level;
}

export interface LogSightEvent {
  type: "event" | "error" | "pageview" | "log";
  event_id: string;
  /** Epoch milliseconds. */
  timestamp: number;
  name?: string;
  level?: Level;
  message?: string;
  properties?: Properties;
  user?: Properties;
  session_id: string;
  context: Properties;
  release?: string;
  environment?: string;
  error?: {
    type: string;
    value: string;
    handled: boolean;
    stacktrace: { frames: Frame[] };
  };
  breadcrumbs?: Breadcrumb[];
  sdk: { name: string; version: string };
}

export interface Options {
  /** Where LogSight is, e.g. "https://logsight.example.com"; default: this page's origin. */
  host?: string;
  release?: string;
  environment?: string;
  /** Share of events sent, 0..1 (default 1), decided per event. */
  sampleRate?: number;
  /** Change an event, or return null or false to drop it; throwing drops that event only. */
  beforeSend?: (event: LogSightEvent) => LogSightEvent | null | false | undefined | void;
  /** A pageview on load and on every SPA history change (default true). */
  autoPageviews?: boolean;
  /** Uncaught errors and unhandled promise rejections (default true). */
  captureErrors?: boolean;
  /** Keep a random anonymous id in localStorage and send it as user.anonymous_id (default false). */
  anonymousId?: boolean;
}

declare const __VERSION__: string;

const BATCH = 20;
const WAIT = 2000;
const PER_REQUEST = 50;
const MAX_STORED = 100;
const MAX_CRUMBS = 30;
// The same error more than ERROR_BURST times in ERROR_WINDOW ms is a loop, not news.
const ERROR_BURST = 5;
const ERROR_WINDOW = 60_000;

type Fn = (...args: never[]) => unknown;

/** f, except that it returns undefined instead of throwing. */
const safe =
  <F extends Fn>(f: F) =>
  (...args: Parameters<F>): ReturnType<F> | undefined => {
    try {
      return f(...args) as ReturnType<F>;
    } catch {
      return undefined;
    }
  };

const uuid = (): string =>
  "10000000-1000-4000-8000-100000000000".replace(/[018]/g, (c) =>
    (+c ^ (crypto.getRandomValues(new Uint8Array(1))[0]! & (15 >> (+c / 4)))).toString(16),
  );

/** The stored queue of events not yet delivered, or []. */
const stored = (key: string): LogSightEvent[] => {
  try {
    return JSON.parse(localStorage.getItem(key) || "[]") as LogSightEvent[];
  } catch {
    return [];
  }
};

/** A short CSS-like description of a clicked element. */
const describe = (el: Element): string =>
  el.tagName.toLowerCase() +
  (el.id ? "#" + el.id : "") +
  (typeof el.className == "string" && el.className.trim()
    ? "." + el.className.trim().split(/\s+/).join(".")
    : "");

export class LogSight {
  private _url = "";
  private _storeKey = "";
  private _o: Options = {};
  private _fetch!: typeof fetch;
  /** Events not yet delivered, oldest first. */
  private _q: LogSightEvent[] = [];
  /** Ids of the events this tab queued: its share of the queue stored for all tabs. */
  private _own = new Set<string>();
  private _crumbs: Breadcrumb[] = [];
  private _ctx: Properties = {};
  private _user?: Properties;
  private _anon?: string;
  private _sid = "";
  private _href = "";
  private _timer?: ReturnType<typeof setTimeout>;
  private _backingOff = false;
  private _tries = 0;
  /** The last delivery attempt failed: the endpoint or the network is down. */
  private _failing = false;
  private _inflight?: Promise<void>;
  private _errors: Record<string, [number, number]> = {};

  constructor(key: string, options: Options = {}) {
    for (const name of [
      "track",
      "identify",
      "captureException",
      "captureMessage",
      "setContext",
      "pageview",
    ] as const) {
      (this as Record<string, unknown>)[name] = safe(this[name].bind(this) as Fn);
    }
    // The constructor is an entry point too: whatever it is given, it must not throw.
    try {
      this._start(key, options || {});
    } catch {
      // An inert instance: every method stays callable.
    }
  }

  private _start(key: string, options: Options): void {
    this._o = options;
    this._url = String(options.host || "").replace(/\/+$/, "") + "/v1/events";
    this._storeKey = "logsight:" + key;
    this._fetch = safe(() => fetch.bind(globalThis))()!;
    const headers = { "Content-Type": "application/json", "X-LogSight-Key": key };
    this._post = (body) =>
      this._fetch(this._url, { method: "POST", headers, body, credentials: "omit" });
    this._beacon = (body) => {
      const url = this._url + "?key=" + encodeURIComponent(key);
      // text/plain keeps both a simple CORS request: nothing to preflight while unloading.
      return navigator.sendBeacon
        ? navigator.sendBeacon(url, body)
        : (this._fetch(url, { method: "POST", body, keepalive: true, credentials: "omit" }).catch(
            () => 0,
          ),
          true);
    };
    safe(() => {
      // sessionStorage is per tab: a session lasts while the tab does, with no cookie.
      this._sid = sessionStorage.getItem("logsight:sid") || uuid();
      sessionStorage.setItem("logsight:sid", this._sid);
    })();
    this._sid ||= uuid();
    if (options.anonymousId) {
      safe(() => {
        this._anon = localStorage.getItem("logsight:aid") || uuid();
        localStorage.setItem("logsight:aid", this._anon);
      })();
      this._user = { anonymous_id: this._anon };
    }
    safe(() => this._instrument())();
    // Events an earlier page could not deliver.
    for (const event of stored(this._storeKey))
      (this._own.add(event.event_id), this._q.push(event));
    if (options.autoPageviews != false) this.pageview();
    this._schedule();
  }

  private _post!: (body: string) => Promise<Response>;
  private _beacon!: (body: string) => boolean;

  /** A custom event. */
  track(name: string, properties?: Properties): void {
    this._add({ name: String(name), properties });
  }

  /** Who is using the page: sent with every later event as user.id and the traits. */
  identify(userId: string | number, traits?: Properties): void {
    this._user = { anonymous_id: this._anon, ...traits, id: String(userId) };
  }

  /** An error event with its parsed stack; context goes into the event's properties. */
  captureException(error: unknown, context?: Properties): string | undefined {
    return this._error(error, true, context);
  }

  captureMessage(message: string, level: Level = "info"): string | undefined {
    return this._add({ type: "log", message: String(message), level });
  }

  /** Sent in every later event's context under key (undefined removes it). */
  setContext(key: string, value: unknown): void {
    this._ctx[key] = value;
  }

  pageview(): void {
    this._href = location.href;
    this._add({ type: "pageview" });
  }

  /** Send what is queued now; resolves (never rejects) once this attempt is over. */
  flush(): Promise<void> {
    return this._send().catch(() => undefined);
  }

  private _add(fields: Partial<LogSightEvent>): string | undefined {
    const o = this._o;
    if (Math.random() >= (o.sampleRate ?? 1)) return;
    let event: LogSightEvent = {
      event_id: uuid(),
      timestamp: Date.now(),
      type: "event",
      ...fields,
      user: this._user,
      session_id: this._sid,
      context: {
        url: location.href,
        referrer: document.referrer || undefined,
        title: document.title,
        user_agent: navigator.userAgent,
        locale: navigator.language,
        screen: screen.width + "x" + screen.height,
        ...this._ctx,
      },
      release: o.release,
      environment: o.environment,
      sdk: { name: "logsight.js", version: __VERSION__ },
    };
    if (o.beforeSend) {
      try {
        const changed = o.beforeSend(event);
        if (changed === null || changed === false) return;
        if (changed) event = changed;
      } catch {
        return;
      }
    }
    // Proves the event serializes (no cycles, no BigInt) before it can block a batch.
    JSON.stringify(event);
    this._q.push(event);
    this._own.add(event.event_id);
    this._schedule();
    return event.event_id;
  }

  private _error(
    error: unknown,
    handled: boolean,
    properties?: Properties,
    fallbackType = "Error",
  ): string | undefined {
    const e = error as Error | undefined;
    const isError = !!e && typeof e == "object" && "message" in e;
    const type = isError ? e.name || "Error" : fallbackType;
    const value = isError
      ? String(e.message)
      : typeof error == "string"
        ? error
        : safe(JSON.stringify)(error) || String(error);
    const now = Date.now();
    const seen = this._errors[type + value];
    if (seen && now - seen[0] < ERROR_WINDOW) {
      if (++seen[1] > ERROR_BURST) return;
    } else this._errors[type + value] = [now, 1];
    return this._add({
      type: "error",
      properties,
      error: {
        type,
        value,
        handled,
        stacktrace: { frames: parseStack(isError && e.stack) },
      },
      breadcrumbs: this._crumbs.slice(),
    });
  }

  private _crumb(category: string, message: string, level?: Level): void {
    this._crumbs.push({ timestamp: Date.now(), category, message, level });
    if (this._crumbs.length > MAX_CRUMBS) this._crumbs.shift();
  }

  private _instrument(): void {
    const o = this._o;
    const on = (target: EventTarget, type: string, listener: (e: never) => void): void =>
      target.addEventListener(type, safe(listener) as EventListener, true);
    on(window, "pagehide", () => this._hide());
    on(document, "visibilitychange", () => document.visibilityState == "hidden" && this._hide());
    if (o.captureErrors != false) {
      on(window, "error", (e: ErrorEvent) => e.message && this._error(e.error || e.message, false));
      on(window, "unhandledrejection", (e: PromiseRejectionEvent) =>
        this._error(e.reason, false, undefined, "UnhandledRejection"),
      );
    }
    on(document, "click", (e: MouseEvent) =>
      this._crumb("ui.click", describe(e.target as Element)),
    );

    for (const level of ["warn", "error"] as const) {
      const original = console[level];
      console[level] = (...args: unknown[]) => {
        safe(() =>
          this._crumb("console", args.map(String).join(" "), level == "warn" ? "warning" : level),
        )();
        original.apply(console, args);
      };
    }

    const self = this;
    const original = fetch;
    window.fetch = function (this: unknown, input: RequestInfo | URL, init?: RequestInit) {
      // The host's promise is returned untouched; only a derived one is observed.
      const result = original.call(this, input, init);
      safe(() => {
        const request = (init?.method || "GET") + " " + ((input as Request).url || input);
        result.then(
          (r) => r.ok || self._crumb("fetch", request + " " + r.status, "error"),
          () => self._crumb("fetch", request + " failed", "error"),
        );
      })();
      return result;
    };
    const xhr = XMLHttpRequest.prototype;
    const open = xhr.open;
    xhr.open = function (this: XMLHttpRequest, method: string, url: string | URL) {
      this.addEventListener(
        "loadend",
        safe(() => {
          const status = this.status;
          if (!status || status >= 400)
            self._crumb("xhr", method + " " + url + " " + (status || "failed"), "error");
        }),
      );
      // eslint-disable-next-line prefer-rest-params
      return open.apply(this, arguments as unknown as Parameters<typeof open>);
    } as typeof open;

    this._href = location.href;
    const navigated = safe(() => {
      const from = this._href;
      if (location.href != from) {
        this._crumb("navigation", from + " -> " + location.href);
        if (o.autoPageviews != false) this.pageview();
        this._href = location.href;
      }
    });
    for (const method of ["pushState", "replaceState"] as const) {
      const original = history[method];
      history[method] = function (this: History, ...args: Parameters<History["pushState"]>) {
        const result = original.apply(this, args);
        navigated();
        return result;
      };
    }
    on(window, "popstate", navigated);
  }

  private _schedule(): void {
    // While backing off, the retry timer sends; a new event must not hurry the endpoint.
    if (this._backingOff) return;
    if (this._q.length >= BATCH) void this._send();
    else this._timer ||= setTimeout(() => this._send(), WAIT);
  }

  private _send(): Promise<void> {
    if (!this._inflight) {
      clearTimeout(this._timer);
      this._timer = undefined;
      this._backingOff = false;
      const batch = this._q.slice(0, PER_REQUEST);
      if (batch.length) this._inflight = this._deliver(batch);
    }
    return this._inflight || Promise.resolve();
  }

  private async _deliver(batch: LogSightEvent[]): Promise<void> {
    let status = 0;
    let retryAfter: string | null = null;
    try {
      const response = await this._post(JSON.stringify({ events: batch }));
      status = response.status;
      retryAfter = response.headers.get("Retry-After");
    } catch {
      // A network error (or the endpoint down): retried below like a 5xx.
    }
    const retry = !status || status >= 500 || status == 429;
    this._failing = retry;
    if (retry) {
      this._backingOff = true;
      this._timer = setTimeout(() => this._send(), retryDelay(retryAfter, this._tries++));
    } else {
      // Delivered, or a 4xx that no retry can fix: either way these events are done.
      this._tries = 0;
      this._q = this._q.filter((e) => !batch.includes(e));
    }
    this._save();
    this._inflight = undefined;
    if (!retry && this._q.length) this._schedule();
  }

  /** The page may be going away: the queue leaves now, or waits in localStorage. */
  private _hide(): void {
    if (!this._q.length) return;
    // Towards an endpoint known to be down a beacon would be lost: keep the events instead.
    if (!this._failing && safe(this._beacon)(JSON.stringify({ events: this._q }))) this._q = [];
    this._save();
  }

  /** Mirror this tab's undelivered events into the queue stored for every tab. */
  private _save(): void {
    safe(() => {
      const all = stored(this._storeKey)
        .filter((e) => !this._own.has(e.event_id))
        .concat(this._q)
        .slice(-MAX_STORED);
      if (all.length) localStorage.setItem(this._storeKey, JSON.stringify(all));
      else localStorage.removeItem(this._storeKey);
    })();
  }
}
