// sandbox/: a place that outlives any one command (docker exec, not docker
// run each time). Sandbox.create() spawns the holder — nsjs-init --hold,
// PID 1 where there is a pid namespace — with the place (namespaces, maps,
// mounts, root, hostname, network) and the whole policy; every
// sandbox.spawn() joins all of the holder's namespaces through one setns on
// its pidfd (spawn/join.ts joinHolder) and has the same policy applied again
// in the child before execve, since joining alone would keep what we hold.
// With a pid namespace that join is made once, by the sandbox's gate
// (nsjs-init --gate, src-native/sandbox/enter.cc): our child, outside the
// pid namespace (so nothing inside can see, signal or trace it), which
// clones each command straight into the sandbox as our child.
//
// The rule that keeps this room small: the options of Sandbox.create() are
// either the place (PLACE below: made once, by the holder) or policy, and
// every policy option is handed as it was given to every command's spawn,
// so a policy option another room adds to spawnIsolated (seccomp, landlock)
// is applied again in every command without a line here.
import * as fs from 'node:fs';
import * as path from 'node:path';

import type { ResourceUsage } from '../cgroup/cgroup';
import { layout } from '../cgroup/layout';

import { NsError, invalidArgValue } from '../core/errors';
import { closeFd, initBinary, native, pid1Binary } from '../core/native';
import { NAMESPACE_FLAGS, type NamespaceType } from '../core/nstypes';
import { plainObject, record } from '../core/validate';
import type { Namespace } from '../ns/namespace';
import { joinHolder, type CgroupDirs } from '../spawn/join';
import { checkOptions, snapshotOptions, type SpawnOptions } from '../spawn/options';
import type { Process } from '../spawn/process';
import { allCapabilities } from '../policy/options';
import { runIsolated, type RunOptions, type RunResult } from '../spawn/run';
import { checkArgs, spawnChecked, spawnIntoCgroups, spawnIsolated } from '../spawn/spawn';
import { checkNarrower, NARROWABLE, narrowLandlock, narrowSeccomp, sandboxPolicy, type SandboxPolicy } from './policy';

/**
 * The options of {@link Sandbox.create} that make the place: the holder's
 * alone, never a command's. `cgroup` (issue 19) is one: made once for the
 * sandbox; each command enters the holder's cgroups before it joins
 * (spawn/join.ts JoinHolder.cgroups: CLONE_INTO_CGROUP on v2, a
 * cgroup.procs write on v1), or is born in them (the gate is in them), and
 * never gets a fresh one. With a pid namespace the gate counts as one more
 * task of a pids limit (and its ~1 MiB towards a memory limit) for the
 * sandbox's life; without one, a command's way in (nsjs-init --enter)
 * counts while it runs.
 */
const PLACE = ['namespaces', 'user', 'hostname', 'domainname', 'mounts', 'root', 'propagation', 'timeOffsets', 'network', 'cgroup'] as const;
/** Options of one command, never of the sandbox. */
const COMMAND = ['cwd', 'env', 'argv0', 'stdio', 'signal', 'timeout', 'killSignal', 'killTimeout', 'dieWithParent', 'terminal'] as const;
/** runIsolated's own options, for sandbox.run(). */
const RUN = ['input', 'encoding', 'maxBuffer', 'reject'] as const;
/** Neither: the holder is the sandbox's init, and what it joins is itself. */
const NEVER = ['join', 'init'] as const;

/**
 * Options of {@link Sandbox.create}: those of {@link SpawnOptions} that
 * describe a place (namespaces, user, mounts, root, hostname, domainname,
 * timeOffsets, network) and its policy (uid, gid, groups, capabilities,
 * rlimits, noNewPrivileges, newSession), applied to the holder and again
 * to every command. A hostile command inside has what the policy gives it
 * and nothing of ours: whatever it does to the place (files written,
 * processes left running) stays there for the next command until close().
 */
export type SandboxOptions = Omit<SpawnOptions, (typeof COMMAND)[number] | (typeof NEVER)[number]>;

