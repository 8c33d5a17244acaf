import assert from "node:assert/strict";
import { afterEach, beforeEach, mock, test } from "node:test";

import { LogSight, type LogSightEvent, type Options } from "../src/index";
import { Browser, settle } from "./env";

const KEY = "lsk_test";
const UUID4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
let browser: Browser;

beforeEach(() => {
  // The snippet records console output as breadcrumbs; keep the test report quiet.
  mock.method(console, "warn", () => undefined);
  mock.method(console, "error", () => undefined);
  browser = new Browser().install();
  mock.timers.enable({ apis: ["setTimeout", "Date"], now: 1_700_000_000_000 });
});

afterEach(() => {
  mock.timers.reset();
  browser.uninstall();
  mock.restoreAll();
});

const start = (options: Options = {}): LogSight => {
  const logsight = new LogSight(KEY, {
    host: "https://logsight.example/",
    autoPageviews: false,
    ...options,
  });
  browser.capturePageFetch();
  return logsight;
};

/** Advance the fake clock and let the fetch replies resolve. */
const elapse = async (ms: number): Promise<void> => {
  mock.timers.tick(ms);
  await settle();
};

test("events wait up to 2 s and leave together in one POST /v1/events", async () => {
  const logsight = start({ release: "shop@1.2.0", environment: "production" });
  logsight.track("signup", { plan: "pro" });
  logsight.track("checkout");
  await elapse(1999);
  assert.equal(browser.sent.length, 0);
  await elapse(1);
  assert.equal(browser.sent.length, 1);
  const [request] = browser.sent;
  assert.equal(request!.url, "https://logsight.example/v1/events");
  assert.equal(request!.init.method, "POST");
  assert.equal(request!.init.credentials, "omit");
  assert.deepEqual(request!.init.headers, {
    "Content-Type": "application/json",
    "X-LogSight-Key": KEY,
  });
  const [signup, checkout] = request!.events as unknown as LogSightEvent[];
  assert.equal(signup!.type, "event");
  assert.equal(signup!.name, "signup");
  assert.deepEqual(signup!.properties, { plan: "pro" });
  assert.match(signup!.event_id, UUID4);
  assert.notEqual(signup!.event_id, checkout!.event_id);
  assert.equal(signup!.timestamp, 1_700_000_000_000);
  assert.equal(signup!.release, "shop@1.2.0");
  assert.equal(signup!.environment, "production");
  assert.deepEqual(signup!.sdk, { name: "logsight.js", version: "0.1.0" });
  assert.deepEqual(signup!.context, {
    url: "https://shop.example/cart?step=1",
    referrer: "https://search.example/",
    title: "Shop",
    user_agent: "TestBrowser/1.0",
    locale: "en-GB",
    screen: "1280x800",
  });
  assert.match(signup!.session_id, UUID4);
  assert.equal(signup!.session_id, checkout!.session_id);
  assert.equal(browser.sessionStorage.getItem("logsight:sid"), signup!.session_id);
});

test("the 20th event sends at once; the session id survives a new page in the same tab", async () => {
  const first = start();
  for (let i = 0; i < 19; i++) first.track("step", { i });
  await settle();
  assert.equal(browser.sent.length, 0);
  first.track("step", { i: 19 });
  await settle();
  assert.equal(browser.sent.length, 1);
  assert.equal(browser.sent[0]!.events.length, 20);
  const sid = browser.sent[0]!.events[0]!.session_id;
  const next = start();
  next.track("again");
  await elapse(2000);
  assert.equal(browser.sent[1]!.events[0]!.session_id, sid);
});

test("identify, setContext, captureMessage and pageview", async () => {
  const logsight = start();
  logsight.identify(42, { email: "ada@example.com" });
  logsight.setContext("cart", { items: 3 });
  logsight.captureMessage("low stock", "warning");
  logsight.pageview();
  await logsight.flush();
  const [message, pageview] = browser.events() as unknown as LogSightEvent[];
  assert.deepEqual(message!.user, { id: "42", email: "ada@example.com" });
  assert.equal(message!.type, "log");
  assert.equal(message!.message, "low stock");
  assert.equal(message!.level, "warning");
  assert.deepEqual(message!.context.cart, { items: 3 });
  assert.equal(pageview!.type, "pageview");
  assert.equal(pageview!.name, undefined);
});

