// cli/oci/: the commands of nsjs-oci that start nothing (start, state, kill,
// delete, pause, resume, ps, list, features), the command line and the log.
// This module loads neither the index nor the addon: containerd calls the
// runtime four or five times per `ctr run --rm`, and these calls are most of
// them (bin/nsjs-oci.js loads main.js, which adds create and exec, only for
// those). Errors are one line on stderr and, with --log, a
// `{"level":"error","msg":…}` line there (what containerd shows its user),
// status 1. The messages containerd matches are runc's: "container does not
// exist", "container not running".
import type * as childProcess from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { cgroupPids, freeze, removeCgroup } from './cgroup';
import type { Hook } from './config';
import { OciError } from './errors';
import type { Outside } from './outside';
import { PARKED, alive, checkId, load, ociState, stateDir, status, type Saved } from './state';

/** The parked init's fds (nsjs-init --park): the start pipe's ends, the ready pipe, the console socket. */
export const START_R = 3;
export const START_W = 4;
export const READY_W = 5;
export const CONSOLE = 6;

export interface Globals {
  root: string;
  log?: string;
  logFormat: 'text' | 'json';
  systemdCgroup: boolean;
  debug: boolean;
}

export class Logger {
  constructor(private readonly g: Globals) {}
  private line(level: string, msg: string): void {
    if (!this.g.log) return;
    const time = new Date().toISOString();
    const text = this.g.logFormat === 'json' ? `${JSON.stringify({ level, msg, time })}\n` : `time="${time}" level=${level} msg=${JSON.stringify(msg)}\n`;
    try {
      fs.appendFileSync(this.g.log, text);
    } catch {
      // a log we cannot write must not hide the error itself
    }
  }
  error(msg: string): void {
    this.line('error', msg);
    process.stderr.write(`nsjs-oci: ${msg}\n`);
  }
  warn(msg: string): void {
    this.line('warning', msg);
    if (this.g.debug) process.stderr.write(`nsjs-oci: warning: ${msg}\n`);
  }
}

const HELP = `Usage: nsjs-oci [global options] <command> [options] <container-id>

An OCI runtime (runc's command line) on nsjs.

Commands: create, start, state, kill, delete, ps, exec, pause, resume, list, features
Global options: --root DIR (default /run/nsjs-oci), --log FILE, --log-format text|json,
  --systemd-cgroup, --debug
`;

/** Splits `argv` into options (with the names that take a value) and positionals, getopt-like. */
export function parseOptions(argv: string[], withValue: string[], flags: string[]): { opts: Map<string, string>; rest: string[] } {
  const opts = new Map<string, string>();
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      rest.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith('-') || a === '-' || rest.length > 0) {
      rest.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = a.replace(/^--?/, '').slice(0, eq < 0 ? undefined : eq - (a.startsWith('--') ? 2 : 1));
    if (withValue.includes(name)) {
      const v = eq >= 0 ? a.slice(eq + 1) : argv[++i];
      if (v === undefined) throw new OciError(`option ${a} needs a value`);
      opts.set(name, v);
    } else if (flags.includes(name)) {
      opts.set(name, eq >= 0 ? a.slice(eq + 1) : 'true');
    } else throw new OciError(`unknown option ${a}`);
  }
  return { opts, rest };
}

export const errnoName = (n: number): string => Object.entries(os.constants.errno).find(([, v]) => v === n)?.[0] ?? `errno ${n}`;

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Runs the hooks in order with the State on stdin; `stopAtFailure`: create's hooks fail the create, the others only warn. */
export function runHooks(kind: string, hooks: Hook[], stateJson: string, log: Logger, stopAtFailure: boolean): void {
  for (const [i, h] of hooks.entries()) {
    const args = h.args ?? [h.path];
    const env: Record<string, string> = {};
    for (const e of h.env ?? []) {
      const eq = e.indexOf('=');
      if (eq > 0) env[e.slice(0, eq)] = e.slice(eq + 1);
    }
    // node:child_process (and the node:dgram it loads) only for a hook: few bundles have one.
    const r = (require('node:child_process') as typeof childProcess).spawnSync(h.path, args.slice(1), {
      argv0: args[0],
      env,
      input: stateJson,
      stdio: ['pipe', 'inherit', 'inherit'],
      timeout: h.timeout === undefined ? undefined : h.timeout * 1000,
      killSignal: 'SIGKILL',
    });
    // A hook that never reads its stdin closes the pipe on us: that is no failure of the hook.
    const error = r.error && (r.error as NodeJS.ErrnoException).code !== 'EPIPE' ? r.error : undefined;
    const why = error ? error.message : r.signal ? `killed by ${r.signal}${h.timeout ? ` (timeout ${h.timeout}s)` : ''}` : r.status !== 0 ? `exit status ${r.status}` : '';
    if (!why) continue;
    const msg = `error running ${kind} hook #${i} (${h.path}): ${why}`;
    if (stopAtFailure) throw new OciError(msg);
    log.warn(msg);
  }
}

