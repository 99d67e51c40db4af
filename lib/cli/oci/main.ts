// cli/oci/: `nsjs-oci`, an OCI runtime with runc's command line, as
// containerd-shim-runc-v2 (through go-runc) and runtime-tools drive it.
// Global options come before the command; errors are one line on stderr
// and, with --log, a `{"level":"error","msg":…}` line there (what
// containerd shows its user), status 1. The messages containerd matches
// are runc's: "container does not exist", "container not running".
//
// create spawns nsjs-init --park as the container's process (every
// namespace, mount and credential set up by spawnIsolated), which waits on
// a pipe before exec'ing the config's program; the runtime then exits, so
// the init is reparented to the caller's subreaper (the shim) with no
// runtime process between them. start writes one byte into that pipe.
import * as childProcess from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

import { NsError, spawnIsolated, type Process, type SpawnOptions } from '../../index';
import { initBinary, native } from '../../core/native';
import { cgroupPids, createCgroup, freeze, removeCgroup, type CgroupState } from './cgroup';
import { OciError, loadBundle, processOf, secureJoin, type Hook } from './config';
import { PARKED, alive, checkId, load, ociState, save, stateDir, status, type Saved } from './state';

/** The init's fds while parked (nsjs-init --park): the start pipe's ends and the ready pipe. */
const START_R = 3;
const START_W = 4;
const READY_W = 5;
const CONSOLE = 6;

interface Globals {
  root: string;
  log?: string;
  logFormat: 'text' | 'json';
  systemdCgroup: boolean;
  debug: boolean;
}

class Logger {
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
function parseOptions(argv: string[], withValue: string[], flags: string[]): { opts: Map<string, string>; rest: string[] } {
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

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Runs the hooks in order with the State on stdin; `stopAtFailure`: create's hooks fail the create, the others only warn. */
function runHooks(kind: string, hooks: Hook[], stateJson: string, log: Logger, stopAtFailure: boolean): void {
  for (const [i, h] of hooks.entries()) {
    const args = h.args ?? [h.path];
    const env: Record<string, string> = {};
    for (const e of h.env ?? []) {
      const eq = e.indexOf('=');
      if (eq > 0) env[e.slice(0, eq)] = e.slice(eq + 1);
    }
    const r = childProcess.spawnSync(h.path, args.slice(1), {
      argv0: args[0],
      env,
      input: stateJson,
      stdio: ['pipe', 'inherit', 'inherit'],
      timeout: h.timeout === undefined ? undefined : h.timeout * 1000,
      killSignal: 'SIGKILL',
    });
    const why = r.error ? r.error.message : r.signal ? `killed by ${r.signal}${h.timeout ? ` (timeout ${h.timeout}s)` : ''}` : r.status !== 0 ? `exit status ${r.status}` : '';
    if (!why) continue;
    const msg = `error running ${kind} hook #${i} (${h.path}): ${why}`;
    if (stopAtFailure) throw new OciError(msg);
    log.warn(msg);
  }
}

function writePidFile(file: string, pid: number): void {
  const abs = path.resolve(file);
  const tmp = path.join(path.dirname(abs), `.${path.basename(abs)}`);
  fs.writeFileSync(tmp, String(pid));
  fs.renameSync(tmp, abs);
}

function readAll(fd: number, size: number): Buffer {
  const buf = Buffer.alloc(size);
  let got = 0;
  while (got < size) {
    const n = fs.readSync(fd, buf, got, size - got, null);
    if (n === 0) break;
    got += n;
  }
  return buf.subarray(0, got);
}

/** A connected socket to --console-socket, whose fd the parked init sends the pty master over. */
async function connectConsole(socketPath: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const sock = net.createConnection(socketPath);
    sock.once('connect', () => resolve(sock));
    sock.once('error', (e) => reject(new OciError(`--console-socket ${socketPath}: ${(e as NodeJS.ErrnoException).code ?? e.message}`)));
  });
}

const errnoName = (n: number) => Object.entries(os.constants.errno).find(([, v]) => v === n)?.[0] ?? `errno ${n}`;

/**
 * Starts the parked init, or an exec'd process parked the same way. Resolves
 * once it waits on its start pipe with its program found on the PATH (and
 * its pty's master sent to `consoleSocket`).
 */
