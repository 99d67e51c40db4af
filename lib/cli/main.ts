// cli/: the `nsjs` command line, on the public API only (../index): `run`
// (unshare), `exec` (nsenter), `ls` (lsns), `doctor` (features()). This file
// dispatches the verbs; args.ts reads a command line as util-linux's getopt
// does, run.ts, exec.ts, ls.ts and doctor.ts turn each verb's options into
// the API's, ids.ts reads numbers, names and id ranges. main() returns the
// exit status; bin/nsjs.js makes it the process's. Errors are one line on
// stderr, `nsjs: <what>: <reason>`, with status 1, as util-linux's
// err(EXIT_FAILURE, ...).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as util from 'node:util';

import { closeFd, native } from '../core/native';
import { Namespace, NsError, features, net, spawnIsolated, type Process, type SpawnOptions } from '../index';
import { UsageError } from './args';
import { DOCTOR_HELP, idMapReport, parseDoctor, renderDoctor, strictFailures } from './doctor';
import { EXEC_HELP, parseExec, type ExecRequest } from './exec';
import { LS_HELP, parseLs, render } from './ls';
import { RUN_HELP, attachTerminal, parseRun, type RunRequest } from './run';

const HELP = `
Usage:
 nsjs <command> [options] [--] [<program> [<argument>...]]

Run programs in Linux namespaces.

Commands:
 run    run a program in new namespaces (the options of unshare(1))
 exec   run a program in namespaces of other processes (the options of nsenter(1))
 ls     list namespaces (the options of lsns(8))
 doctor what works here, and how to fix what does not

Options:
 -h, --help     display this help
 -V, --version  display version

'nsjs <command> --help' shows the options of each command.
`;

const out = (s: string) => process.stdout.write(s);
const err = (s: string) => process.stderr.write(`${s}\n`);

function version(): string {
  const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as { version: string };
  return `nsjs ${pkg.version}\n`;
}

/** Status of a usage error: the message, and getopt's hint after getopt's own errors; nothing started. */
function usage(verb: string | undefined, message: string, getopt = true): number {
  err(`nsjs: ${message}`);
  if (getopt) err(`Try 'nsjs${verb ? ` ${verb}` : ''} --help' for more information.`);
  return 1;
}

/** One line for a failure of nsjs itself, and its status. */
function failure(what: string, e: unknown): number {
  err(`nsjs: ${what}: ${e instanceof Error ? e.message : String(e)}`);
  return 1;
}

/**
 * The fds the shell handed us besides 0-2 (`4>&1`, `exec 9<file`), which
 * unshare's and nsenter's program inherits. Node marks fds 0-15 (and any run
 * of open ones after) close-on-exec at startup (uv_disable_stdio_inheritance),
 * so that flag tells only the ones above; below, the fds Node opened itself
 * before our code ran are told by what they are: anonymous inodes (epoll,
 * eventfd), pipes of which we hold both ends (libuv's wakeup pipes) and
 * libuv's spare /dev/null. Read once, before nsjs opens anything, and never
 * guessing in favour of passing: an fd of Node's would give the program a
 * handle on our event loop.
 */
export function inheritedFds(): number[] {
  const seen: { fd: number; link: string; flags: number }[] = [];
  let names: string[];
  try {
    names = fs.readdirSync('/proc/self/fd');
  } catch {
    return [];
  }
  for (const name of names) {
    const fd = Number(name);
    if (!(fd > 2)) continue;
    try {
      const link = fs.readlinkSync(`/proc/self/fd/${fd}`);
      const flags = /^flags:\s*([0-7]+)/m.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'latin1'));
      if (flags) seen.push({ fd, link, flags: parseInt(flags[1], 8) });
    } catch {
      // the readdir's own fd, closed by now
    }
  }
  const O_CLOEXEC = 0o2000000;
  const O_ACCMODE = 3;
  return seen
    .filter(({ fd, link, flags }) => {
      if ((flags & O_CLOEXEC) === 0) return true;
      if (fd > 15 && !seen.some((o) => o.fd === fd - 1)) return false; // opened after startup, by Node
      if (link.startsWith('anon_inode:')) return false;
      if (link === '/dev/null' && (flags & O_ACCMODE) === 0) return false;
      if (link.startsWith('pipe:') && seen.some((o) => o.link === link && (o.flags & O_ACCMODE) !== (flags & O_ACCMODE))) return false;
      return true;
    })
    .map(({ fd }) => fd)
    .sort((a, b) => a - b);
}

let handed: number[] = [];

/**
 * `stdio: 'inherit'` widened to the fds we were handed, at their numbers.
 * The API takes 64 entries: an fd above 63 is not passed (util-linux would).
 */
