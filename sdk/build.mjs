// Builds dist/ (ES module + script-tag IIFE), checks the gzip budget, and runs the unit tests.
//   node build.mjs          build, then check the budget (exit 1 above it)
//   node build.mjs --size   check the budget of what is already built
//   node build.mjs --test   bundle test/*.test.ts and run them with node's test runner
import { spawnSync } from "node:child_process";
import { readFileSync, readdirSync, rmSync } from "node:fs";
import { gzipSync } from "node:zlib";
import * as esbuild from "esbuild";

const pkg = JSON.parse(readFileSync("package.json", "utf8"));
const common = {
  bundle: true,
  minify: true,
  // Private members start with "_": shortening them is most of what keeps the snippet small.
  mangleProps: /^_/,
  target: ["es2020"],
  legalComments: "none",
  define: { __VERSION__: JSON.stringify(pkg.version) },
  logLevel: "warning",
};

async function build() {
  rmSync("dist", { recursive: true, force: true });
  await esbuild.build({
    ...common,
    entryPoints: ["src/index.ts"],
    format: "esm",
    outfile: "dist/logsight.mjs",
  });
  await esbuild.build({
    ...common,
    entryPoints: ["src/global.ts"],
    format: "iife",
    outfile: "dist/logsight.js",
  });
  const tsc = spawnSync(
    "npx",
    [
      "tsc",
      "-p",
      "tsconfig.json",
      "--noEmit",
      "false",
      "--declaration",
      "--emitDeclarationOnly",
      "--outDir",
      "dist",
    ],
    { stdio: "inherit" },
  );
  if (tsc.status !== 0) process.exit(tsc.status ?? 1);
}

function checkSize(built) {
  const budget = JSON.parse(readFileSync("size-budget.json", "utf8"));
  let over = false;
  for (const [file, limit] of Object.entries(budget)) {
    if (!file.startsWith("dist/")) continue;
    const raw = readFileSync(file);
    const gz = gzipSync(raw, { level: 9 }).length;
    const ok = gz <= limit;
    over ||= !ok;
    console.log(
      `${ok ? "ok  " : "OVER"} ${file}: ${raw.length} B, ${gz} B gzip (budget ${limit} B)`,
    );
  }
  if (over) {
    console.error("size budget exceeded (size-budget.json)");
    // No over-budget file may stay behind for make to take as up to date, or to be served.
    if (built) rmSync("dist", { recursive: true, force: true });
    process.exit(1);
  }
}

async function test() {
  rmSync(".test-build", { recursive: true, force: true });
  const entryPoints = readdirSync("test")
    .filter((f) => f.endsWith(".test.ts"))
    .map((f) => `test/${f}`);
  await esbuild.build({
    bundle: true,
    platform: "node",
    format: "esm",
    target: ["node20"],
    define: common.define,
    entryPoints,
    outdir: ".test-build",
    outExtension: { ".js": ".mjs" },
    logLevel: "warning",
  });
  const files = readdirSync(".test-build").map((f) => `.test-build/${f}`);
  const run = spawnSync(process.execPath, ["--test", "--test-reporter=spec", ...files], {
    stdio: "inherit",
  });
  process.exit(run.status ?? 1);
}

const mode = process.argv[2];
if (mode === "--test") await test();
else {
  if (mode !== "--size") await build();
  checkSize(mode !== "--size");
}
