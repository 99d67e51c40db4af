#!/usr/bin/env node
// Where does an nsjs spawn spend its time? `node bench/profile.mjs [N]
// [MODE]` (not part of `npm run bench`; used to explain missed targets in
// RESULTS.md). MODE: phases, loop, pool, or all (default).
//
// 1. Phases of one all-namespace spawn, run sequentially N times, timed around
//    the same internal calls spawnIsolated makes (dist/cjs internals):
//    checkOptions, execCandidates+buildPlan, the synchronous part of
//    native().spawn (plan encoding and parse + queueing the AsyncWorker), the pool-thread
//    part (queue wait + clone + child set-up + exec, until the promise's
//    continuation runs), new Process (PidfdWatch + uv_poll_start), exit → wait().
// 2. The loop thread while spawning at 1/4/16 in flight: its own CPU time and
//    its run-queue wait (/proc/self/task/<pid>/schedstat), against wall time,
//    to tell "the loop is busy" from "the loop is runnable but not scheduled".
// 3. (pool) 16 in flight with UV_THREADPOOL_SIZE 1, 2, 4, 8.
// 4. (sched) 16 in flight with the pool threads at SCHED_BATCH or niced.
// 5. (seq) a steady sequential spawn loop to record with perf (see below).
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';

import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { ALL7, ROOT, gapTicker, inFlight, loadNsjs, median, now, nsjsOnce, quantile, threadStat } from './common.mjs';

const require = createRequire(import.meta.url);
const N = Number(process.argv[2] || 300);
const HEAD =
  '| while | wall ms | spawns/s | loop thread on CPU ms | loop thread runnable, waiting for a CPU ms | voluntary cs | involuntary cs | delay p50 | p99 | max | longest timer gap ms |\n' +
  '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|';
const nsjs = loadNsjs();
const dist = (m) => require(path.join(ROOT, 'dist', 'cjs', m));
const { checkOptions } = dist('spawn/options.js');
const { buildPlan, encodePlan } = dist('spawn/plan.js');
const { execCandidates } = dist('spawn/command.js');
const { native } = dist('core/native.js');
const { Process } = dist('spawn/process.js');

const OPTS = { namespaces: ALL7, user: 'root', stdio: 'inherit' };
const us = (ns) => Number(ns) / 1e3;

async function phases(opts, label) {
  const t = { check: [], plan: [], nativeSync: [], pool: [], process: [], exit: [], total: [] };
  for (let i = 0; i < N; i++) {
    const a = now();
    const c = checkOptions(opts);
    const b = now();
    const exec = execCandidates('/bin/true', c.env, true);
    const plan = buildPlan(c, '/bin/true', [], exec, { child: c.stdio.map((e) => (e === 'inherit' ? -1 : -2)) }, false);
    const d = now();
    const { ints, text, extras } = encodePlan(plan.native);
    const pr = native().spawn(ints, text, extras);
    const e = now();
    const r = await pr;
    const f = now();
    const p = new Process(r.pid, r.pidfd, { child: true });
    const g = now();
    await p.wait();
    const h = now();
    t.check.push(us(b - a));
    t.plan.push(us(d - b));
    t.nativeSync.push(us(e - d));
    t.pool.push(us(f - e));
    t.process.push(us(g - f));
    t.exit.push(us(h - g));
    t.total.push(us(h - a));
  }
  console.log(`\n### phases of one spawn (${label}), N=${N}, µs: median (p90)`);
  console.log('| phase | median µs | p90 µs |\n|---|---:|---:|');
  for (const [k, v] of Object.entries(t)) console.log(`| ${k} | ${median(v).toFixed(1)} | ${quantile(v, 0.9).toFixed(1)} |`);
  return t;
}

async function loopThread(label, work) {
  const s0 = threadStat(process.pid);
  const t0 = now();
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  const ticker = gapTicker();
  const rate = await work();
  const gap = ticker.stop();
  h.disable();
  const wall = Number(now() - t0) / 1e6;
  const s1 = threadStat(process.pid);
  const d = (v) => Math.max(0, v / 1e6 - 1).toFixed(2);
  console.log(
    `| ${label} | ${wall.toFixed(0)} | ${Number.isFinite(rate) ? rate.toFixed(0) : ''} | ${(s1.runMs - s0.runMs).toFixed(0)} | ${(s1.waitMs - s0.waitMs).toFixed(0)} | ` +
      `${s1.vol - s0.vol} | ${s1.invol - s0.invol} | ${d(h.percentile(50))} | ${d(h.percentile(99))} | ${d(h.max)} | ${gap.maxGap.toFixed(2)} |`,
  );
}

