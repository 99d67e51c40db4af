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
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

import { NsError } from '../../core/errors';
import { Namespace } from '../../ns/namespace';
import { CAPABILITIES } from '../../policy/options';
import type { SpawnOptions } from '../../spawn/options';
import type { Process } from '../../spawn/process';
import { runIsolated } from '../../spawn/run';
import { spawnIntoCgroups, spawnIsolated, type CgroupDirs } from '../../spawn/spawn';
import { initBinary, native } from '../../core/native';
import { createCgroup, removeCgroup, type CgroupState } from './cgroup';
import { loadBundle, processOf, secureJoin } from './config';
import { OciError } from './errors';
import { mountOutside, unmountOutside, type Outside } from './outside';
import { CONSOLE, READY_W, START_R, errnoName, main as lightMain, parseOptions, runHooks, type Globals, type Logger } from './light';
import { PARKED, alive, checkId, load, ociState, save, stateDir, type Saved } from './state';

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

/**
 * Starts the parked init, or an exec'd process parked the same way. Resolves
 * once it waits on its start pipe with its program found on the PATH (and
 * its pty's master sent to `consoleSocket`).
 */
async function spawnParked(part: { args: string[]; options: SpawnOptions; umask?: number; terminal: boolean; seccomp?: Buffer; propagation?: number; ambient?: string[] }, consoleSocket: string | undefined, cgroups?: CgroupDirs): Promise<{ proc: Process; start: [number, number] }> {
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
  let options = part.options;
  let filter: [number, number] | undefined;
  if (part.seccomp) {
    // At most BPF_MAXINSNS * 8 = 32 KiB: the pipe holds it all, so the write end is closed before spawn.
    const p = native().pipe(false);
    if (typeof p === 'number') throw new OciError('pipe2 failed');
    filter = p;
    fs.writeSync(p[1], part.seccomp);
    fs.closeSync(p[1]);
    park.push('--seccomp', String(stdio.length));
    stdio.push(p[0]);
  }
  if (part.propagation) park.push('--propagation', String(part.propagation));
  // Unknown names are spawnIsolated's to refuse.
  const bitOf = (c: string) => (CAPABILITIES as readonly string[]).indexOf(c);
  const ambient = (part.ambient ?? []).filter((c) => bitOf(c) >= 0).reduce((m, c) => m | (1n << BigInt(bitOf(c))), 0n);
  if (ambient) park.push('--ambient', String(ambient));
  const keep = options.capabilities?.keep;
  if (((part.seccomp && !options.noNewPrivileges) || part.propagation) && keep && !keep.includes('CAP_SYS_ADMIN')) {
    // As runc, which loads the filter and sets the root's propagation before
    // dropping capabilities: the init holds CAP_SYS_ADMIN (and CAP_SETPCAP
    // for the bounding set) only from its spawn until just before its execv.
    const held = (['CAP_SYS_ADMIN', 'CAP_SETPCAP'] as const).filter((c) => !keep.includes(c));
    options = { ...options, capabilities: { ...options.capabilities, keep: [...keep, ...held] } };
    park.push('--drop-caps', String(held.reduce((m, c) => m | (1n << BigInt(CAPABILITIES.indexOf(c))), 0n)));
  }
  const old = part.umask === undefined ? undefined : process.umask(part.umask);
  let proc: Process;
  try {
    const args = [...park, '--', ...part.args];
    proc = await (cgroups ? spawnIntoCgroups(cgroups, initBinary(), args, { ...options, stdio }) : spawnIsolated(initBinary(), args, { ...options, stdio }));
  } catch (e) {
    for (const fd of [...start, ...ready]) fs.closeSync(fd);
    if (filter) fs.closeSync(filter[0]);
    throw e instanceof NsError ? new OciError(`${e.message}`) : e;
  } finally {
    if (old !== undefined) process.umask(old);
    console?.destroy();
  }
  if (filter) fs.closeSync(filter[0]);
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
    if (answer.readInt32LE(0) === 3) throw new OciError(`linux.rootfsPropagation: ${errnoName(errno)}`);
    if (answer.readInt32LE(0) === 4) throw new OciError(`process.capabilities.ambient: ${errnoName(errno)}`);
    if (answer.readInt32LE(0) === 2)
      throw new OciError(`linux.seccomp: ${errno === os.constants.errno.EACCES ? 'the filter needs process.noNewPrivileges or CAP_SYS_ADMIN in process.capabilities' : errnoName(errno)}`);
    throw new OciError(`exec: ${JSON.stringify(part.args[0])}: ${errno === os.constants.errno.ENOENT ? 'executable file not found in $PATH' : errnoName(errno)}`);
  }
  return { proc, start: start as [number, number] };
}

