// N sandboxes alive at once in one Node process (run with --expose-gc by
// bench/run.mjs): Node heap, RSS and fds per live sandbox, loop delay while
// they live, and the time until every wait() has resolved after SIGKILL.
// Prints one JSON line.
import { monitorEventLoopDelay } from 'node:perf_hooks';

import { ALL7, fdCount, loadNsjs, median, now } from './common.mjs';

const N = Number(process.argv[2] || 1000);
const nsjs = loadNsjs();
const OPTS = { namespaces: ALL7, user: 'root', stdio: 'ignore' };

const settle = async () => {
  for (let i = 0; i < 3; i++) {
    global.gc();
    await new Promise((r) => setImmediate(r));
  }
};

// Warm up (module loading, the addon, first-use caches) before the baseline.
await (await nsjs.spawnIsolated('/bin/true', [], OPTS)).wait();
await settle();
const before = { heap: process.memoryUsage().heapUsed, rss: process.memoryUsage().rss, fds: fdCount() };

const procs = [];
const waits = [];
const t0 = now();
let next = 0;
await Promise.all(
  Array.from({ length: 16 }, async () => {
    while (next < N) {
      next++;
      const p = await nsjs.spawnIsolated('/bin/sleep', ['600'], OPTS);
      procs.push(p);
      waits.push(p.wait());
    }
  }),
);
const startMs = Number(now() - t0) / 1e6;
await settle();
const alive = { heap: process.memoryUsage().heapUsed, rss: process.memoryUsage().rss, fds: fdCount() };

// Is the loop responsive while they all live?
const h = monitorEventLoopDelay({ resolution: 1 });
h.enable();
const timer = [];
for (let i = 0; i < 200; i++) {
  const t = now();
  await new Promise((r) => setTimeout(r, 0));
  timer.push(Number(now() - t) / 1e6);
}
await new Promise((r) => setTimeout(r, 1000));
h.disable();
const d = (v) => Math.max(0, v / 1e6 - 1);

const k0 = now();
for (const p of procs) p.kill('SIGKILL');
const statuses = await Promise.all(waits);
const killMs = Number(now() - k0) / 1e6;
const n = procs.length;
const resolved = statuses.length;
const signals = [...new Set(statuses.map((s) => s.signal))].join(',');
procs.length = 0;
waits.length = 0;
statuses.length = 0;
await settle();
const after = { heap: process.memoryUsage().heapUsed, fds: fdCount() };

console.log(
  JSON.stringify({
    n,
    startMs,
    heapPer: (alive.heap - before.heap) / N,
    rssPer: (alive.rss - before.rss) / N,
    fdPer: (alive.fds - before.fds) / N,
    loop: { p50: d(h.percentile(50)), p99: d(h.percentile(99)), max: d(h.max) },
    timer: { median: median(timer), max: Math.max(...timer) },
    killMs,
    resolved,
    signals,
    fdBefore: before.fds,
    fdAfter: after.fds,
    heapBefore: before.heap,
    heapAfter: after.heap,
  }),
);