const mode = process.argv[3] || 'all';
for (let i = 0; i < 20; i++) await nsjsOnce(nsjs, '/bin/true', [], OPTS);
if (mode === 'all' || mode === 'phases') {
  await phases(OPTS, 'all 7 namespaces');
  await phases({ stdio: 'inherit' }, 'no namespaces');
  await phases({ ...OPTS, env: { PATH: process.env.PATH } }, 'all 7 namespaces, env: { PATH } only');
}
const DUR = Number(process.env.PROFILE_DUR || 2000);
if (mode === 'all' || mode === 'loop') {
  console.log('\n### the loop (main) thread while spawning, all 7 namespaces');
  console.log(HEAD);
  await loopThread('idle', () => new Promise((r) => setTimeout(() => r(NaN), DUR)));
  for (const k of [1, 4, 16]) await loopThread(`nsjs, ${k} in flight`, () => inFlight(k, DUR, () => nsjsOnce(nsjs, '/bin/true', [], OPTS)));
}
if (mode === 'all' || mode === 'pool') {
  // The same at 16 in flight with fewer or more libuv pool threads (each
  // size in a fresh process: the pool size is fixed at first use).
  console.log('\n### 16 in flight, all 7 namespaces, by UV_THREADPOOL_SIZE (one process each)');
  console.log(HEAD);
  for (const size of [1, 2, 4, 8]) {
    const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '0', 'one16'], {
      env: { ...process.env, UV_THREADPOOL_SIZE: String(size) },
      encoding: 'utf8',
    });
    process.stdout.write(r.stdout.trim().split('\n').pop() + '\n');
  }
}
if (mode === 'all' || mode === 'sched') {
  // What if the pool threads (where clone creates the namespaces) yielded to
  // the loop thread? Experiment only: the pool threads are reniced/rescheduled
  // from outside, and the children inherit it (harmless for /bin/true).
  console.log('\n### 16 in flight, all 7 namespaces, with the libuv pool threads rescheduled (one process each)');
  console.log(HEAD);
  for (const sched of ['default', 'SCHED_BATCH', 'nice 10', 'nice 19']) {
    const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '0', 'one16'], {
      env: { ...process.env, PROFILE_SCHED: sched },
      encoding: 'utf8',
    });
    process.stdout.write(r.stdout.trim().split('\n').pop() + '\n');
  }
}
if (mode === 'one16') {
  const sched = process.env.PROFILE_SCHED;
  if (sched && sched !== 'default') {
    // The pool threads are the ones (other than main) that burned CPU during the warm-up.
    const cpu = (t) => threadStat(t).runMs;
    const tids = fs.readdirSync('/proc/self/task').map(Number).filter((t) => t !== process.pid);
    const before = new Map(tids.map((t) => [t, cpu(t)]));
    for (let i = 0; i < 40; i++) await nsjsOnce(nsjs, '/bin/true', [], OPTS);
    const pool = tids.sort((a, b) => cpu(b) - before.get(b) - (cpu(a) - before.get(a))).slice(0, Number(process.env.UV_THREADPOOL_SIZE || 4));
    for (const t of pool) {
      if (sched === 'SCHED_BATCH') execFileSync('chrt', ['-b', '-p', '0', String(t)]);
      else execFileSync('renice', ['-n', sched.split(' ')[1], '-p', String(t)], { stdio: 'ignore' });
    }
  }
  const label = sched ? `pool threads ${sched}` : `UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE}`;
  await loopThread(`${label}, 16 in flight`, () => inFlight(16, DUR, () => nsjsOnce(nsjs, '/bin/true', [], OPTS)));
}
if (mode === 'seq') {
  // For perf: warm up, idle until 2.5 s after start, then spawn sequentially
  // for 4 s (all 7 namespaces, or none with PROFILE_NS=none), print the count.
  //   perf record -D 2400 -F 4000 -g -o perf.data -- node --perf-basic-prof bench/profile.mjs 0 seq
  //   perf script -i perf.data -F comm,pid,tid,ip,sym > perf.txt
  //   python3 bench/perf-summary.py perf.txt PID SPAWNS 4000
  const opts = process.env.PROFILE_NS === 'none' ? { stdio: 'inherit' } : OPTS;
  await new Promise((r) => setTimeout(r, Math.max(0, 2500 - performance.now())));
  const t0 = now();
  let n = 0;
  while (now() - t0 < 4_000_000_000n) {
    await nsjsOnce(nsjs, '/bin/true', [], opts);
    n++;
  }
  console.log(`PID ${process.pid} SPAWNS ${n}`);
  await new Promise((r) => setTimeout(r, 200));
}
if (mode !== 'one16' && mode !== 'seq') console.log(`\nload average ${fs.readFileSync('/proc/loadavg', 'utf8').trim()}`);