function start(g: Globals, id: string, log: Logger): number {
  const s = load(g.root, id);
  const st = status(g.root, s);
  if (st !== 'created') throw new OciError(st === 'stopped' ? 'container not running' : `cannot start a container that is ${st}`);
  const fds: number[] = [];
  try {
    fds.push(fs.openSync(`/proc/${s.pid}/fd/${START_W}`, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK));
    // A reader of the init's ready pipe (an anonymous pipe: the open never waits for a writer).
    fds.push(fs.openSync(`/proc/${s.pid}/fd/${READY_W}`, fs.constants.O_RDONLY));
  } catch {
    for (const fd of fds) fs.closeSync(fd);
    throw new OciError('container not running');
  }
  const [fd, ready] = fds;
  // Checked after the opens: the fds we hold are the parked init's pipes, not a recycled pid's.
  if (!alive(s)) {
    for (const f of fds) fs.closeSync(f);
    throw new OciError('container not running');
  }
  try {
    fs.writeSync(fd, '1');
  } finally {
    fs.closeSync(fd);
  }
  // EOF once the init's execv has closed its end (nsjs-init --park), or the errno of what failed before it.
  const failed = Buffer.alloc(4);
  let got = 0;
  try {
    while (got < 4) {
      const n = fs.readSync(ready, failed, got, 4 - got, null);
      if (n === 0) break;
      got += n;
    }
  } finally {
    fs.closeSync(ready);
  }
  fs.rmSync(path.join(stateDir(g.root, id), PARKED), { force: true });
  if (got === 4) {
    throw new OciError(`start: the container's program could not be run: ${errnoName(failed.readInt32LE(0))}`);
  }
  s.hooks.poststart.length && runHooks('poststart', s.hooks.poststart, JSON.stringify({ ...ociState(g.root, s), status: 'running', pid: s.pid }), log, false);
  return 0;
}

function parseSignal(sig: string): number {
  if (/^[0-9]+$/.test(sig)) {
    const n = Number(sig);
    if (n < 1 || n > 64) throw new OciError(`invalid signal ${sig}`);
    return n;
  }
  const name = sig.toUpperCase().startsWith('SIG') ? sig.toUpperCase() : `SIG${sig.toUpperCase()}`;
  const n = (os.constants.signals as Record<string, number>)[name];
  if (n === undefined) throw new OciError(`unknown signal ${sig}`);
  return n;
}

function kill(g: Globals, argv: string[]): number {
  const { opts, rest } = parseOptions(argv, [], ['all', 'a']);
  if (rest.length < 1 || rest.length > 2) throw new OciError('kill needs a container id and an optional signal');
  const s = load(g.root, rest[0]);
  const sig = parseSignal(rest[1] ?? 'SIGTERM');
  const st = status(g.root, s);
  if (opts.has('all') || opts.has('a')) {
    for (const pid of cgroupPids(s.cgroup)) {
      try {
        process.kill(pid, sig);
      } catch {
        // exited meanwhile
      }
    }
    if (st === 'paused' && sig === os.constants.signals.SIGKILL) freeze(s.cgroup, false);
    return 0;
  }
  if (st === 'stopped') throw new OciError('container not running');
  process.kill(s.pid, sig);
  if (st === 'paused' && sig === os.constants.signals.SIGKILL) freeze(s.cgroup, false);
  return 0;
}

/**
 * The mounts create made in a mount namespace the container does not own
 * (outside.ts), unmounted in reverse order by umount(8), through nsenter(1)
 * in a joined namespace: this module loads no addon, and the case is rare.
 * A namespace that is gone took its mounts with it.
 */
