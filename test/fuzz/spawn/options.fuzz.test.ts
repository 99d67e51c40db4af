// Fuzzing the spawn options (issue 8, item 4) with fast-check: 100,000
// generated option objects, biased toward the near-valid (the right keys
// with wrong types or ranges, unknown keys, options missing the namespace
// they need, valid combinations), through the contract of API.md:
//
//  (a) valid options spawn: `true` runs and exits cleanly — or the kernel
//      refuses a step, which rejects with an NsError naming that step and
//      one of LEGIT_KERNEL_CODES (see there why each is legitimate; an
//      unreachable gateway only as gatewayOffSubnet allows). What
//      checkOptions accepts must also be well-formed for the plan (no hole,
//      no function, integer rlimits, addresses inet_pton takes): a bad
//      value that validation lets through shows here even where the spawn
//      would not fail loudly;
//  (b) invalid options throw as Node core does, naming the option, with
//      nothing started: a TypeError ERR_INVALID_ARG_TYPE, ERR_INVALID_ARG_VALUE
//      or ERR_UNKNOWN_SIGNAL, or a RangeError ERR_OUT_OF_RANGE.
//
// Spawning 100,000 processes would take minutes, so every generated object
// goes through checkOptions (lib/spawn/options.ts, which spawnIsolated calls
// before anything native), and only samples are spawned for real: the first
// SPAWNED valid ones (half of them with new namespaces; 16 in flight), and
// the first INVALID_SPAWNED invalid ones through spawnIsolated, which must
// reject as checkOptions threw with the native spawn never called (the
// binding is wrapped to count its calls). Values that would touch the host
// outside a sandbox (raw mount flags like MS_REMOUNT, shared propagation,
// joining other processes, addresses outside 169.254.0.0/16 and
// 2001:db8::/32, a binfmt_misc registration, a namespace kept on a file
// that exists) are validated but never spawned (safeToSpawn). Every key of
// SpawnOptions is drawn, the internal ones of the CLI (persist, chroot,
// rootFd, cwdFd, binfmtRegister) and user.owner too.
//
// Options are read once (issue 13, items 8, 9): objects are also twisted
// (arbitraries.ts Twist) into getters, Proxies and Object.prototype keys.
// A getter or trap that throws is ERR_INVALID_ARG_VALUE naming the option,
// with the caller's error as its cause, before anything is started; a
// getter that answers differently later is called once, and the options
// are checked as its first answer; a transparent Proxy (of the options or
// of one value) is checked as its target; a key put on Object.prototype
// (every option, nested option and internal plan key, in turn, for every
// 20th object, removed again in a finally) changes nothing. An env value
// that cannot be converted to a string
// (Object.create(null), a Symbol, or its own toString throwing) is
// ERR_INVALID_ARG_VALUE naming options.env.<key>, with the conversion's
// error as its cause.
//
// A failure prints fast-check's seed and shrunk counterexample; replay with
// NSJS_FUZZ_SEED=<seed> npm run test:fuzz.
import * as fs from 'node:fs';
import { BlockList, isIP } from 'node:net';
import * as os from 'node:os';
import { inspect } from 'node:util';

import fc from 'fast-check';

import { Namespace, NsError, spawnIsolated, type Process } from '../../../lib';
import { native } from '../../../lib/core/native';
import { RLIMITS } from '../../../lib/policy/options';
import { checkOptions, type Checked } from '../../../lib/spawn/options';
import { children, expectNoLeaks, links, snapshot } from '../../helpers/leaks';
import { GetterError, POLLUTABLE, TWIST, options, safeToSpawn, setDirFd, setJoinable, type Twist } from './arbitraries';

const RUNS = 100_000;
const SPAWNED = 2_000;
const INVALID_SPAWNED = 2_000;
const IN_FLIGHT = 16;

const root = process.getuid!() === 0;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Errno codes a valid option set may legitimately get from the kernel, as
 * an NsError naming the step, and why:
 * - EPERM, EACCES: privilege. Unprivileged: namespaces without 'user', uid,
 *   gid or groups that are not ours, id maps beyond our own ids, a veth on
 *   the host, proc/sysfs mounts the user namespace does not own, raising a
 *   hard rlimit, a PATH entry we may not search; also nofile above
 *   fs.nr_open, which even root gets.
 * - EINVAL: a combination the kernel refuses that the options cannot see: a
 *   uid/gid not mapped in the new user namespace, pivot_root into a
 *   directory that is not a mount point, an MTU below IPv6's minimum with
 *   an IPv6 address.
 * - ENOENT, ENOTDIR, ELOOP, ENAMETOOLONG: paths (cwd, mount target or source,
 *   root, the command on PATH or after pivot_root).
 * - EBADF: a stdio fd that is not open.
 * - ENODEV: a raw mount of a filesystem type the kernel does not have.
 * - EEXIST: a veth host name already in use (fuzzed names repeat), or the
 *   same address twice on a link.
 * - EBUSY: pivot_root or a mount over something busy.
 * - ESRCH: a join target that does not exist.
 * - EAGAIN: nproc 0 unprivileged: execve refuses a process that changed its
 *   uid while over RLIMIT_NPROC (Linux 3.1+), and nsjs-init cannot fork.
 * - ERANGE: a time offset that would take the clock inside below zero (a
 *   boottime offset larger than the uptime), which depends on the clock's
 *   value at the time, so the options cannot check it.
 */