/**
 * linux.sysctl, written before the container runs by a process in the
 * init's namespaces but not its mount namespace: through our own
 * /proc/sys, where the kernel resolves each key by the writer's
 * namespaces (config.ts allows only such keys), so a read-only /proc/sys
 * inside the container (readonlyPaths) does not stand in the way.
 */
async function writeSysctls(pid: number, list: [string, string][]): Promise<void> {
  if (list.length === 0) return;
  const join = (['user', 'net', 'ipc', 'uts'] as const)
    .filter((t) => fs.readlinkSync(`/proc/${pid}/ns/${t}`) !== fs.readlinkSync(`/proc/self/ns/${t}`))
    .map((t) => Namespace.of(pid, t));
  try {
    const script = 'while [ $# -gt 0 ]; do printf %s "$2" > "/proc/sys/$1" || exit 1; shift 2; done';
    // ip_forward and its kind check CAP_NET_ADMIN over the namespace, the others root's ownership.
    await runIsolated('/bin/sh', ['-c', script, 'sh', ...list.flat()], { join, seccomp: false, capabilities: { keep: ['CAP_NET_ADMIN', 'CAP_SYS_ADMIN', 'CAP_DAC_OVERRIDE'] } });
  } catch (e) {
    throw new OciError(`linux.sysctl: ${((e as { stderr?: string }).stderr ?? (e as Error).message).trim().split('\n').pop()}`);
  } finally {
    for (const n of join) n.close();
  }
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
  let outside: Outside | undefined;
  try {
    const b = loadBundle(opts.get('bundle') ?? opts.get('b') ?? process.cwd());
    for (const w of b.warnings) log.warn(w);
    try {
      if (b.outside) outside = mountOutside(b.outside.ns, b.rootfs, b.makeDirs, b.outside.mounts);
      else for (const d of b.makeDirs) fs.mkdirSync(secureJoin(b.rootfs, d), { recursive: true, mode: 0o755 });
      for (const f of b.outside ? [] : b.makeFiles) {
        const at = secureJoin(b.rootfs, f);
        fs.mkdirSync(path.dirname(at), { recursive: true, mode: 0o755 });
        fs.closeSync(fs.openSync(at, fs.constants.O_CREAT | fs.constants.O_WRONLY | fs.constants.O_NOFOLLOW, 0o644));
      }
      const made = createCgroup(id, b.cgroupsPath, g.systemdCgroup, b.resources);
      cgroup = made.state;
      const parked = await spawnParked(b, opts.get('console-socket'), made.enter);
      proc = parked.proc;
      fs.closeSync(parked.start[0]);
      fs.closeSync(parked.start[1]);
    } finally {
      for (const j of b.joined) j.close();
    }
    const pid = proc.pid;
    await writeSysctls(pid, b.sysctl);
    if (b.oomScoreAdj !== undefined) fs.writeFileSync(`/proc/${pid}/oom_score_adj`, String(b.oomScoreAdj));
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const s: Saved = {
      ociVersion: b.ociVersion, id, pid, starttime: stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19], bundle: b.bundle, rootfs: b.rootfs,
      created: new Date().toISOString(), annotations: b.annotations, cgroup, hooks: b.hooks,
    };
    if (b.seccomp) s.seccomp = b.seccomp.toString('base64');
    if (outside) s.outside = outside;
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
    if (outside) unmountOutside(outside);
    fs.rmSync(dir, { recursive: true, force: true });
    throw e;
  }
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
  // Its mount namespace is not the container's own: the root is the init's chroot (outside.ts).
  if (s.outside) part.options.chroot = s.rootfs;
  // runc's too: the container's filter holds every process in it.
  if (s.seccomp !== undefined) part.seccomp = Buffer.from(s.seccomp, 'base64');
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


/** nsjs-oci with every command: light.ts's and create and exec. */
export async function main(argv: string[]): Promise<number> {
  return lightMain(argv, (g, cmd, args, log) => (cmd === 'create' ? create(g, args, log) : cmd === 'exec' ? exec(g, args) : undefined));
}