test("the anonymous id exists only when the host enables it", async () => {
  const plain = start();
  plain.track("a");
  await plain.flush();
  assert.equal(browser.events()[0]!.user, undefined);
  assert.equal(browser.localStorage.getItem("logsight:aid"), null);
  browser.sent.length = 0;
  const logsight = start({ anonymousId: true });
  const aid = browser.localStorage.getItem("logsight:aid");
  assert.match(aid!, UUID4);
  logsight.track("b");
  logsight.identify("u1");
  logsight.track("c");
  await logsight.flush();
  const events = browser.events();
  assert.deepEqual(events[0]!.user, { anonymous_id: aid });
  assert.deepEqual(events[1]!.user, { anonymous_id: aid, id: "u1" });
});

test("5xx and network errors retry with growing, jittered delays until delivered", async () => {
  mock.method(Math, "random", () => 0.999999);
  const logsight = start();
  browser.replies.push(500, new TypeError("Failed to fetch"), 502);
  logsight.track("order");
  await elapse(2000);
  assert.equal(browser.sent.length, 1);
  await elapse(999);
  assert.equal(browser.sent.length, 1);
  await elapse(1); // 1 s after the first failure
  assert.equal(browser.sent.length, 2);
  await elapse(2000); // 2 s after the second
  assert.equal(browser.sent.length, 3);
  // New events do not hurry a backing-off endpoint, even 20 of them.
  for (let i = 0; i < 25; i++) logsight.track("more");
  await settle();
  assert.equal(browser.sent.length, 3);
  await elapse(4000);
  assert.equal(browser.sent.length, 4);
  const ids = browser.sent.map((s) => s.events[0]!.event_id);
  assert.equal(new Set(ids).size, 1, "a retry sends the same event ids, so the server dedupes");
  assert.equal(browser.sent[3]!.events.length, 26);
  await elapse(2000);
  assert.equal(browser.sent.length, 4, "nothing left to send");
});

test("jitter: retry delays lie between half and all of the exponential step", async () => {
  mock.method(Math, "random", () => 0);
  const logsight = start();
  browser.replies.push(503, 503);
  logsight.track("order");
  await elapse(2000);
  await elapse(499);
  assert.equal(browser.sent.length, 1);
  await elapse(1);
  assert.equal(browser.sent.length, 2);
  await elapse(999);
  assert.equal(browser.sent.length, 2);
  await elapse(1);
  assert.equal(browser.sent.length, 3);
});

test("429 and 503 are retried after Retry-After", async () => {
  const logsight = start();
  browser.replies.push(
    { status: 429, headers: { "Retry-After": "7" } },
    { status: 503, headers: { "Retry-After": "3" } },
  );
  logsight.track("order");
  await elapse(2000);
  await elapse(6999);
  assert.equal(browser.sent.length, 1);
  await elapse(1);
  assert.equal(browser.sent.length, 2);
  await elapse(2999);
  assert.equal(browser.sent.length, 2);
  await elapse(1);
  assert.equal(browser.sent.length, 3);
  await elapse(60_000);
  assert.equal(browser.sent.length, 3);
});

test("a monthly quota's 429 is retried an hour later, not at once nor weeks later", async () => {
  const logsight = start();
  browser.replies.push({ status: 429, headers: { "Retry-After": String(20 * 86_400) } });
  logsight.track("order");
  await elapse(2000);
  assert.equal(browser.sent.length, 1);
  await elapse(3_599_999);
  assert.equal(browser.sent.length, 1);
  await elapse(1);
  assert.equal(browser.sent.length, 2);
  assert.equal(browser.sent[1]!.events[0]!.event_id, browser.sent[0]!.events[0]!.event_id);
});

test("other 4xx answers drop the batch silently, without retrying", async () => {
  const errors = mock.method(console, "error");
  const logsight = start();
  browser.replies.push(400);
  logsight.track("bad");
  await logsight.flush();
  await elapse(120_000);
  assert.equal(browser.sent.length, 1);
  assert.equal(errors.mock.callCount(), 0);
  assert.equal(browser.localStorage.getItem("logsight:" + KEY), null);
  logsight.track("good");
  await logsight.flush();
  assert.equal(browser.sent.length, 2);
});