const LEGIT_KERNEL_CODES = new Set([
  'EPERM', 'EACCES', 'EINVAL', 'ENOENT', 'ENOTDIR', 'ELOOP', 'ENAMETOOLONG', 'EBADF', 'ENODEV', 'EEXIST', 'EBUSY', 'ESRCH', 'ERANGE', 'EAGAIN',
]);

/**
 * ENETUNREACH or EHOSTUNREACH routing via the host end's address, which is
 * legitimate only where the sandbox end has addresses of that family and
 * the gateway is on none of their subnets: the kernel takes a gateway only
 * on a subnet of the link. A family the sandbox end has no address of gets
 * no default route at all (checkOptions refuses a gateway with no family in
 * common), so an unreachable gateway of such a family is a bug.
 */
function gatewayOffSubnet(o: Record<string, unknown>, err: NsError): boolean {
  const via = /^RTM_NEWROUTE default via (.+)$/.exec(err.step ?? '')?.[1];
  if (!via || (err.code !== 'ENETUNREACH' && err.code !== 'EHOSTUNREACH')) return false;
  const type = isIP(via) === 6 ? 'ipv6' : 'ipv4';
  const address = (o.network as { veth: { address?: string | string[] } }).veth.address;
  const sameFamily = [address ?? []].flat().map((a) => a.split('/')).filter(([addr]) => isIP(addr) === isIP(via));
  return (
    sameFamily.length > 0 &&
    !sameFamily.some(([addr, prefix]) => {
      const subnet = new BlockList();
      subnet.addSubnet(addr, Number(prefix), type);
      return subnet.check(via, type);
    })
  );
}

const ARG_CODES = new Set(['ERR_INVALID_ARG_TYPE', 'ERR_INVALID_ARG_VALUE', 'ERR_OUT_OF_RANGE', 'ERR_UNKNOWN_SIGNAL']);

/** The caller's own code failed while being read (a throwing getter or trap): ERR_INVALID_ARG_VALUE with its error as the cause. */
function readFailure(err: unknown): boolean {
  return argError(err) && err.code === 'ERR_INVALID_ARG_VALUE' && err.cause instanceof GetterError;
}

/** What checkOptions made of `o`, comparable between two objects (a random veth host name aside). */
function outcome(o: unknown): string {
  try {
    return `ok ${JSON.stringify(checkOptions(o), (k, v: unknown) => {
      if (v instanceof Set) return [...v];
      if (typeof v === 'bigint') return `${v}n`;
      if (v instanceof AbortSignal) return 'AbortSignal';
      if (v instanceof Namespace) return String(v);
      if (k === 'hostName' && typeof v === 'string' && /^nsjs[0-9a-f]{8}$/.test(v)) return 'nsjs…';
      return v;
    })}`;
  } catch (err) {
    return `threw ${(err as { code?: string }).code} ${(err as Error).message}`;
  }
}

/** checkOptions under Object.prototype[key] = value, removed again before anything else runs. */
function pollutedOutcome(o: unknown, key: string, value: unknown): string {
  const proto = Object.prototype as Record<string, unknown>;
  proto[key] = value;
  try {
    return outcome(o);
  } finally {
    delete proto[key];
  }
}

/** The twisted object's contract (see the header); a message where it is broken. */
function twistBroken(t: Twist, o: unknown, err: unknown): string | undefined {
  if (t.calls > 1) return `the ${t.kind} of ${t.key} was read ${t.calls} times`;
  switch (t.kind) {
    case 'getter':
    case 'throwingProxy':
      // The options are copied key by key in order: an env value that cannot be converted may fail first.
      if (t.kind === 'getter' && argError(err) && /'options\.env\..*' cannot be converted/.test(err.message)) return undefined;
      if (!readFailure(err)) return `a throwing ${t.kind} gave ${err instanceof Error ? err.stack : String(err)}`;
      if (t.kind === 'getter' && !(err as Error).message.includes(`'options.${t.key}'`)) return `the error does not name options.${t.key}: ${(err as Error).message}`;
      return undefined;
    default: {
      t.calls = 0;
      const twisted = outcome(o);
      const plain = outcome(t.plain);
      return twisted === plain ? undefined : `the ${t.kind} of ${t.key} was checked as ${twisted}, its plain data as ${plain}`;
    }
  }
}