function unmountOutside(o: Outside, log: Logger): void {
  let ino: number | undefined;
  try {
    ino = fs.statSync(o.ns ?? '/proc/self/ns/mnt').ino;
  } catch {
    // the joined namespace's file is gone
  }
  if (ino !== o.ino) {
    log.warn(`the container's mounts (${o.targets.join(', ')}) are in a mount namespace this delete cannot reach`);
    return;
  }
  const enter = o.ns === undefined ? [] : ['nsenter', `--mount=${o.ns}`, '--'];
  const argv = [...enter, 'umount', '--lazy', '--', ...[...o.targets].reverse()];
  // Lazily, as for a hook: only a container without a mount namespace of its own has mounts here.
  const r = (require('node:child_process') as typeof childProcess).spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
  // "not mounted": one the container unmounted itself.
  const failed = (r.stderr ?? '').split('\n').filter((l) => l && !/not mounted/.test(l));
  if (r.error || failed.length > 0) throw new OciError(`cannot unmount the container's mounts: ${r.error?.message ?? failed.join('; ')}`);
}

/** SIGKILL to everything in the container and a wait for the init to be gone. */
function killAll(s: Saved): void {
  for (let i = 0; i < 500; i++) {
    const pids = cgroupPids(s.cgroup);
    if (alive(s) && !pids.includes(s.pid)) pids.push(s.pid);
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    sleep(10);
  }
  throw new OciError(`container ${s.id}: its processes did not die after SIGKILL`);
}

function remove(g: Globals, argv: string[], log: Logger): number {
  const { opts, rest } = parseOptions(argv, [], ['force', 'f']);
  if (rest.length !== 1) throw new OciError('delete needs exactly one container id');
  const force = opts.has('force') || opts.has('f');
  const id = checkId(rest[0]);
  let s: Saved;
  try {
    s = load(g.root, id);
  } catch (e) {
    // A state dir create left half made (no state.json) goes too.
    fs.rmSync(stateDir(g.root, id), { recursive: true, force: true });
    if (force) return 0;
    throw e;
  }
  const st = status(g.root, s);
  // created without --force is deleted, as runc does and containerd's task delete expects.
  if ((st === 'running' || st === 'paused') && !force) throw new OciError(`cannot delete container ${id} that is not stopped: ${st}`);
  if (st === 'paused') freeze(s.cgroup, false);
  killAll(s);
  removeCgroup(s.cgroup);
  if (s.outside) unmountOutside(s.outside, log);
  fs.rmSync(stateDir(g.root, id), { recursive: true, force: true });
  const stateJson = JSON.stringify({ ...ociState(g.root, s), status: 'stopped' });
  runHooks('poststop', s.hooks.poststop, stateJson, log, false);
  return 0;
}

function list(g: Globals, argv: string[]): number {
  const { opts } = parseOptions(argv, ['format', 'f'], ['quiet', 'q']);
  let ids: string[] = [];
  try {
    ids = fs.readdirSync(g.root).filter((d) => fs.existsSync(path.join(g.root, d, 'state.json')));
  } catch {
    // no root yet: nothing to list
  }
  const states = ids.map((id) => ociState(g.root, load(g.root, id)));
  if ((opts.get('format') ?? opts.get('f')) === 'json') process.stdout.write(`${JSON.stringify(states)}\n`);
  else if (opts.has('quiet') || opts.has('q')) for (const s of states) process.stdout.write(`${String(s.id)}\n`);
  else {
    process.stdout.write('ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER\n');
    for (const s of states) process.stdout.write(`${String(s.id)}\t${String(s.pid)}\t${String(s.status)}\t${String(s.bundle)}\t${String(s.created)}\troot\n`);
  }
  return 0;
}

function features(): number {
  const out = {
    ociVersionMin: '1.0.0',
    ociVersionMax: '1.1.0',
    hooks: ['prestart', 'createRuntime', 'poststart', 'poststop'],
    mountOptions: ['bind', 'rbind', 'ro', 'rw', 'nosuid', 'suid', 'nodev', 'dev', 'noexec', 'exec', 'sync', 'async', 'dirsync', 'mand', 'nomand',
      'atime', 'noatime', 'diratime', 'nodiratime', 'relatime', 'norelatime', 'strictatime', 'nostrictatime', 'silent', 'loud', 'defaults',
      'shared', 'rshared', 'private', 'rprivate', 'slave', 'rslave', 'unbindable', 'runbindable'],
    linux: {
      namespaces: ['cgroup', 'ipc', 'mount', 'network', 'pid', 'time', 'user', 'uts'],
      capabilities: [],
      cgroup: { v1: true, v2: true, systemd: false, systemdUser: false },
      seccomp: { enabled: false },
      apparmor: { enabled: false },
      selinux: { enabled: false },
    },
    annotations: { 'org.nsjs.oci.version': '1' },
  };
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  return 0;
}