test("flush() sends now, and resolves even when the network fails", async () => {
  const logsight = start();
  browser.replies.push(new TypeError("Failed to fetch"));
  logsight.track("a");
  await logsight.flush();
  assert.equal(browser.sent.length, 1);
  await logsight.flush();
  assert.equal(browser.sent.length, 2);
  assert.equal(await start().flush(), undefined, "nothing queued: resolves at once");
});

test("undelivered events wait in localStorage and leave with the next page load", async () => {
  const page1 = start();
  browser.replies.push(new TypeError("Failed to fetch"));
  page1.track("offline-1");
  page1.track("offline-2");
  await page1.flush();
  const stored = JSON.parse(browser.localStorage.getItem("logsight:" + KEY)!) as LogSightEvent[];
  assert.deepEqual(
    stored.map((e) => e.name),
    ["offline-1", "offline-2"],
  );
  // Leaving the page while the endpoint is down: no beacon (it would be lost), still stored.
  browser.dispatch("pagehide");
  assert.equal(browser.beacons.length, 0);
  assert.equal(JSON.parse(browser.localStorage.getItem("logsight:" + KEY)!).length, 2);

  mock.timers.reset();
  mock.timers.enable({ apis: ["setTimeout", "Date"], now: 1_700_000_100_000 });
  const page2 = start();
  page2.track("online");
  await elapse(2000);
  const last = browser.sent.at(-1)!;
  assert.deepEqual(
    last.events.map((e) => e.name),
    ["offline-1", "offline-2", "online"],
  );
  assert.deepEqual(
    last.events.slice(0, 2).map((e) => e.event_id),
    stored.map((e) => e.event_id),
  );
  assert.equal(
    browser.localStorage.getItem("logsight:" + KEY),
    null,
    "delivered: the stored queue is empty",
  );
});

test("the stored queue is bounded and shared by tabs without one erasing the other's events", async () => {
  const tabA = start();
  const tabB = start();
  browser.replies.push(new TypeError("offline"), new TypeError("offline"));
  for (let i = 0; i < 15; i++) tabA.track("a");
  for (let i = 0; i < 3; i++) tabB.track("b");
  await tabA.flush();
  await tabB.flush();
  const names = (
    JSON.parse(browser.localStorage.getItem("logsight:" + KEY)!) as LogSightEvent[]
  ).map((e) => e.name);
  assert.equal(names.filter((n) => n == "a").length, 15);
  assert.equal(names.filter((n) => n == "b").length, 3);
  browser.replies.push(...Array.from({ length: 20 }, () => new TypeError("offline")));
  for (let i = 0; i < 150; i++) tabA.track("flood");
  browser.dispatch("pagehide");
  assert.equal(JSON.parse(browser.localStorage.getItem("logsight:" + KEY)!).length, 100);
});

test("leaving the page: the queue goes with sendBeacon, text/plain with the key in the URL", async () => {
  const logsight = start();
  logsight.track("last-click");
  browser.document.visibilityState = "hidden";
  browser.dispatch("visibilitychange", {}, browser.document);
  assert.equal(browser.beacons.length, 1);
  const beacon = browser.beacons[0]!;
  assert.equal(beacon.url, "https://logsight.example/v1/events?key=lsk_test");
  assert.equal(typeof beacon.body, "string", "a string body is sent as text/plain: no preflight");
  assert.deepEqual(
    JSON.parse(beacon.body).events.map((e: LogSightEvent) => e.name),
    ["last-click"],
  );
  browser.dispatch("pagehide");
  await elapse(5000);
  assert.equal(browser.beacons.length, 1, "nothing is sent twice");
  assert.equal(browser.sent.length, 0);
});

test("a refused beacon keeps the events for the next page; no sendBeacon: fetch keepalive", async () => {
  const logsight = start();
  browser.beaconResult = false;
  logsight.track("big");
  browser.dispatch("pagehide");
  assert.equal(JSON.parse(browser.localStorage.getItem("logsight:" + KEY)!).length, 1);

  (globalThis.navigator as { sendBeacon?: unknown }).sendBeacon = undefined;
  const other = start();
  other.track("x");
  browser.dispatch("pagehide");
  const keepalive = browser.sent.find((s) => s.init.keepalive);
  assert.ok(keepalive);
  assert.equal(keepalive.url, "https://logsight.example/v1/events?key=lsk_test");
});