function argError(err: unknown): err is (TypeError | RangeError) & { code: string } {
  return (
    (err instanceof TypeError || err instanceof RangeError) &&
    ARG_CODES.has((err as { code?: unknown }).code as string) &&
    // As Node's: only an out-of-range number is a RangeError.
    (err.constructor === RangeError) === ((err as { code?: unknown }).code === 'ERR_OUT_OF_RANGE') &&
    /options/.test(err.message)
  );
}

/**
 * What checkOptions accepted must be well-formed for the plan: no array
 * with a hole (map and forEach skip them, and the native side reads one as
 * 0), no function where a value belongs (a prototype's method taken for an
 * option), every rlimit a known resource with integer limits. Returns the
 * path of the first problem.
 */
function malformed(value: unknown, at = 'checked'): string | undefined {
  if (typeof value === 'function') return `${at} is a function`;
  if (typeof value !== 'object' || value === null || value instanceof AbortSignal || value instanceof Namespace) return undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      if (!(i in value)) return `${at}[${i}] is a hole`;
      const bad = malformed(value[i], `${at}[${i}]`);
      if (bad) return bad;
    }
    return undefined;
  }
  for (const [k, v] of Object.entries(value)) {
    const bad = malformed(v, `${at}.${k}`);
    if (bad) return bad;
  }
  return undefined;
}

/**
 * Fields the native side parses again: rlimit resources and limits as
 * integers, addresses for inet_pton (which refuses a zone index); a
 * gateway, which needs one address family on both veth ends to route; and
 * the kill signal, one child_process knows (never 0, which kills nothing).
 */
function malformedFields(c: Checked): string | undefined {
  const bad = c.rlimits.find(([res, soft, hard]) => !Object.values(RLIMITS).includes(res as never) || ![soft, hard].every(Number.isSafeInteger));
  if (bad) return `checked.rlimits has ${shown(bad)}`;
  if (signalName(c.killSignal) === undefined) return `checked.killSignal is ${c.killSignal}, which child_process refuses`;
  const veth = c.network?.veth;
  const zoned = [...(veth?.addresses ?? []), ...(veth?.hostAddresses ?? [])].find((a) => a.address.includes('%'));
  if (zoned) return `checked.network.veth has the address ${zoned.address}, which inet_pton refuses`;
  if (veth?.gateway && !veth.hostAddresses.some((h) => veth.addresses.some((a) => a.family === h.family)))
    return 'checked.network.veth has gateway: true without an address family on both ends, so no default route can reach the host end';
  return undefined;
}

function shown(value: unknown): string {
  try {
    return inspect(value, { depth: 4, breakLength: Infinity, maxStringLength: 80, maxArrayLength: 8 });
  } catch {
    return String(value);
  }
}

interface Counts {
  valid: number;
  invalid: number;
  /** Invalid ones by error code ('caller' for the caller's own error). */
  byCode: Map<string, number>;
}

/** Native spawns started, counted by wrapping the binding: invalid options must start none. */
let nativeSpawns = 0;
let restoreNative: (() => void) | undefined;
let joinable: Namespace[] = [];
let dirFd = -1;

// jest formats every stack through its source maps (@jest/source-map's
// Error.prepareStackTrace of the outer realm, which V8 calls when a stack is
// first read, as lib/core/errors.ts's tagged() does for every argument
// error): for 80,000 errors, a fifth of the time of the run. V8's own format
// in this file's realm instead; a failure prints the seed and the
// counterexample, which replay it.
const prepareStackTrace = Error.prepareStackTrace;

beforeAll(() => {
  Error.prepareStackTrace = (err: Error, frames: NodeJS.CallSite[]) => [Error.prototype.toString.call(err), ...frames.map(String)].join('\n    at ');
  const binding = native() as unknown as Record<'spawn' | 'spawnSync', (...a: unknown[]) => unknown>;
  const { spawn, spawnSync } = binding;
  binding.spawn = (...a: unknown[]) => {
    nativeSpawns++;
    return spawn.apply(binding, a);
  };
  binding.spawnSync = (...a: unknown[]) => {
    nativeSpawns++;
    return spawnSync.apply(binding, a);
  };
  restoreNative = () => Object.assign(binding, { spawn, spawnSync });
  joinable = (['uts', 'ipc', 'net'] as const).map((t) => Namespace.current(t));
  const closed = Namespace.current('cgroup');
  closed.close();
  setJoinable(joinable, closed);
  dirFd = fs.openSync('/', 'r');
  setDirFd(dirFd);
});