async function spawnParked(part: { args: string[]; options: SpawnOptions; umask?: number; terminal: boolean }, consoleSocket: string | undefined): Promise<{ proc: Process; start: [number, number] }> {
  if (part.terminal !== (consoleSocket !== undefined))
    throw new OciError(part.terminal ? 'process.terminal needs --console-socket' : '--console-socket needs process.terminal');
  const console = consoleSocket === undefined ? undefined : await connectConsole(consoleSocket);
  // Blocking pipes: the parked init blocks on one, we on the other.
  const start = native().pipe(false);
  const ready = native().pipe(false);
  if (typeof start === 'number' || typeof ready === 'number') throw new OciError('pipe2 failed');
  const stdio = [0, 1, 2, start[0], start[1], ready[1]];
  const park = ['--park', String(READY_W), String(START_R)];
  if (console) {
    // net.Socket keeps its fd on the handle (what child_process passes too).
    stdio.push((console as unknown as { _handle: { fd: number } })._handle.fd);
    park.push('--console', String(CONSOLE));
  }
  const old = part.umask === undefined ? undefined : process.umask(part.umask);
  let proc: Process;
  try {
    proc = await spawnIsolated(initBinary(), [...park, '--', ...part.args], { ...part.options, stdio });
  } catch (e) {
    for (const fd of [...start, ...ready]) fs.closeSync(fd);
    throw e instanceof NsError ? new OciError(`${e.message}`) : e;
  } finally {
    if (old !== undefined) process.umask(old);
    console?.destroy();
  }
  fs.closeSync(ready[1]);
  const answer = readAll(ready[0], 8);
  fs.closeSync(ready[0]);
  if (answer.length !== 8 || answer.readInt32LE(4) !== 0) {
    proc.kill('SIGKILL');
    await proc.wait();
    for (const fd of start) fs.closeSync(fd);
    if (answer.length !== 8) throw new OciError(`exec: ${JSON.stringify(part.args[0])}: the container's init died before its program was found`);
    const errno = answer.readInt32LE(4);
    if (answer.readInt32LE(0) === 1) throw new OciError(`console: ${errnoName(errno)}`);
    throw new OciError(`exec: ${JSON.stringify(part.args[0])}: ${errno === os.constants.errno.ENOENT ? 'executable file not found in $PATH' : errnoName(errno)}`);
  }
  return { proc, start: start as [number, number] };
}

