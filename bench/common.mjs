// Shared pieces of the benchmark: statistics, the C baseline driver, the flag
// sets and the contenders. Nothing here is part of the published package.
import { spawn as cpSpawn, execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as readline from 'node:readline';

export const BENCH = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.dirname(BENCH);
export const OUT = path.join(BENCH, 'out');
const require = createRequire(import.meta.url);

/** The package as users load it (dist/cjs, built by `npm run build:ts`). */
export function loadNsjs() {
  const entry = path.join(ROOT, 'dist', 'cjs', 'index.js');
  if (!fs.existsSync(entry)) throw new Error(`${entry} is missing: run \`npm run build:ts\` (and \`npm run build:native\`) first`);
  return require(entry);
}

export const now = () => process.hrtime.bigint();
export const ms = (ns) => Number(ns) / 1e6;

export function quantile(values, q) {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}
export const median = (v) => quantile(v, 0.5);

// ---- flags ----
export const CLONE = {
  time: 0x00000080,
  mnt: 0x00020000,
  cgroup: 0x02000000,
  uts: 0x04000000,
  ipc: 0x08000000,
  user: 0x10000000,
  pid: 0x20000000,
  net: 0x40000000,
};
export const ALL7 = ['user', 'pid', 'mnt', 'uts', 'ipc', 'net', 'cgroup'];
export const flagsOf = (types) => types.reduce((f, t) => f | CLONE[t], 0) >>> 0;

const TRUE = '/bin/true';
/** The `binds` set's directories, each bound read-only onto itself (bench/baseline.c BIND_DIRS). */
const BIND_DIRS = ['/usr', '/etc', '/var', '/tmp'];

/**
 * The flag sets of the latency table. For each: nsjs options, the C
 * baseline's flags, and the unshare(1) / bwrap(1) command lines that do the
 * same (null where the tool cannot). `user` always maps our ids to root
 * (nsjs user: 'root', unshare -r, bwrap --uid 0 --gid 0).
 */
export const SETS = [
  {
    id: 'none',
    label: 'none',
    ns: [],
    extra: 0,
    nsjs: {},
    unshare: [TRUE],
    bwrap: ['--dev-bind', '/', '/', TRUE],
  },
  {
    id: 'user',
    label: 'user',
    ns: ['user'],
    extra: 0,
    nsjs: { user: 'root' },
    unshare: ['-U', '-r', TRUE],
    bwrap: ['--unshare-user', '--uid', '0', '--gid', '0', '--dev-bind', '/', '/', TRUE],
  },
  {
    id: 'upmui',
    label: 'user+pid+mnt+uts+ipc',
    ns: ['user', 'pid', 'mnt', 'uts', 'ipc'],
    extra: 0,
    nsjs: { user: 'root' },
    unshare: ['-Upmui', '-r', '--fork', TRUE],
    bwrap: ['--unshare-user', '--unshare-pid', '--unshare-uts', '--unshare-ipc', '--uid', '0', '--gid', '0', '--dev-bind', '/', '/', TRUE],
  },
  {
    id: 'net',
    label: 'net',
    ns: ['net'],
    extra: 0,
    nsjs: {},
    unshare: ['-n', TRUE],
    bwrap: ['--unshare-net', '--dev-bind', '/', '/', TRUE],
  },
  {
    id: 'all',
    label: 'all (7: user+pid+mnt+uts+ipc+net+cgroup)',
    ns: ALL7,
    extra: 0,
    nsjs: { user: 'root' },
    unshare: ['-Upmuin', '-C', '-r', '--fork', TRUE],
    bwrap: ['--unshare-all', '--uid', '0', '--gid', '0', '--dev-bind', '/', '/', TRUE],
  },
  {
    id: 'alltime',
    label: 'all+time (8)',
    ns: [...ALL7, 'time'],
    extra: 0,
    nsjs: { user: 'root' },
    unshare: ['-Upmuin', '-C', '-T', '-r', '--fork', TRUE],
    bwrap: null, // bubblewrap has no time namespace
  },
  {
    id: 'pidmntproc',
    label: 'pid+mnt, fresh /proc',
    ns: ['pid', 'mnt'],
    extra: 1,
    nsjs: { mounts: [{ type: 'proc', target: '/proc' }] },
    unshare: ['-pm', '--fork', '--mount-proc', TRUE],
    bwrap: ['--unshare-pid', '--dev-bind', '/', '/', '--proc', '/proc', TRUE],
  },
  {
    // pidmntproc plus four read-only binds: the difference between the two
    // rows, over four, is what one bind mount costs.
    id: 'binds',
    label: 'pid+mnt, fresh /proc, 4 read-only binds',
    ns: ['pid', 'mnt'],
    extra: 1 | 2,
    nsjs: { mounts: [{ type: 'proc', target: '/proc' }, ...BIND_DIRS.map((d) => ({ type: 'bind', source: d, target: d, readonly: true }))] },
    unshare: null, // unshare(1) binds nothing
    bwrap: ['--unshare-pid', '--dev-bind', '/', '/', '--proc', '/proc', ...BIND_DIRS.flatMap((d) => ['--ro-bind', d, d]), TRUE],
  },
];

export function nsjsOptions(set, extra = {}) {
  return { namespaces: set.ns, stdio: 'inherit', ...set.nsjs, ...extra };
}

// ---- the C baseline ----
export function buildBaseline() {
  fs.mkdirSync(OUT, { recursive: true });
  const bin = path.join(OUT, 'baseline');
  const src = path.join(BENCH, 'baseline.c');
  const cc = process.env.CC || 'cc';
  execFileSync(cc, ['-O2', '-Wall', '-o', bin, src], { stdio: 'inherit' });
  return bin;
}

/** The baseline as a server: one command line in, one answer line out. */
export class Baseline {
  constructor(bin) {
    this.proc = cpSpawn(bin, [], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.lines = readline.createInterface({ input: this.proc.stdout });
    this.waiting = [];
    this.lines.on('line', (l) => this.waiting.shift()?.(l));
  }
  ask(cmd) {
    return new Promise((resolve, reject) => {
      this.waiting.push((line) => (line.startsWith('error') ? reject(new Error(`baseline: ${line} (${cmd})`)) : resolve(line)));
      this.proc.stdin.write(`${cmd}\n`);
    });
  }
  /** n sequential spawns; per-iteration ns. */
  async latency(mode, flags, extra, n) {
    const line = await this.ask(`lat ${mode} ${flags.toString(16)} ${extra} ${n}`);
    return line.trim().split(' ').map(Number);
  }
  /**
   * n pairs of spawns, each without and with the kernel calls of a memory+pids
   * cgroup on v1 (bench/baseline.c `cg`) under these parent directories
   * ('-' for no cgroup2 one); [bare ns, cgroup ns] per pair.
   */
  async cgroupPairs(mode, flags, n, v2, memory, pids) {
    const v = (await this.ask(`cg ${mode} ${flags.toString(16)} ${n} ${v2} ${memory} ${pids}`)).trim().split(' ').map(Number);
    return Array.from({ length: n }, (_, i) => [v[2 * i], v[2 * i + 1]]);
  }
  /**
   * n pairs of vfork- or fork-style spawns, each without and with the child's
   * kernel calls of a Landlock ruleset and a seccomp filter (bench/baseline.c
   * `pol`), the bytes nsjs would use, from these files. Per pair
   * [bare, policy], each ns clone to reaped, or with `detail` an object of
   * that (`wall`), clone to zombie (`zombie`), the child's CPU (`cpu`) and
   * the reaping waitid's CPU (`reap`).
   */
  async policyPairs(mode, flags, n, detail, filterFile, landlockFile) {
    const v = (await this.ask(`pol ${mode} ${flags.toString(16)} ${n} ${detail ? 1 : 0} ${filterFile} ${landlockFile}`)).trim().split(' ').map(Number);
    const k = detail ? 4 : 1;
    const arm = (at) => (detail ? { wall: v[at], zombie: v[at + 1], cpu: v[at + 2], reap: v[at + 3] } : v[at]);
    return Array.from({ length: n }, (_, i) => [arm(2 * k * i), arm(2 * k * i + k)]);
  }
  /** spawns/s for n spawns with k in flight. */
  async throughput(mode, flags, extra, n, k) {
    const line = await this.ask(`tput ${mode} ${flags.toString(16)} ${extra} ${n} ${k}`);
    return n / (Number(line) / 1e9);
  }
  /** CPU µs used so far by the baseline process itself and by its reaped children. */
  async cpu() {
    const [self, children] = (await this.ask('cpu')).trim().split(' ').map(Number);
    return { self, children };
  }
  close() {
    this.proc.stdin.end();
  }
}

// ---- Node contenders: one timed spawn-to-exit each, in ns ----
export function cpOnce(cmd, args, stdio = 'inherit') {
  return new Promise((resolve, reject) => {
    const t0 = now();
    const c = cpSpawn(cmd, args, { stdio });
    c.on('error', reject);
    c.on('exit', (code, signal) => {
      const dt = Number(now() - t0);
      if (code === 0) resolve(dt);
      else reject(new Error(`${cmd} ${args.join(' ')}: exit ${code ?? signal}`));
    });
  });
}

export async function nsjsOnce(nsjs, cmd, args, options) {
  const t0 = now();
  const p = await nsjs.spawnIsolated(cmd, args, options);
  const st = await p.wait();
  const dt = Number(now() - t0);
  if (st.code !== 0) throw new Error(`nsjs ${cmd}: exit ${st.code ?? st.signal}`);
  return dt;
}

export async function repeat(n, once) {
  const out = [];
  for (let i = 0; i < n; i++) out.push(await once());
  return out;
}

/** Runs `once` with k in flight until `deadline` (ns); returns spawns/s. */
export async function inFlight(k, durationMs, once) {
  const t0 = now();
  const end = t0 + BigInt(Math.round(durationMs * 1e6));
  let done = 0;
  const worker = async () => {
    while (now() < end) {
      await once();
      done++;
    }
  };
  await Promise.all(Array.from({ length: k }, worker));
  return done / (Number(now() - t0) / 1e9);
}

export function which(cmd) {
  for (const dir of (process.env.PATH || '/usr/bin:/bin').split(':')) {
    const p = path.join(dir, cmd);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // next
    }
  }
  return null;
}

export function fdCount() {
  return fs.readdirSync('/proc/self/fd').length;
}

/**
 * CPU and scheduling accounting of one thread of this process (default: the
 * main, event-loop thread): time on a CPU, time runnable but waiting for a
 * CPU (/proc/…/schedstat), and context switches.
 */
export function threadStat(tid = process.pid) {
  const [runNs, waitNs] = fs.readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').trim().split(' ').map(Number);
  const st = fs.readFileSync(`/proc/self/task/${tid}/status`, 'utf8');
  return {
    runMs: runNs / 1e6,
    waitMs: waitNs / 1e6,
    vol: Number(st.match(/^voluntary_ctxt_switches:\s*(\d+)/m)[1]),
    invol: Number(st.match(/^nonvoluntary_ctxt_switches:\s*(\d+)/m)[1]),
  };
}

/**
 * A 1 ms timer chain that records the longest gap between two of its
 * callbacks, counting from start(): unlike monitorEventLoopDelay's histogram
 * it also sees a loop that never reaches its timers at all.
 */
export function gapTicker() {
  let last = now();
  let maxGap = 0;
  let ticks = 0;
  let timer;
  const tick = () => {
    const t = now();
    maxGap = Math.max(maxGap, Number(t - last) / 1e6);
    last = t;
    ticks++;
    timer = setTimeout(tick, 1);
  };
  timer = setTimeout(tick, 1);
  return {
    stop() {
      clearTimeout(timer);
      maxGap = Math.max(maxGap, Number(now() - last) / 1e6);
      return { maxGap, ticks };
    },
  };
}

/** CPU µs used so far by this process (all threads) and by its reaped children (10 ms ticks). */
export function cpuNow() {
  const u = process.resourceUsage();
  const stat = fs.readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { self: u.userCPUTime + u.systemCPUTime, children: (Number(f[13]) + Number(f[14])) * 10_000 };
}