test("beforeSend can change an event, drop it, and a failing one drops only its event", async () => {
  const logsight = start({
    beforeSend(event) {
      if (event.name == "secret") return null;
      if (event.name == "boom") throw new Error("bug in beforeSend");
      if (event.name == "no-return") {
        event.properties = { mutated: true };
        return;
      }
      return { ...event, properties: { ...event.properties, scrubbed: true } };
    },
  });
  logsight.track("secret");
  logsight.track("boom");
  logsight.track("kept", { a: 1 });
  logsight.track("no-return");
  await logsight.flush();
  const events = browser.events();
  assert.deepEqual(
    events.map((e) => e.name),
    ["kept", "no-return"],
  );
  assert.deepEqual(events[0]!.properties, { a: 1, scrubbed: true });
  assert.deepEqual(events[1]!.properties, { mutated: true });
});

test("sampleRate keeps that share of events", async () => {
  let next = 0;
  const draws = [0.1, 0.6, 0.3, 0.9];
  mock.method(Math, "random", () => draws[next++ % draws.length]!);
  const half = start({ sampleRate: 0.5 });
  for (const name of ["a", "b", "c", "d"]) half.track(name);
  await half.flush();
  assert.deepEqual(
    browser.events().map((e) => e.name),
    ["a", "c"],
  );
  mock.restoreAll();
  const none = start({ sampleRate: 0 });
  none.track("never");
  none.captureException(new Error("never"));
  await none.flush();
  assert.equal(browser.events().length, 2);
});

test("uncaught errors and unhandled rejections are captured with frames and breadcrumbs", async () => {
  const logsight = start();
  const error = new TypeError("x is undefined");
  error.stack =
    "TypeError: x is undefined\n    at pay (https://shop.example/app.js:3:9)\n    at https://shop.example/app.js:9:1";
  browser.dispatch(
    "click",
    { target: { tagName: "BUTTON", id: "pay", className: "btn primary" } },
    browser.document,
  );
  console.warn("slow", 3);
  browser.dispatch("error", { message: "Uncaught TypeError: x is undefined", error });
  browser.dispatch("unhandledrejection", { reason: new RangeError("too far") });
  browser.dispatch("unhandledrejection", { reason: { code: 7 } });
  // A failed resource load (no message) is not a script error.
  browser.dispatch("error", {});
  await logsight.flush();
  const [uncaught, rejection, nonError] = browser.events() as unknown as LogSightEvent[];
  assert.equal(browser.events().length, 3);
  assert.equal(uncaught!.type, "error");
  assert.deepEqual(uncaught!.error, {
    type: "TypeError",
    value: "x is undefined",
    handled: false,
    stacktrace: {
      frames: [
        { filename: "https://shop.example/app.js", lineno: 9, colno: 1, in_app: true },
        {
          filename: "https://shop.example/app.js",
          function: "pay",
          lineno: 3,
          colno: 9,
          in_app: true,
        },
      ],
    },
  });
  assert.deepEqual(
    uncaught!.breadcrumbs!.map((c) => [c.category, c.message, c.level]),
    [
      ["ui.click", "button#pay.btn.primary", undefined],
      ["console", "slow 3", "warning"],
    ],
  );
  assert.equal(rejection!.error!.type, "RangeError");
  assert.equal(nonError!.error!.type, "UnhandledRejection");
  assert.equal(nonError!.error!.value, '{"code":7}');
});

test("captureException: handled, with context; strings and odd values too", async () => {
  const logsight = start();
  const id = logsight.captureException(new Error("card declined"), { order: 12 });
  logsight.captureException("plain string");
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  logsight.captureException(cyclic);
  await logsight.flush();
  const [first, second, third] = browser.events() as unknown as LogSightEvent[];
  assert.equal(first!.event_id, id);
  assert.equal(first!.error!.handled, true);
  assert.deepEqual(first!.properties, { order: 12 });
  assert.ok(first!.error!.stacktrace.frames.length > 0, "node's own V8 stack parses");
  assert.deepEqual([second!.error!.type, second!.error!.value], ["Error", "plain string"]);
  assert.equal(third!.error!.value, "[object Object]");
});