afterAll(() => {
  Error.prepareStackTrace = prepareStackTrace;
  restoreNative?.();
  for (const ns of joinable) ns.close();
  fs.closeSync(dirFd);
});

test(`${RUNS} generated option objects: valid ones spawn or get a kernel refusal, invalid ones throw ERR_INVALID_ARG_* with nothing started`, async () => {
  const seed = Number(process.env.NSJS_FUZZ_SEED ?? 0xf022);
  const counts: Counts = { valid: 0, invalid: 0, byCode: new Map() };
  const plain: Record<string, unknown>[] = [];
  const namespaced: Record<string, unknown>[] = [];
  const invalidSample: { options: unknown; code: string | undefined }[] = [];
  const pollutable = Object.keys(POLLUTABLE);
  let polluted = 0;
  let twisted = 0;
  let unsafe = 0;
  const started = process.hrtime.bigint();

  // (b), and the validation half of (a): checkOptions for every object.
  fc.assert(
    fc.property(options, (o) => {
      const t = typeof o === 'object' && o !== null ? (o as { [TWIST]?: Twist })[TWIST] : undefined;
      if (t) t.calls = 0;
      let err: unknown;
      let c: Checked | undefined;
      try {
        c = checkOptions(o);
      } catch (e) {
        err = e;
      }
      if (t) {
        twisted++;
        const broken = twistBroken(t, o, err);
        if (broken) throw new Error(broken);
        // A flipping getter answers the spawn below what it did not answer here.
        if (t.kind === 'flip') return;
      } else if ((counts.valid + counts.invalid) % 20 === 0) {
        const key = pollutable[polluted++ % pollutable.length];
        const clean = outcome(o);
        const dirty = pollutedOutcome(o, key, POLLUTABLE[key]);
        if (dirty !== clean) throw new Error(`Object.prototype.${key} changed the outcome from ${clean} to ${dirty}`);
      }
      if (c) {
        counts.valid++;
        const bad = malformed(c) ?? malformedFields(c);
        if (bad) throw new Error(`accepted, but ${bad}`);
        // Half of the sample with new namespaces, where the kernel has most to refuse.
        const obj = o as Record<string, unknown>;
        const bucket = obj.namespaces === undefined || (Array.isArray(obj.namespaces) && obj.namespaces.length === 0) ? plain : namespaced;
        if (bucket.length < SPAWNED / 2) {
          if (safeToSpawn(obj)) bucket.push(obj);
          else unsafe++;
        }
        return;
      }
      counts.invalid++;
      if (!argError(err)) throw new Error(`not an ERR_INVALID_ARG_* error naming the option: ${err instanceof Error ? err.stack : String(err)}`);
      if (argError(err) && /cannot be converted/.test(err.message) && !(err.cause instanceof Error)) throw new Error(`the conversion's error is not the cause: ${err.stack}`);
      const code = readFailure(err) ? 'read' : (err as { code: string }).code;
      counts.byCode.set(code, (counts.byCode.get(code) ?? 0) + 1);
      if (invalidSample.length < INVALID_SPAWNED) invalidSample.push({ options: o, code: (err as { code: string }).code });
    }),
    { numRuns: RUNS, seed },
  );
  const validated = Number(process.hrtime.bigint() - started) / 1e9;
  const toSpawn = [...namespaced, ...plain];
  expect(nativeSpawns).toBe(0);

  const before = snapshot();

  // (b) through spawnIsolated: the same rejection, and nothing started.
  for (const { options: o, code } of invalidSample) {
    let err: unknown;
    try {
      await spawnIsolated('true', [], o as Parameters<typeof spawnIsolated>[2]);
    } catch (e) {
      err = e;
    }
    const ok = argError(err) && err.code === code;
    if (!ok) throw new Error(`spawnIsolated did not reject as checkOptions threw (${code}) for ${shown(o)}: got ${String(err)}`);
  }
  expect(nativeSpawns).toBe(0);
  expect(children()).toEqual([]);

  // (a): the valid sample spawned for real.
  const outcomes = new Map<string, number>();
  /** Per option key of the spawned sample: how many had it, and how many of those exited 0. */
  const byKey = new Map<string, [number, number]>();
  const problems: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < toSpawn.length) {
      const o = toSpawn[next++];
      const outcome = await spawnOne(o).catch((e: unknown) => {
        problems.push(`${shown(o)}: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
        return 'problem';
      });
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      for (const k of Object.keys(o)) {
        const [n, ok] = byKey.get(k) ?? [0, 0];
        byKey.set(k, [n + 1, ok + (outcome === 'exit 0' ? 1 : 0)]);
      }
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;

  // veth pairs go with their namespaces in the kernel's cleanup worker.
  for (let t = 0; t < 500 && links().join() !== before.links.join(); t++) await sleep(20);

  const list = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(', ');
  console.log(
    `fuzz (${root ? 'root' : `uid ${process.getuid!()}`}, seed ${seed}): ${RUNS} objects, ${counts.valid} valid, ${counts.invalid} invalid ` +
      `(${list(counts.byCode)}), ${twisted} twisted (getters, Proxies), ${polluted} checked again under a key on Object.prototype, validated in ${validated.toFixed(1)} s; spawned ${toSpawn.length} valid (${unsafe} unsafe to spawn skipped) ` +
      `and ${invalidSample.length} invalid, ${seconds.toFixed(1)} s in all; outcomes: ${list(outcomes)}; ` +
      `spawned with (exit 0/all): ${[...byKey].sort().map(([k, [n, ok]]) => `${k} ${ok}/${n}`).join(', ')}`,
  );
  expect(problems.slice(0, 10)).toEqual([]);
  expect(toSpawn.length).toBe(SPAWNED);
  expect(nativeSpawns).toBeGreaterThan(0);
  await expectNoLeaks(before);
}, 600_000);

/**
 * Spawns `true` with valid options. Resolves the outcome's name; throws
 * where the contract is broken: another exit than 0 (or the kill signal,
 * with a timeout or an AbortSignal; or any, under a nofile or cpu limit
 * too small to run anything), or a rejection that is not an NsError with a step and a
 * legitimate code.
 */
async function spawnOne(o: Record<string, unknown>): Promise<string> {
  let p: Process;
  try {
    p = await spawnIsolated('true', [], o);
  } catch (err) {
    if (o.signal instanceof AbortSignal && o.signal.aborted && err instanceof Error && err.name === 'AbortError') return 'aborted before spawn';
    // cpu 0: the kernel may SIGKILL the child at its first tick, in its setup too (a loaded machine).
    if ((o.rlimits as { cpu?: [number, number] } | undefined)?.cpu?.[0] === 0 && err instanceof NsError && err.code === 'EINTR' && err.signal === 'SIGKILL') return 'killed by cpu 0 before exec';
    if (err instanceof NsError && typeof err.step === 'string' && err.step !== '' && (LEGIT_KERNEL_CODES.has(err.code) || gatewayOffSubnet(o, err)) && err.errno < 0) return `${err.code} at ${err.step.replace(/\bnsjs[0-9a-f]{8}\b/g, 'nsjs…').replace(/\bpid \d+ \(.*\)$/, 'pid … (…)').slice(0, 40)}`;
    throw err;
  }
  // Extra pipes (stdio[3] on) are readable sockets: read them to their end, or they would hold their fds; a terminal's master too.
  p.stdio.forEach((s, i) => {
    if (s && i > 0) (s as NodeJS.ReadableStream).resume();
  });
  p.terminal?.resume();
  const status = await p.wait();
  p.terminal?.destroy();
  if (status.code === 0 && status.signal === null) return 'exit 0';
  const killable = (typeof o.timeout === 'number' && o.timeout > 0) || o.signal instanceof AbortSignal;
  const killSignal = o.killSignal === undefined ? 'SIGTERM' : typeof o.killSignal === 'number' ? signalName(o.killSignal) : o.killSignal;
  if (killable && status.code === null && status.signal === killSignal) return `killed by ${killSignal}`;
  // Valid limits that stop the command itself: with nofile below 4 the
  // dynamic loader cannot open libc (exit 127); with cpu 0 the kernel may
  // SIGKILL it at the first tick, or not, as it happens.
  const limits = (o.rlimits ?? {}) as Partial<Record<'nofile' | 'cpu', [number, number]>>;
  if ((limits.nofile && limits.nofile[0] < 4) || (limits.cpu && limits.cpu[0] === 0)) return `${JSON.stringify(status)} under ${JSON.stringify(limits)}`;
  throw new Error(`exited ${JSON.stringify(status)}`);
}

function signalName(n: number): string | undefined {
  return Object.entries(os.constants.signals).find(([, v]) => v === n)?.[0];
}