function withInheritedFds(options: SpawnOptions): SpawnOptions {
  if (options.stdio !== 'inherit') return options;
  const fds = handed.filter((fd) => fd < 64);
  if (fds.length === 0) return options;
  const stdio: NonNullable<Exclude<SpawnOptions['stdio'], string>> = Array.from({ length: fds[fds.length - 1] + 1 }, (_, i) => (i < 3 || fds.includes(i) ? 'inherit' : null));
  return { ...options, stdio };
}

/** The command's exit status, or nsjs's failure to start it (126/127 as util-linux's errexec). */
async function start(command: string, args: string[], options: SpawnOptions, name = command): Promise<Process | number> {
  try {
    return await spawnIsolated(command, args, withInheritedFds(options));
  } catch (e) {
    const reason = (e: NsError) => {
      const [, description] = util.getSystemErrorMap().get(e.errno) ?? [e.code, e.message];
      return description.charAt(0).toUpperCase() + description.slice(1);
    };
    if (e instanceof NsError && e.step === 'execve') {
      err(`nsjs: failed to execute ${name}: ${reason(e)}`);
      return e.code === 'ENOENT' ? 127 : 126;
    }
    // unshare -R/-w/--load-interp's own words
    if (e instanceof NsError && e.step === 'binfmt register')
      return err(`nsjs: ${['ENOENT', 'EACCES', 'ENOTDIR'].includes(e.code) ? 'cannot open' : 'write failed'} ${e.path}: ${reason(e)}`), 1;
    if (e instanceof NsError && e.step === 'chroot') return err(`nsjs: cannot change root directory to '${e.path}': ${reason(e)}`), 1;
    // unshare --owner's own words
    if (e instanceof NsError && e.step?.endsWith('(owner)'))
      return err(`nsjs: ${e.syscall === 'setgroups' ? 'setgroups failed' : e.syscall === 'setresgid' ? 'setgid() failed' : 'setuid() failed'}: ${reason(e)}`), 1;
    // nsenter -r/-w's own words
    if (e instanceof NsError && e.step === 'chroot to the root fd')
      return err(`nsjs: ${e.code === 'EPERM' ? 'chroot failed' : 'change directory by root file descriptor failed'}: ${reason(e)}`), 1;
    if (e instanceof NsError && e.step === 'chdir to the working directory fd') return err(`nsjs: change directory by working directory file descriptor failed: ${reason(e)}`), 1;
    if (e instanceof NsError && e.step === 'chdir') return err(`nsjs: cannot change directory to ${e.path}: ${reason(e)}`), 1;
    if (e instanceof NsError && e.step?.startsWith('keep ns/')) {
      const type = e.step.slice('keep ns/'.length).replace('_for_children', '');
      if (type === 'mnt' && e.code === 'EINVAL')
        e.message += `. A mount namespace can be kept only on a mount that does not propagate into it: make ${path.dirname(e.path ?? '')} a private mount first (mount --bind DIR DIR; mount --make-private DIR)`;
      return failure(`cannot keep the ${type} namespace at ${e.path}`, e);
    }
    return failure(`cannot run ${name}`, e);
  }
}

// While the command runs nsjs ignores the signals a terminal or a careless
// `kill` sends, as unshare blocks SIGINT and SIGTERM: the command gets
// Ctrl-C itself (same process group), and nsjs stays to report its status.
const SHIELDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];
const ignore = () => {};

/**
 * unshare --forward-signals: SIGTERM and SIGINT sent to nsjs go to the
 * program (one that comes before it started is sent once it has). Returns
 * the handler to remove, and how to give it the process.
 */
function forwarder(): { handler: (s: NodeJS.Signals) => void; attach(proc: Process): void } {
  let target: Process | undefined;
  const pending: NodeJS.Signals[] = [];
  return {
    handler: (s) => (target ? target.kill(s) : pending.push(s)),
    attach(proc) {
      target = proc;
      for (const s of pending.splice(0)) proc.kill(s);
    },
  };
}

/**
 * Exit as the command did. A command killed by a signal kills nsjs with the
 * same signal (unshare does so, so that a shell sees 128+n and a core dump is
 * reported as such); where Node keeps the signal for itself (SIGUSR1 starts
 * the inspector, SIGPIPE is ignored, SIGSEGV may be V8's), the status is
 * 128+n as a shell would show it.
 */
