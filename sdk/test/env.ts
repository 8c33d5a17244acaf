/**
 * The browser APIs the snippet touches, for node's test runner. The real browser (Chromium
 * against the real runtime) is exercised by tests/test_browser_sdk.py; these fakes only let the
 * timing and error paths be driven precisely.
 */

export interface Sent {
  url: string;
  init: RequestInit;
  events: Record<string, unknown>[];
}

type Reply = number | { status: number; headers?: Record<string, string> } | Error;

class MemoryStorage {
  data = new Map<string, string>();
  broken = false;
  getItem(key: string): string | null {
    if (this.broken) throw new Error("storage disabled");
    return this.data.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    if (this.broken) throw new Error("QuotaExceededError");
    this.data.set(key, String(value));
  }
  removeItem(key: string): void {
    this.data.delete(key);
  }
}

class FakeXhr extends EventTarget {
  status = 0;
  method = "";
  url = "";
  open(method: string, url: string): void {
    this.method = method;
    this.url = url;
  }
  send(): void {}
  /** What the network would do: set the status, then fire loadend. */
  finish(status: number): void {
    this.status = status;
    this.dispatchEvent(new Event("loadend"));
  }
}

export class Browser {
  readonly window = new EventTarget();
  readonly document = Object.assign(new EventTarget(), {
    referrer: "https://search.example/",
    title: "Shop",
    visibilityState: "visible",
    currentScript: null,
  });
  readonly localStorage = new MemoryStorage();
  readonly sessionStorage = new MemoryStorage();
  readonly sent: Sent[] = [];
  readonly beacons: { url: string; body: string }[] = [];
  /** Replies for the next requests, in order; 202 once they run out. */
  readonly replies: Reply[] = [];
  beaconResult = true;
  href = "https://shop.example/cart?step=1";
  /** The page's own fetch, as the host sees it (after the snippet wrapped it). */
  pageFetch!: typeof fetch;
  private saved: Record<string, PropertyDescriptor | undefined> = {};
  private console = { warn: console.warn, error: console.error };

  install(): this {
    const browser = this;
    const location = {
      get href() {
        return browser.href;
      },
    };
    const historyStub = {
      pushState(_state: unknown, _unused: string, url?: string) {
        if (url) browser.href = new URL(url, browser.href).href;
      },
      replaceState(_state: unknown, _unused: string, url?: string) {
        if (url) browser.href = new URL(url, browser.href).href;
      },
    };
    const fakeFetch = async (url: RequestInfo | URL, init: RequestInit = {}): Promise<Response> => {
      const body =
        typeof init.body == "string" ? (JSON.parse(init.body) as { events: [] }) : { events: [] };
      this.sent.push({ url: String(url), init, events: body.events });
      const reply = this.replies.shift() ?? 202;
      if (reply instanceof Error) throw reply;
      const { status, headers } = typeof reply == "number" ? { status: reply, headers: {} } : reply;
      return new Response(status == 204 ? null : "{}", { status, headers });
    };
    const globals: Record<string, unknown> = {
      window: globalThis,
      document: this.document,
      location,
      history: historyStub,
      navigator: {
        userAgent: "TestBrowser/1.0",
        language: "en-GB",
        sendBeacon: (url: string, body: string) => {
          this.beacons.push({ url, body });
          return this.beaconResult;
        },
      },
      screen: { width: 1280, height: 800 },
      localStorage: this.localStorage,
      sessionStorage: this.sessionStorage,
      fetch: fakeFetch,
      XMLHttpRequest: FakeXhr,
      addEventListener: this.window.addEventListener.bind(this.window),
      removeEventListener: this.window.removeEventListener.bind(this.window),
      dispatchEvent: this.window.dispatchEvent.bind(this.window),
    };
    for (const [name, value] of Object.entries(globals)) {
      this.saved[name] = Object.getOwnPropertyDescriptor(globalThis, name);
      Object.defineProperty(globalThis, name, { value, configurable: true, writable: true });
    }
    // The snippet wraps XMLHttpRequest.prototype: give every test a fresh one.
    FakeXhr.prototype.open = function (this: FakeXhr, method: string, url: string) {
      this.method = method;
      this.url = url;
    };
    return this;
  }

  /** After the snippet started: the fetch a page would call. */
  capturePageFetch(): void {
    this.pageFetch = (globalThis as unknown as { fetch: typeof fetch }).fetch;
  }

  uninstall(): void {
    for (const [name, descriptor] of Object.entries(this.saved)) {
      if (descriptor) Object.defineProperty(globalThis, name, descriptor);
      else delete (globalThis as Record<string, unknown>)[name];
    }
    console.warn = this.console.warn;
    console.error = this.console.error;
  }

  /** Every event sent by fetch so far. */
  events(): Record<string, unknown>[] {
    return this.sent.flatMap((s) => s.events);
  }

  dispatch(
    type: string,
    fields: Record<string, unknown> = {},
    target: EventTarget = this.window,
  ): void {
    const event = new Event(type);
    // Own properties shadow Event's read-only getters (target) and add ErrorEvent's fields.
    for (const [name, value] of Object.entries(fields))
      Object.defineProperty(event, name, { value });
    target.dispatchEvent(event);
  }

  xhr(): FakeXhr {
    return new (globalThis as unknown as { XMLHttpRequest: typeof FakeXhr }).XMLHttpRequest();
  }
}

/** Let pending promise callbacks (fetch replies) run. */
export const settle = async (): Promise<void> => {
  for (let i = 0; i < 10; i++) await new Promise<void>((resolve) => setImmediate(resolve));
};
