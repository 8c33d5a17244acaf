import assert from "node:assert/strict";
import { test } from "node:test";

import { backoff, parseStack, retryDelay } from "../src/stack";

test("Chrome (V8) stacks: named, anonymous, async, constructor frames; oldest call first", () => {
  const stack = [
    "TypeError: Cannot read properties of undefined (reading 'total')",
    "    at computeTotal (https://shop.example/assets/app.4f3a2b1c.js:12:19)",
    "    at new Cart (https://shop.example/assets/app.4f3a2b1c.js:30:5)",
    "    at https://shop.example/assets/app.4f3a2b1c.js:41:3",
    "    at async checkout (https://shop.example/assets/app.4f3a2b1c.js:50:7)",
    "    at Array.forEach (<anonymous>)",
    "    at HTMLButtonElement.onclick (https://cdn.example/node_modules/ui/button.js:2:10)",
  ].join("\n");
  assert.deepEqual(parseStack(stack), [
    {
      filename: "https://cdn.example/node_modules/ui/button.js",
      function: "HTMLButtonElement.onclick",
      lineno: 2,
      colno: 10,
      in_app: false,
    },
    {
      filename: "https://shop.example/assets/app.4f3a2b1c.js",
      function: "async checkout",
      lineno: 50,
      colno: 7,
      in_app: true,
    },
    {
      filename: "https://shop.example/assets/app.4f3a2b1c.js",
      function: undefined,
      lineno: 41,
      colno: 3,
      in_app: true,
    },
    {
      filename: "https://shop.example/assets/app.4f3a2b1c.js",
      function: "new Cart",
      lineno: 30,
      colno: 5,
      in_app: true,
    },
    {
      filename: "https://shop.example/assets/app.4f3a2b1c.js",
      function: "computeTotal",
      lineno: 12,
      colno: 19,
      in_app: true,
    },
  ]);
});

test("a V8 message that looks like a location is not a frame", () => {
  const frames = parseStack(
    "Error: failed at https://x.example/a.js:1:2\n    at run (https://x.example/b.js:3:4)",
  );
  assert.deepEqual(
    frames.map((f) => f.filename),
    ["https://x.example/b.js"],
  );
});

test("Firefox (SpiderMonkey) stacks: anonymous, nested, async* and eval frames", () => {
  const stack = [
    "computeTotal@https://shop.example/app.js:12:19",
    "Cart@https://shop.example/app.js:30:5",
    "checkout/<@https://shop.example/app.js:41:3",
    "async*checkout@https://shop.example/app.js:50:7",
    "@https://shop.example/app.js:60:1",
    "run@https://shop.example/app.js line 2 > eval:1:8",
    "",
  ].join("\n");
  const frames = parseStack(stack);
  assert.deepEqual(
    frames.map((f) => [f.function, f.lineno, f.colno]),
    [
      ["run", 1, 8],
      [undefined, 60, 1],
      ["checkout", 50, 7],
      ["checkout/<", 41, 3],
      ["Cart", 30, 5],
      ["computeTotal", 12, 19],
    ],
  );
  assert.equal(frames[0]!.filename, "https://shop.example/app.js line 2 > eval");
  assert.ok(frames.every((f) => f.in_app));
});

test("Safari (JavaScriptCore) stacks: global code, native code skipped, bare locations", () => {
  const stack = [
    "computeTotal@https://shop.example/app.js:12:19",
    "forEach@[native code]",
    "https://shop.example/app.js:41:3",
    "global code@https://shop.example/app.js:70:11",
    "safari-extension://com.example.ext/content.js:5:2",
  ].join("\n");
  assert.deepEqual(
    parseStack(stack).map((f) => [f.function, f.filename, f.lineno, f.in_app]),
    [
      [undefined, "safari-extension://com.example.ext/content.js", 5, false],
      ["global code", "https://shop.example/app.js", 70, true],
      [undefined, "https://shop.example/app.js", 41, true],
      ["computeTotal", "https://shop.example/app.js", 12, true],
    ],
  );
});

test("extensions and bundled dependencies are not application code", () => {
  const frames = parseStack(
    "f@chrome-extension://abc/x.js:1:1\ng@moz-extension://abc/y.js:2:2\nh@https://a.example/node_modules/lib/z.js:3:3",
  );
  assert.deepEqual(
    frames.map((f) => f.in_app),
    [false, false, false],
  );
});

test("no stack, garbage and huge stacks", () => {
  assert.deepEqual(parseStack(undefined), []);
  assert.deepEqual(parseStack(42), []);
  assert.deepEqual(parseStack("just a message"), []);
  const huge = Array.from(
    { length: 500 },
    (_, i) => `    at f${i} (https://a.example/a.js:${i + 1}:1)`,
  ).join("\n");
  const frames = parseStack("RangeError: Maximum call stack size exceeded\n" + huge);
  assert.equal(frames.length, 50);
  // The crash site is kept: it is the last frame.
  assert.equal(frames.at(-1)!.function, "f0");
});

test("backoff doubles per attempt, is capped at 30 s and jittered between half and all", () => {
  assert.equal(backoff(0, 1), 1000);
  assert.equal(backoff(0, 0), 500);
  assert.equal(backoff(3, 1), 8000);
  assert.equal(backoff(3, 0), 4000);
  assert.equal(backoff(20, 1), 30_000);
  assert.equal(backoff(20, 0), 15_000);
  const samples = Array.from({ length: 200 }, () => backoff(2));
  assert.ok(samples.every((s) => s >= 2000 && s <= 4000));
  assert.ok(new Set(samples).size > 100, "jitter spreads retries");
});

test("Retry-After in seconds or as an HTTP date; backoff when absent or unreadable", () => {
  assert.equal(retryDelay("7", 0), 7000);
  assert.equal(retryDelay("0", 5), 0);
  const inTen = new Date(Date.now() + 10_000).toUTCString();
  const fromDate = retryDelay(inTen, 0);
  assert.ok(fromDate > 8000 && fromDate <= 10_000, String(fromDate));
  assert.equal(retryDelay(new Date(Date.now() - 60_000).toUTCString(), 0), 0);
  assert.equal(retryDelay(null, 2, 1), 4000);
  assert.equal(retryDelay("soon", 1, 0), 1000);
});

test("a Retry-After of weeks (a monthly quota) is waited at most an hour", () => {
  assert.equal(retryDelay(String(30 * 86_400), 0), 3_600_000);
  assert.equal(retryDelay(new Date(Date.now() + 20 * 86_400_000).toUTCString(), 0), 3_600_000);
});