async function create(g: Globals, argv: string[], log: Logger): Promise<number> {
  const { opts, rest } = parseOptions(argv, ['bundle', 'b', 'pid-file', 'console-socket', 'preserve-fds'], ['no-pivot', 'no-new-keyring', 'detach', 'd']);
  if (rest.length !== 1) throw new OciError(`create needs exactly one container id (got ${rest.length})`);
  if (opts.has('preserve-fds') && opts.get('preserve-fds') !== '0') throw new OciError('--preserve-fds is not supported by nsjs-oci yet');
  const id = checkId(rest[0]);
  fs.mkdirSync(g.root, { recursive: true, mode: 0o700 });
  const dir = stateDir(g.root, id);
  try {
    fs.mkdirSync(dir, { mode: 0o711 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new OciError(`container with given ID already exists: ${id}`);
    throw e;
  }
  let proc: Process | undefined;
  let cgroup: CgroupState | undefined;
  try {
    const b = loadBundle(opts.get('bundle') ?? opts.get('b') ?? process.cwd());
    for (const w of b.warnings) log.warn(w);
    try {
      for (const d of b.makeDirs) fs.mkdirSync(secureJoin(b.rootfs, d), { recursive: true, mode: 0o755 });
      for (const f of b.makeFiles) {
        const at = secureJoin(b.rootfs, f);
        fs.mkdirSync(path.dirname(at), { recursive: true, mode: 0o755 });
        fs.closeSync(fs.openSync(at, fs.constants.O_CREAT | fs.constants.O_WRONLY | fs.constants.O_NOFOLLOW, 0o644));
      }
      const parked = await spawnParked(b, opts.get('console-socket'));
      proc = parked.proc;
      fs.closeSync(parked.start[0]);
      fs.closeSync(parked.start[1]);
    } finally {
      for (const j of b.joined) j.close();
    }
    const pid = proc.pid;
    cgroup = createCgroup(pid, id, b.cgroupsPath, g.systemdCgroup, b.resources);
    if (b.oomScoreAdj !== undefined) fs.writeFileSync(`/proc/${pid}/oom_score_adj`, String(b.oomScoreAdj));
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const s: Saved = {
      ociVersion: b.ociVersion, id, pid, starttime: stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19], bundle: b.bundle, rootfs: b.rootfs,
      created: new Date().toISOString(), annotations: b.annotations, cgroup, hooks: b.hooks,
    };
    fs.writeFileSync(path.join(dir, PARKED), '');
    save(g.root, s);
    const stateJson = JSON.stringify(ociState(g.root, s));
    runHooks('createRuntime', b.hooks.createRuntime, stateJson, log, true);
    runHooks('prestart', b.hooks.prestart, stateJson, log, true);
    if (opts.has('pid-file')) writePidFile(opts.get('pid-file')!, pid);
    return 0;
  } catch (e) {
    if (proc) {
      proc.kill('SIGKILL');
      await proc.wait();
    }
    if (cgroup) removeCgroup(cgroup);
    fs.rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

function start(g: Globals, id: string, log: Logger): number {
  const s = load(g.root, id);
  const st = status(g.root, s);
  if (st !== 'created') throw new OciError(st === 'stopped' ? 'container not running' : `cannot start a container that is ${st}`);
  let fd: number;
  try {
    fd = fs.openSync(`/proc/${s.pid}/fd/${START_W}`, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
  } catch {
    throw new OciError('container not running');
  }
  // Checked after the open: the fd we hold is the parked init's pipe, not a recycled pid's.
  if (!alive(s)) {
    fs.closeSync(fd);
    throw new OciError('container not running');
  }
  fs.writeSync(fd, '1');
  fs.closeSync(fd);
  fs.rmSync(path.join(stateDir(g.root, id), PARKED), { force: true });
  s.hooks.poststart.length && runHooks('poststart', s.hooks.poststart, JSON.stringify({ ...ociState(g.root, s), status: 'running' }), log, false);
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
  fs.rmSync(stateDir(g.root, id), { recursive: true, force: true });
  const stateJson = JSON.stringify({ ...ociState(g.root, s), status: 'stopped' });
  runHooks('poststop', s.hooks.poststop, stateJson, log, false);
  return 0;
}

/**
 * A process in a created or running container: every namespace of its init
 * joined (setns on its pidfd), parked like the init until it is in the
 * container's cgroup, so that nothing it forks escapes the cgroup.
 */
async function exec(g: Globals, argv: string[]): Promise<number> {
  const { opts, rest } = parseOptions(argv, ['process', 'p', 'pid-file', 'console-socket', 'cwd', 'preserve-fds'], ['detach', 'd', 'tty', 't']);
  if (rest.length < 1) throw new OciError('exec needs a container id');
  const s = load(g.root, rest[0]);
  if (!alive(s)) throw new OciError('cannot exec in a stopped container');
  let spec: unknown;
  const file = opts.get('process') ?? opts.get('p');
  if (file !== undefined) {
    if (rest.length > 1) throw new OciError('exec takes --process or a command, not both');
    try {
      spec = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (e) {
      throw new OciError(`--process ${file}: ${(e as Error).message}`);
    }
  } else {
    if (rest.length < 2) throw new OciError('exec needs --process or a command');
    spec = { args: rest.slice(1), cwd: opts.get('cwd') ?? '/', env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], terminal: opts.has('tty') || opts.has('t') };
  }
  if (opts.has('preserve-fds') && opts.get('preserve-fds') !== '0') throw new OciError('--preserve-fds is not supported by nsjs-oci yet');
  const part = processOf(spec, 'process');
  part.options.join = { pid: s.pid };
  const { proc, start } = await spawnParked(part, opts.get('console-socket'));
  try {
    for (const dir of s.cgroup.dirs) fs.writeFileSync(path.join(dir, 'cgroup.procs'), String(proc.pid));
    if (part.oomScoreAdj !== undefined) fs.writeFileSync(`/proc/${proc.pid}/oom_score_adj`, String(part.oomScoreAdj));
    if (opts.has('pid-file')) writePidFile(opts.get('pid-file')!, proc.pid);
  } catch (e) {
    proc.kill('SIGKILL');
    await proc.wait();
    throw e instanceof OciError ? e : new OciError(`exec: ${(e as Error).message}`);
  } finally {
    fs.closeSync(start[0]);
  }
  fs.writeSync(start[1], '1');
  fs.closeSync(start[1]);
  if (opts.has('detach') || opts.has('d')) return 0;
  const st = await proc.wait();
  return st.code ?? 128 + (os.constants.signals as Record<string, number>)[st.signal ?? 'SIGKILL'];
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

async function dispatch(g: Globals, cmd: string, argv: string[], log: Logger): Promise<number> {
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
    case 'create':
      return create(g, argv, log);
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
    case 'exec':
      return exec(g, argv);
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
    default:
      throw new OciError(`unknown command ${JSON.stringify(cmd)} (see nsjs-oci --help)`);
  }
}

/** The command line; returns the exit status (bin/nsjs-oci.js makes it the process's and exits). */
export async function main(argv: string[]): Promise<number> {
  let log = new Logger({ root: '', logFormat: 'text', systemdCgroup: false, debug: false });
  try {
    const { g, rest } = parseGlobals(argv);
    log = new Logger(g);
    if (rest.length === 0) {
      process.stderr.write(HELP);
      return 1;
    }
    return await dispatch(g, rest[0], rest.slice(1), log);
  } catch (e) {
    log.error(e instanceof OciError ? e.message : e instanceof Error ? (e.stack ?? e.message) : String(e));
    return 1;
  }
}