async function exitLike(proc: Process, shield: (s: NodeJS.Signals) => void = ignore): Promise<number> {
  const status = await proc.wait();
  for (const s of SHIELDED) process.removeListener(s, shield);
  if (status.signal === null) return status.code ?? 1;
  const num = os.constants.signals[status.signal];
  if (!['SIGUSR1', 'SIGPIPE', 'SIGSEGV', 'SIGBUS', 'SIGFPE', 'SIGILL', 'SIGSTOP', 'SIGTSTP', 'SIGTTIN', 'SIGTTOU'].includes(status.signal)) {
    // No listener left: Node restores the default action, so this is fatal.
    if (process.listenerCount(status.signal) === 0) {
      process.kill(process.pid, status.signal);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  return 128 + num;
}

async function run(argv: string[]): Promise<number> {
  let request;
  try {
    request = parseRun(argv);
  } catch (e) {
    if (e instanceof UsageError) return usage('run', e.message, e.getopt);
    throw e;
  }
  if ('help' in request) return out(RUN_HELP.slice(1)), 0;
  if ('version' in request) return out(version()), 0;
  const r = request as RunRequest;
  const forward = r.forwardSignals ? forwarder() : undefined;
  const shield = forward ? forward.handler : ignore;
  for (const s of SHIELDED) process.on(s, shield);
  // The namespaces are bound by the parent while the child waits, before
  // the command runs (unshare binds before exec too): one that exits at
  // once cannot take them with it first.
  const options = r.persist.length ? { ...r.options, persist: Object.fromEntries(r.persist) } : r.options;
  const proc = await start(r.command, r.args, options, r.name);
  if (typeof proc === 'number') {
    for (const s of SHIELDED) process.removeListener(s, shield);
    return proc;
  }
  for (const f of r.publish ?? []) {
    try {
      using ns = proc.namespace('net');
      const forwarder = await net.forward(ns, f);
      void proc.wait().then(() => forwarder.close());
    } catch (e) {
      proc.kill('SIGKILL');
      await proc.wait();
      for (const s of SHIELDED) process.removeListener(s, shield);
      return failure(`cannot publish ${f.listen.host}:${f.listen.port}`, e);
    }
  }
  forward?.attach(proc);
  if (proc.terminal) return (await Promise.all([exitLike(proc, shield), attachTerminal(proc.terminal)]))[0];
  return exitLike(proc, shield);
}

const CGROUP2_SUPER_MAGIC = 0x63677270;

/** strerror(3)'s words for an error's errno, capitalised as util-linux prints them. */
function strerror(e: unknown): string {
  const errno = (e as NodeJS.ErrnoException).errno;
  const [, description] = (errno !== undefined && util.getSystemErrorMap().get(errno)) || ['', String(e)];
  return description.charAt(0).toUpperCase() + description.slice(1);
}

/**
 * nsenter -c: we move ourselves (every thread) into the cgroup of `pid`, as
 * nsenter writes its own pid there, so that the command we start is born
 * in it. cgroup v2 only: the first line of /proc/<pid>/cgroup is its path.
 * Returns the failure in nsenter's words, or undefined.
 */
function joinCgroupOf(pid: number): string | undefined {
  if (fs.statfsSync('/sys/fs/cgroup').type !== CGROUP2_SUPER_MAGIC) return '--join-cgroup is only supported in cgroup v2';
  let cgroup: string;
  try {
    const first = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n')[0];
    if (!first.includes(':')) return 'failed to get cgroup path';
    cgroup = first.slice(first.lastIndexOf(':') + 1);
  } catch (e) {
    return `failed to get cgroup path: ${strerror(e)}`;
  }
  let fd: number;
  try {
    fd = fs.openSync(`/sys/fs/cgroup/${cgroup}/cgroup.procs`, fs.constants.O_WRONLY | fs.constants.O_APPEND);
  } catch (e) {
    return `failed to open cgroup.procs: ${strerror(e)}`;
  }
  try {
    fs.writeSync(fd, String(process.pid));
  } catch (e) {
    return `write cgroup.procs failed: ${strerror(e)}`;
  } finally {
    fs.closeSync(fd);
  }
  return undefined;
}

/** nsenter -N: the net namespace of socket `fd` of `pid` (pidfd_getfd, then SIOCGSKNS). */
function socketNamespace({ pid, fd }: { pid: number; fd: number }): Namespace {
  const nsfd = native().socketNs(pid, fd);
  if (nsfd < 0) throw new NsError({ errno: nsfd, syscall: 'ioctl', step: `net namespace of fd ${fd} of pid ${pid} (pidfd_getfd, SIOCGSKNS)` });
  try {
    return Namespace.open(`/proc/self/fd/${nsfd}`, 'net');
  } finally {
    closeFd(nsfd);
  }
}

async function exec(argv: string[]): Promise<number> {
  let request;
  try {
    request = parseExec(argv);
  } catch (e) {
    if (e instanceof UsageError) return usage('exec', e.message, e.getopt);
    throw e;
  }
  if ('help' in request) return out(EXEC_HELP.slice(1)), 0;
  if ('version' in request) return out(version()), 0;
  const r = request as ExecRequest;
  if (r.joinCgroup !== undefined) {
    const failed = joinCgroupOf(r.joinCgroup);
    if (failed) return err(`nsjs: ${failed}`), 1;
  }
  const options: SpawnOptions & Record<string, unknown> = { ...r.options };
  // -r/-w: opened before the joins, as nsenter does, so paths of ours.
  const dirs: number[] = [];
  for (const [key, dir] of [['rootFd', r.rootDir], ['cwdFd', r.wdDir]] as const) {
    if (dir === undefined) continue;
    try {
      dirs.push((options[key] = fs.openSync(dir, 'r')));
    } catch (e) {
      for (const fd of dirs) fs.closeSync(fd);
      return err(`nsjs: cannot open ${dir}: ${strerror(e)}`), 1;
    }
  }
  const opened: Namespace[] = [];
  try {
    if (Array.isArray(r.join))
      for (const { type, path: file } of r.join) {
        if (file === '' && type === 'net' && r.netSocket) opened.push(socketNamespace(r.netSocket));
        else if (file === '' && type === 'user' && r.userParent !== undefined) {
          const own = Namespace.of(r.userParent, 'user');
          try {
            opened.push(own.parent());
          } finally {
            own.close();
          }
        } else opened.push(Namespace.open(file, type));
      }
    options.join = Array.isArray(r.join) ? opened : r.join;

    // nsenter -e: NAME=value pairs of /proc/<pid>/environ
    if (r.targetEnv !== undefined)
      options.env = Object.fromEntries(
        fs.readFileSync(`/proc/${r.targetEnv}/environ`, 'utf8').split('\0').filter((kv) => kv.includes('=')).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
      );
    if (r.follow) {
      const st = fs.statSync(`/proc/${r.follow.pid}`);
      if (r.follow.uid) options.uid = st.uid;
      if (r.follow.gid) options.gid = st.gid;
    }
  } catch (e) {
    for (const ns of opened) ns.close();
    for (const fd of dirs) fs.closeSync(fd);
    return failure('cannot open the namespaces to enter', e);
  }
  for (const s of SHIELDED) process.on(s, ignore);
  const proc = await start(r.command, r.args, options, r.name);
  for (const ns of opened) ns.close();
  for (const fd of dirs) fs.closeSync(fd);
  if (typeof proc === 'number') {
    for (const s of SHIELDED) process.removeListener(s, ignore);
    return proc;
  }
  return exitLike(proc);
}

async function ls(argv: string[]): Promise<number> {
  let request;
  try {
    request = parseLs(argv);
  } catch (e) {
    if (e instanceof UsageError) return usage('ls', e.message, e.getopt);
    throw e;
  }
  if ('help' in request) return out(LS_HELP.slice(1)), 0;
  if ('version' in request) return out(version()), 0;
  try {
    const list = request.listColumns ? [] : await Namespace.list();
    out(render(list, request));
    return 0;
  } catch (e) {
    // lsns's own one-line errors (errx): no usage hint
    if (e instanceof UsageError) return err(`nsjs: ${e.message}`), 1;
    return failure('cannot list namespaces', e);
  }
}

async function doctor(argv: string[]): Promise<number> {
  let request;
  try {
    request = parseDoctor(argv);
  } catch (e) {
    if (e instanceof UsageError) return usage('doctor', e.message, e.getopt);
    throw e;
  }
  if ('help' in request) return out(DOCTOR_HELP.slice(1)), 0;
  if ('version' in request) return out(version()), 0;
  try {
    const report = await features();
    out(request.json ? `${JSON.stringify({ ...report, idMaps: idMapReport() }, null, 2)}\n` : renderDoctor(report));
    const failed = request.strict ? strictFailures(report, request.strict) : [];
    if (failed.length > 0) err(`nsjs doctor: does not work here: ${failed.join(', ')}`);
    return failed.length > 0 ? 2 : 0;
  } catch (e) {
    return failure('cannot probe this system', e);
  }
}

/** Runs the command line `argv` (without `node` and the script) and returns the exit status. */
export async function main(argv: string[]): Promise<number> {
  handed = inheritedFds();
  const [verb, ...rest] = argv;
  switch (verb) {
    case 'run':
      return run(rest);
    case 'exec':
      return exec(rest);
    case 'ls':
      return ls(rest);
    case 'doctor':
      return doctor(rest);
    case 'help':
    case '-h':
    case '--help':
      out(HELP.slice(1));
      return 0;
    case '-V':
    case '--version':
      out(version());
      return 0;
    case undefined:
      return usage(undefined, 'no command given (run, exec, ls or doctor)');
    default:
      return usage(undefined, verb.startsWith('-') ? `unrecognized option '${verb}'` : `unknown command '${verb}'`);
  }
}