/**
 * Options of one command in a sandbox: its `cwd` (inside the sandbox's root),
 * `env`, `argv0`, `stdio`, `signal`, `timeout`, `killSignal`,
 * `dieWithParent`, and a narrower policy (fewer capabilities, lower
 * rlimits, no_new_privs, another uid/gid only where the sandbox keeps
 * CAP_SETUID/CAP_SETGID, more seccomp refusals as `{ deny, errno }` on top
 * of the sandbox's profile, a `landlock` of its own enforced as a second
 * ruleset after the sandbox's); a wider one is ERR_INVALID_ARG_VALUE (a
 * Landlock rule asking for a right the sandbox's rules give nowhere at or
 * above that path, or a port they do not allow). The kernel checks every
 * ruleset of a process, so whatever a command's paths turn out to name
 * (a symlink a hostile earlier command left in a writable tree) it gets
 * no right the sandbox's rules deny; its cost is one more ruleset, an open
 * per path and a landlock_restrict_self in the child.
 */
export type SandboxSpawnOptions = Pick<SpawnOptions, (typeof COMMAND)[number] | (typeof NARROWABLE)[number]>;

/** Options of {@link Sandbox.run}: a command's, plus `input` and `encoding` as {@link runIsolated}. */
export type SandboxRunOptions = SandboxSpawnOptions & Pick<RunOptions, (typeof RUN)[number]>;

const ESRCH = -3;
const EINVAL = 22;
const EIO = 5;

interface Gate {
  readonly proc: Process;
  fd: number;
}

/**
 * Starts the sandbox's gate: nsjs-init --gate, our child in the sandbox's
 * cgroups, which joins the holder's namespaces (its children enter the pid
 * namespace) and then clones each command it is sent. It runs as we do,
 * with nothing of the sandbox's policy (each command applies that), no
 * seccomp filter and every capability we hold, so that it can join and
 * never narrows what a command may be given; nothing inside can reach it:
 * it is in no pid namespace of theirs, and its request socket is closed in
 * every command before the command's own code runs. undefined where the
 * kernel cannot join by pidfd (before Linux 5.8): commands then take
 * nsjs-init --enter.
 */
async function startGate(holder: number, pidfd: number, types: NamespaceType[], cgroups: CgroupDirs | undefined): Promise<Gate | undefined> {
  const pair = native().socketPair();
  if (typeof pair === 'number') throw new NsError({ errno: pair, syscall: 'socketpair', step: 'sandbox gate' });
  const [ours, theirs] = pair;
  let proc: Process;
  try {
    const mask = types.reduce((m, t) => m | NAMESPACE_FLAGS[t], 0);
    const options: SpawnOptions = record({
      stdio: [theirs, 'pipe', 'ignore', pidfd],
      env: {},
      seccomp: false,
      allowUserNamespaces: true,
      noNewPrivileges: false,
      newSession: false,
      capabilities: process.geteuid!() === 0 ? { keep: allCapabilities() } : undefined,
    });
    const args = ['--gate', String(mask)];
    proc = await (cgroups ? spawnIntoCgroups(cgroups, initBinary(), args, options) : spawnIsolated(initBinary(), args, options));
  } catch (err) {
    closeFd(ours);
    throw err;
  } finally {
    closeFd(theirs);
  }
  // One byte once it has joined, then EOF; EOF alone: it exited with setns's errno.
  let ready = 0;
  for await (const chunk of proc.stdout!) ready += (chunk as Buffer).length;
  if (ready === 1) return { proc, fd: ours };
  const status = await proc.wait();
  closeFd(ours);
  if (status.code === EINVAL) return undefined;
  throw new NsError({ errno: -(status.code || EIO), syscall: 'setns', step: `sandbox gate: join pid ${holder}` });
}

/** Every process whose namespace of `type` has this inode: what is inside a sandbox without a pid namespace. */
function processesIn(type: NamespaceType, inode: number): number[] {
  const out: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      if (fs.statSync(`/proc/${name}/ns/${type}`).ino === inode) out.push(Number(name));
    } catch {
      // gone, or not ours to look at
    }
  }
  return out;
}