function parseGlobals(argv: string[]): { g: Globals; rest: string[] } {
  const g: Globals = { root: '/run/nsjs-oci', logFormat: 'text', systemdCgroup: false, debug: false };
  let i = 0;
  for (; i < argv.length && argv[i].startsWith('-'); i++) {
    const a = argv[i];
    const eq = a.indexOf('=');
    const name = eq < 0 ? a : a.slice(0, eq);
    const value = () => {
      const v = eq >= 0 ? a.slice(eq + 1) : argv[++i];
      if (v === undefined) throw new OciError(`option ${name} needs a value`);
      return v;
    };
    if (name === '--root') g.root = path.resolve(value());
    else if (name === '--log') g.log = value();
    else if (name === '--log-format') {
      const f = value();
      if (f !== 'text' && f !== 'json') throw new OciError(`--log-format: ${f} is not text or json`);
      g.logFormat = f;
    } else if (name === '--systemd-cgroup') g.systemdCgroup = true;
    else if (name === '--debug') g.debug = true;
    else if (name === '--criu' || name === '--rootless') value();
    else if (name === '--version' || name === '-v' || name === '-h' || name === '--help') return { g, rest: [name] };
    else throw new OciError(`unknown global option ${a}`);
  }
  return { g, rest: argv.slice(i) };
}

function version(): string {
  const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', '..', '..', 'package.json'), 'utf8')) as { version: string };
  // go-runc reads the first line's "runc version " prefix.
  return `runc version 1.1.5-nsjs-oci\nnsjs-oci version ${pkg.version}\nspec: 1.1.0\n`;
}

/** The commands that start a process, which main.ts adds. */
export type Heavy = (g: Globals, cmd: string, argv: string[], log: Logger) => Promise<number> | undefined;

async function dispatch(g: Globals, cmd: string, argv: string[], log: Logger, heavy?: Heavy): Promise<number> {
  const started = heavy?.(g, cmd, argv, log);
  if (started) return started;
  const one = () => {
    const { rest } = parseOptions(argv, [], []);
    if (rest.length !== 1) throw new OciError(`${cmd} needs exactly one container id`);
    return rest[0];
  };
  switch (cmd) {
    case '--version':
    case '-v':
      process.stdout.write(version());
      return 0;
    case '--help':
    case '-h':
      process.stdout.write(HELP);
      return 0;
    case 'start':
      return start(g, one(), log);
    case 'state':
      process.stdout.write(JSON.stringify(ociState(g.root, load(g.root, one())), null, 2));
      return 0;
    case 'kill':
      return kill(g, argv);
    case 'delete':
      return remove(g, argv, log);
    case 'pause':
    case 'resume': {
      const s = load(g.root, one());
      const st = status(g.root, s);
      if (st === 'stopped') throw new OciError('container not running');
      if (cmd === 'pause' && st !== 'running' && st !== 'created') throw new OciError(`container ${s.id} is ${st}`);
      if (cmd === 'resume' && st !== 'paused') throw new OciError('container not paused');
      freeze(s.cgroup, cmd === 'pause');
      return 0;
    }
    case 'ps': {
      const { opts, rest } = parseOptions(argv, ['format', 'f'], []);
      if (rest.length < 1) throw new OciError('ps needs a container id');
      const s = load(g.root, rest[0]);
      const pids = cgroupPids(s.cgroup);
      if ((opts.get('format') ?? opts.get('f') ?? 'table') === 'json') process.stdout.write(`${JSON.stringify(pids)}\n`);
      else process.stdout.write(`PID\n${pids.join('\n')}\n`);
      return 0;
    }
    case 'list':
      return list(g, argv);
    case 'features':
      return features();
    case 'create':
    case 'exec':
      throw new OciError(`${cmd} is in main.js, not in light.js (bin/nsjs-oci.js chooses)`);
    default:
      throw new OciError(`unknown command ${JSON.stringify(cmd)} (see nsjs-oci --help)`);
  }
}

/** The command line; returns the exit status (bin/nsjs-oci.js makes it the process's and exits). */
export async function main(argv: string[], heavy?: Heavy): Promise<number> {
  let log = new Logger({ root: '', logFormat: 'text', systemdCgroup: false, debug: false });
  try {
    const { g, rest } = parseGlobals(argv);
    log = new Logger(g);
    if (rest.length === 0) {
      process.stderr.write(HELP);
      return 1;
    }
    return await dispatch(g, rest[0], rest.slice(1), log, heavy);
  } catch (e) {
    log.error(e instanceof OciError ? e.message : e instanceof Error ? (e.stack ?? e.message) : String(e));
    return 1;
  }
}