test("the same error in a loop is sent 5 times a minute, others still are", async () => {
  const logsight = start();
  for (let i = 0; i < 100; i++)
    browser.dispatch("error", { message: "loop", error: new Error("loop") });
  logsight.captureException(new Error("different"));
  await logsight.flush();
  assert.equal(browser.events().length, 6);
  await elapse(60_001);
  browser.dispatch("error", { message: "loop", error: new Error("loop") });
  await logsight.flush();
  assert.equal(browser.events().length, 7);
});

test("breadcrumbs: failed fetch and XHR, navigation; bounded; the page's calls are untouched", async () => {
  const logsight = start({ autoPageviews: true });
  browser.replies.push(404, new TypeError("Failed to fetch"), 200);
  const response = await browser.pageFetch("/api/missing");
  assert.equal(response.status, 404, "the page sees its own response");
  await assert.rejects(browser.pageFetch("/api/down", { method: "POST" }), TypeError);
  await browser.pageFetch("/api/ok");
  const xhr = browser.xhr();
  xhr.open("GET", "/api/legacy");
  xhr.send();
  xhr.finish(500);
  history.pushState({}, "", "/checkout");
  history.replaceState({ step: 2 }, "", "/checkout");
  logsight.captureException(new Error("after all that"));
  browser.sent.length = 0;
  await logsight.flush();
  const events = browser.events();
  // A pageview on load and one for the pushState; replaceState to the same URL is no navigation.
  assert.deepEqual(
    events.map((e) => e.type),
    ["pageview", "pageview", "error"],
  );
  assert.equal((events[1]!.context as { url: string }).url, "https://shop.example/checkout");
  const crumbs = (events[2] as unknown as LogSightEvent).breadcrumbs!.map((c) => c.message);
  assert.deepEqual(crumbs, [
    "GET /api/missing 404",
    "POST /api/down failed",
    "GET /api/legacy 500",
    "https://shop.example/cart?step=1 -> https://shop.example/checkout",
  ]);
  for (let i = 0; i < 100; i++) console.error("noise", i);
  logsight.captureException(new Error("later"));
  await logsight.flush();
  const later = browser.events().at(-1) as unknown as LogSightEvent;
  assert.equal(later.breadcrumbs!.length, 30);
  assert.equal(later.breadcrumbs!.at(-1)!.message, "noise 99");
});

test("never throws into the page: broken storage, fetch, beforeSend and odd arguments", async () => {
  browser.localStorage.broken = true;
  browser.sessionStorage.broken = true;
  (globalThis as { fetch?: unknown }).fetch = () => {
    throw new Error("fetch is broken");
  };
  const logsight = new LogSight(KEY, {
    beforeSend: () => {
      throw new Error("beforeSend is broken");
    },
  });
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  assert.doesNotThrow(() => {
    logsight.track("cyclic", cyclic);
    logsight.track(undefined as unknown as string, { big: BigInt(1) } as never);
    logsight.identify(null as unknown as string, 5 as never);
    logsight.captureException(undefined);
    logsight.captureMessage({
      toString: () => {
        throw new Error("no");
      },
    } as never);
    logsight.setContext("k", cyclic);
    logsight.pageview();
    browser.dispatch("pagehide");
  });
  await logsight.flush();
  await elapse(10_000);
  assert.doesNotThrow(() => {
    new LogSight(null as never, null as never).track("x");
    new LogSight(KEY, { host: 5 as never, sampleRate: "x" as never }).track("y");
  });

  // Without a browser at all (server-side rendering): constructing and calling are no-ops.
  browser.uninstall();
  assert.doesNotThrow(() => {
    const ssr = new LogSight(KEY);
    ssr.track("server");
    ssr.captureException(new Error("server"));
  });
  browser.install();
});

test("an event that cannot be serialized is dropped alone, not the batch", async () => {
  const logsight = start();
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  logsight.track("bad", cyclic);
  logsight.track("good");
  await logsight.flush();
  assert.deepEqual(
    browser.events().map((e) => e.name),
    ["good"],
  );
});