/** /proc/PID/cgroup as hierarchy (its controllers, '' for v2) → path. */
function cgroupPaths(pid: number | 'self'): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of fs.readFileSync(`/proc/${pid}/cgroup`, 'latin1').split('\n')) {
    const m = /^[0-9]+:([^:]*):(.*)$/.exec(line);
    if (m) out.set(m[1], m[2]);
  }
  return out;
}

/**
 * The cgroups options.cgroup made for the holder (those it is in and we are
 * not), as directories here: what every command enters before it joins.
 */
function holderCgroups(pid: number): CgroupDirs {
  const ours = cgroupPaths('self');
  const l = layout();
  const out: { v2?: string; v1: string[] } = record({ v1: [] });
  for (const [controllers, at] of cgroupPaths(pid)) {
    const own = ours.get(controllers);
    const h = controllers === '' ? l.v2 : l.v1.get(controllers.split(',')[0]);
    if (own === undefined || own === at || !h) continue;
    // The mount shows the hierarchy from where our own path ends in h.own.
    const root = own.endsWith(h.own) ? own.slice(0, own.length - h.own.length) : '/';
    const dir = path.join(h.mount, path.relative(root || '/', at));
    if (controllers === '') out.v2 = dir;
    else out.v1.push(dir);
  }
  return out;
}

/** SIGKILL through a pidfd, so that a pid reused since /proc was read is never hit: false when it was gone. */
function killPid(pid: number): boolean {
  const pidfd = native().pidfdOpen(pid, 0);
  if (pidfd < 0) return false;
  try {
    return native().pidfdSendSignal(pidfd, 9) === 0;
  } finally {
    closeFd(pidfd);
  }
}

/**
 * A set of namespaces and a policy that outlive any one command, held by
 * nsjs-init as PID 1 (where there is a pid namespace), like a container
 * you exec into. Commands are children of our process entered into it, so
 * their `wait()` reports their own status.
 * @category Sandboxes
 * @example One place, many commands, the policy applied to each
 * ```ts
 * import { Sandbox } from 'nsjs';
 *
 * await using sb = await Sandbox.create({ namespaces: 'all', user: 'root', hostname: 'box', capabilities: { keep: [] }, rlimits: { nofile: [32, 32] } });
 * console.log((await sb.run('hostname')).stdout); // box
 * const sh = await sb.spawn('sh', ['-i'], { terminal: { cols: 80, rows: 24 } });
 * sh.terminal!.write('ulimit -n; exit\n'); // 32
 * await sh.wait();
 * ```
 * @throws {TypeError} `ERR_INVALID_ARG_VALUE` from `spawn`/`run` for an option wider than the sandbox's own.
 */
export class Sandbox {
  /** The holder's pid in our pid namespace (PID 1 of the sandbox's pid namespace where it has one). */
  readonly pid: number;

  readonly #holder: Process;
  #pidfd: number;
  readonly #join: object;
  readonly #policy: SandboxPolicy;
  /** The create() options that are policy, as given: handed to every command. */
  readonly #recorded: Record<string, unknown>;
  readonly #types: readonly NamespaceType[];
  readonly #inodes: [NamespaceType, number][];
  /**
   * Without a pid namespace: the first of #inodes held open until close()
   * has ended. close() finds what is left inside by that inode, and a
   * namespace's inode number is free again once nothing holds it: the next
   * namespace made anywhere could take it, and its processes be killed.
   */
  readonly #held: number;
  readonly #gate: Gate | undefined;
  readonly #commands = new Set<Process>();
  readonly #starting = new Set<Promise<unknown>>();
  #closing: Promise<void> | undefined;

  private constructor(holder: Process, pidfd: number, types: NamespaceType[], devpts: boolean, cgroups: CgroupDirs | undefined, gate: Gate | undefined, policy: SandboxPolicy, recorded: Record<string, unknown>) {
    this.pid = holder.pid;
    this.#holder = holder;
    this.#pidfd = pidfd;
    this.#types = types;
    this.#policy = policy;
    this.#recorded = recorded;
    this.#gate = gate;
    this.#join = joinHolder({ pid: holder.pid, types, devpts, pidfd: () => this.#pidfd, cgroups, gate: () => this.#gate?.fd ?? -1 });
    // A user namespace last: its processes are found by any other type first.
    this.#inodes = [...types.filter((t) => t !== 'user'), ...types.filter((t) => t === 'user')].map((t) => [t, fs.statSync(`/proc/${holder.pid}/ns/${t}`).ino]);
    this.#held = types.includes('pid') ? -1 : fs.openSync(`/proc/${holder.pid}/ns/${this.#inodes[0][0]}`, 'r');
  }

  /**
   * Makes the place and starts its holder. Resolves once the holder runs
   * in it; rejects as spawnIsolated() does (an NsError naming the failed
   * step, nothing left behind), or with ERR_INVALID_ARG_VALUE for an
   * option that belongs to a command, or no namespace at all.
   */
  static async create(options: SandboxOptions): Promise<Sandbox> {
    const o = plainObject(snapshotOptions(options), 'options');
    for (const key of [...COMMAND, ...NEVER])
      if (o[key] !== undefined)
        throw invalidArgValue(`options.${key}`, o[key], NEVER.includes(key as 'join') ? 'is not a Sandbox option' : 'is an option of each command: give it to sandbox.spawn()');
    const checked = checkOptions(o, true);
    if (checked.namespaces.size === 0)
      throw invalidArgValue('options.namespaces', o.namespaces, 'must name at least one namespace: a sandbox is a place');
    const recorded = record<Record<string, unknown>>({});
    for (const [key, value] of Object.entries(o)) if (!(PLACE as readonly string[]).includes(key)) recorded[key] = value;
    const types = [...checked.namespaces];
    const holder = await spawnIsolated(pid1Binary(), ['--hold'], record({ ...o, init: undefined, stdio: ['pipe', 'ignore', 'ignore'] }) as SpawnOptions);
    // Our child, not reaped before this continuation (the reap is a later
    // turn of the loop): the pid still names it, and from now on the pidfd does.
    const pidfd = native().pidfdOpen(holder.pid, 0);
    if (pidfd < 0) {
      holder.kill('SIGKILL');
      await holder.wait();
      throw new NsError({ errno: pidfd, syscall: 'pidfd_open', step: 'sandbox holder' });
    }
    let gate: Gate | undefined;
    try {
      const devpts = checked.mounts.some((m) => m.type === 'dev' && m.target === '/dev');
      const cgroups = checked.cgroup !== undefined ? holderCgroups(holder.pid) : undefined;
      const policy = sandboxPolicy(checked, checked.namespaces.has('user'));
      if (checked.namespaces.has('pid')) gate = await startGate(holder.pid, pidfd, types, cgroups);
      return new Sandbox(holder, pidfd, types, devpts, cgroups, gate, policy, recorded);
    } catch (err) {
      if (gate) {
        closeFd(gate.fd);
        await gate.proc.wait();
      }
      holder.kill('SIGKILL');
      await holder.wait();
      closeFd(pidfd);
      throw err;
    }
  }

  /** The holder's namespace of `type` (ESRCH once closed). */
  namespace(type: NamespaceType): Namespace {
    return this.#holder.namespace(type);
  }

  /**
   * With `cgroup`: what the sandbox's cgroup has used, every command
   * included (each one enters it before it joins: CLONE_INTO_CGROUP on v2,
   * a cgroup.procs write on v1); after close(), the final figures.
   */
  usage(): Promise<ResourceUsage> {
    return this.#holder.usage();
  }

  /** With `cgroup`: stops every process inside, commands included; resolves once the kernel says they all are. */
  freeze(): Promise<void> {
    return this.#holder.freeze();
  }

  /** With `cgroup`: lets a frozen sandbox run again. */
  thaw(): Promise<void> {
    return this.#holder.thaw();
  }

  /** Whether close() has been called or the holder is gone. */
  get closed(): boolean {
    return this.#closing !== undefined || this.#holder.exitStatus !== null;
  }

  /** The command's options merged with the sandbox's policy, checked narrower first. */
  #options(options: unknown, extra: readonly string[]): Record<string, unknown> {
    const o = options === undefined ? record<Record<string, unknown>>({}) : plainObject(snapshotOptions(options), 'options');
    for (const key of [...PLACE, ...NEVER])
      if (o[key] !== undefined) throw invalidArgValue(`options.${key}`, o[key], "is the sandbox's own, set once by Sandbox.create()");
    const allowed = [...COMMAND, ...NARROWABLE, ...extra] as readonly string[];
    for (const key of Object.keys(o))
      if (!allowed.includes(key) && o[key] !== undefined)
        throw invalidArgValue(`options.${key}`, o[key], `is not an option of a command in a sandbox (known: ${allowed.join(', ')})`);
    checkNarrower(o, this.#policy);
    const seccomp = o.seccomp === undefined ? undefined : narrowSeccomp(this.#recorded.seccomp, o.seccomp);
    if (this.closed) throw new NsError({ errno: ESRCH, syscall: 'setns', step: `join sandbox ${this.pid} (closed)` });
    const merged = record<Record<string, unknown>>({ ...this.#recorded, ...o, join: this.#join });
    if (seccomp !== undefined) merged.seccomp = seccomp;
    if (o.landlock !== undefined) merged.landlock = narrowLandlock(this.#recorded.landlock, o.landlock);
    return merged;
  }

  async #start<T>(start: Promise<T>, proc: (t: T) => Process | undefined): Promise<T> {
    this.#starting.add(start);
    try {
      const t = await start;
      const p = proc(t);
      if (p) {
        this.#commands.add(p);
        void p.wait().finally(() => this.#commands.delete(p));
        // Started while close() was under way: it waits for this one too.
        if (this.#closing) p.kill('SIGKILL');
      }
      return t;
    } finally {
      this.#starting.delete(start);
    }
  }

  /**
   * Starts `command` inside: in every namespace of the sandbox, with its
   * whole policy applied again before execve (credentials, capabilities,
   * rlimits, no_new_privs, the rest of what Sandbox.create() was given),
   * narrowed where `options` asks. Resolves and rejects as spawnIsolated().
   */
  spawn(command: string, args?: string[], options?: SandboxSpawnOptions): Promise<Process> {
    try {
      const argv = checkArgs(command, args);
      // Checked as copied: #options merged values of snapshots only (the
      // caller's, create()'s) and objects of ours; snapshotting them again
      // cost 13-18 µs per command (checkOptions alone is 19-28 µs).
      return this.#start(spawnChecked(command, argv, checkOptions(this.#options(options, []), true)), (p) => p);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** As {@link spawn}, resolving as runIsolated() does. */
  run(command: string, args?: string[], options?: SandboxRunOptions): Promise<RunResult<string>> {
    try {
      const argv = checkArgs(command, args);
      return this.#start(runIsolated(command, argv, this.#options(options, RUN) as RunOptions), () => undefined);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Kills everything inside and waits for it: with a pid namespace the
   * holder, whose death makes the kernel kill the rest; without one, each
   * command and every process found in the sandbox's namespaces. Once the
   * last process is gone so are its namespaces, and with them its mounts and
   * links. Any number of calls share the first one's promise.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#holder.kill('SIGKILL');
    const inside = () => {
      for (const p of this.#commands) p.kill('SIGKILL');
      if (this.#types.includes('pid')) return false;
      // Without a pid namespace, what a command left running (a daemon that
      // setsid'd away from it) is found by its namespaces, until none is left.
      let found = false;
      for (const pid of processesIn(...this.#inodes[0])) found = killPid(pid) || found;
      return found;
    };
    for (let round = 0; round < 100 && inside(); round++) await new Promise((r) => setTimeout(r, 10));
    await Promise.allSettled([...this.#starting]);
    inside();
    // No command is on its way in now: the gate may go (EOF on its socket).
    const gate = this.#gate;
    if (gate && gate.fd >= 0) {
      closeFd(gate.fd);
      gate.fd = -1;
    }
    await Promise.all([this.#holder.wait(), gate?.proc.wait(), ...[...this.#commands].map((p) => p.wait())]);
    closeFd(this.#pidfd);
    this.#pidfd = -1;
    if (this.#held >= 0) fs.closeSync(this.#held);
  }

  /** close(): `await using sandbox = await Sandbox.create(...)`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
