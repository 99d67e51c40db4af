// One command's cgroups: made and limited before the spawn (create), the
// fds the child needs to be placed (the v2 directory for CLONE_INTO_CGROUP,
// the v2 cgroup.procs and each v1 tasks file it writes itself into), its figures (usage), freeze and
// thaw, a signal to every task, and removal once it is empty (close). The
// files written are those runc's and libcrun's cgroup managers write, v2
// and v1 (fs2/ and fs/ in runc, cgroup-v1.c/cgroup-v2 in crun).
import * as fs from 'node:fs';

import { NsError } from '../core/errors';
import { closeFd, native } from '../core/native';
import { controllerVersion, layout, type Hierarchy, type Layout } from './layout';
import { PERIOD_US, type CgroupChecked, type Limit } from './options';

/** What a cgroup has used, from its own files (µs and bytes). */
export interface ResourceUsage {
  /** CPU time in user mode of every process that ran in it. */
  cpuUserUs: number;
  /** CPU time in the kernel on their behalf. */
  cpuSystemUs: number;
  /** The most memory it held at once (0 without a memory controller). */
  memoryPeak: number;
  /** Processes (and threads) in it now. */
  pids: number;
  /** How many of them the kernel's OOM killer killed for the memory limit. */
  oomKills: number;
}

const O_WRONLY = 1;
const O_DIRECTORY = 0o200000;
const EACCES = -13;
const EBUSY = -16;
const ENOTSUP = -95;

interface Group {
  version: 'v1' | 'v2';
  dir: string;
  controllers: string[];
}

let made = 0;

function fail(err: unknown, step: string, hint?: string): never {
  const e = err as NodeJS.ErrnoException;
  if (typeof e?.errno !== 'number') throw err;
  throw new NsError({ errno: e.errno, syscall: e.syscall ?? 'write', path: e.path, step, hint: hint ?? hintFor(e.errno) });
}

function hintFor(errno: number): string | undefined {
  if (errno === EACCES || errno === -1)
    return (
      'making a cgroup needs root or a delegated cgroup: on cgroup v2, run under `systemd-run --user --scope -p Delegate=yes` ' +
      'or set options.cgroup.parent to a cgroup whose cgroup.procs and cgroup.subtree_control you own; cgroup v1 controllers take root'
    );
  if (errno === EBUSY)
    return (
      'cgroup v2 enables controllers only below a cgroup without processes of its own (the no-internal-process rule): ' +
      'set options.cgroup.parent to an empty (delegated) cgroup'
    );
  return undefined;
}

function write(file: string, data: string, step: string): void {
  // No O_CREAT|O_TRUNC (writeFileSync's): a cgroup file exists or is not ours to make.
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, fs.constants.O_WRONLY);
    fs.writeSync(fd, data);
  } catch (err) {
    fail(err, step);
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

const chunk = Buffer.allocUnsafe(4096);

/**
 * A cgroup file's text. Not readFileSync: its fstat, allocation and
 * growing reads cost 2-4× the read itself on these small kernfs files,
 * and spawn → wait() reads six of them (usage, populated, the parent's
 * subtree_control).
 */
function readText(file: string): string | undefined {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return undefined;
  }
  try {
    let text = '';
    for (let n; (n = fs.readSync(fd, chunk, 0, chunk.length, null)) > 0; ) text += chunk.toString('latin1', 0, n);
    return text;
  } catch {
    return undefined;
  } finally {
    fs.closeSync(fd);
  }
}

/** A "key value" line of a flat-keyed file's text (cpu.stat, memory.events, memory.oom_control): the value, 0 without one. */
function field(text: string | undefined, key: string): number {
  if (text === undefined) return 0;
  let from: number;
  if (text.startsWith(`${key} `)) from = key.length + 1;
  else {
    const at = text.indexOf(`\n${key} `);
    if (at < 0) return 0;
    from = at + key.length + 2;
  }
  const end = text.indexOf('\n', from);
  const value = text.slice(from, end < 0 ? text.length : end);
  return DIGITS.test(value) ? Number(value) : 0;
}

const DIGITS = /^[0-9]+$/;

const keyed = (file: string, key: string) => field(readText(file), key);

function num(text: string | undefined): number {
  const v = Number((text ?? '').trim());
  return Number.isFinite(v) ? v : 0;
}

const limit = (v: Limit) => (v === 'max' ? 'max' : String(v));
const v1Limit = (v: Limit) => (v === 'max' ? '-1' : String(v));

/** `dir` and every cgroup below it, deepest first. */
function tree(dir: string): string[] {
  let entries: fs.Dirent[] = [];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    // gone already
  }
  return [...entries.filter((e) => e.isDirectory()).flatMap((e) => tree(`${dir}/${e.name}`)), dir];
}

/** `rel` (no leading or trailing slash, '' for none) under `dir`. */
const under = (dir: string, rel: string) => (rel === '' ? dir : `${dir}/${rel}`);

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The kinds of src-native/cgroup/files.cc. */
const FileOp = { Mkdir: 0, Write: 1, WriteIfExists: 2, Open: 3, Read: 4, ExpectLine: 5, Rmdir: 6, Dir: 7 } as const;

/**
 * cgroup file calls made in one native call, in order, up to the first that
 * fails: through node:fs the same calls took about half as long again as in C.
 */
class Files {
  readonly #ops: (number | string)[] = [];
  readonly #steps: string[] = [];
  readonly #paths: string[] = [];
  #dir = '';

  /** Adds a call; its index in the results. A file in the last `in()` directory is named relative to it. */
  add(kind: number, file: string, data: string | number, step: string): number {
    const inDir = this.#dir !== '' && file.length > this.#dir.length && file.startsWith(this.#dir) && file[this.#dir.length] === '/';
    this.#ops.push(kind, inDir ? file.slice(this.#dir.length + 1) : file, data);
    this.#paths.push(file);
    return this.#steps.push(step) - 1;
  }

  /** The directory the files added next are named relative to (opened once, by the kernel's walk of its path). */
  in(dir: string): void {
    this.#dir = '';
    this.add(FileOp.Dir, dir, '', `open ${dir}`);
    this.#dir = dir;
  }

  /** Every result, or the first failure as an NsError with `index`, the call it was. */
  run(): { results: (number | string)[] } | { index: number; error: NsError; results: (number | string)[] } {
    const r = native().cgroupFiles(this.#ops);
    if (typeof r === 'number') throw new Error(`cgroupFiles: a malformed list (${r})`);
    if (Array.isArray(r)) return { results: r };
    return {
      index: r.index,
      results: r.results,
      error: new NsError({ errno: r.errno, syscall: r.syscall, path: this.#paths[r.index], step: this.#steps[r.index], hint: hintFor(r.errno) }),
    };
  }
}

/** @internal The cgroups of one command. */
export class Cgroup {
  readonly groups: Group[] = [];
  /**
   * The v2 cgroup.procs and v1 tasks fds the child writes "0" into
   * (kOpCgroupJoin), one per group in its order; `ifNotInto`: only where
   * CLONE_INTO_CGROUP did not place it. A v1 tasks write moves one thread:
   * only a single-threaded writer (a fresh child) moves a whole process.
   */
  readonly joins: { fd: number; ifNotInto: boolean }[] = [];
  /** The v2 directory, for CLONE_INTO_CGROUP. */
  dirFd: number | undefined;
  #v2?: Group;
  #by = new Map<string, Group>();
  #frozen = false;
  #closed: Promise<ResourceUsage> | undefined;
  #files: { dir: string; file: string }[] | undefined;

  private constructor() {}

  /** Makes and limits the cgroups `c` needs; throws an NsError (having removed what it made) when it cannot. */
  static create(c: CgroupChecked, l: Layout = layout()): Cgroup {
    const g = new Cgroup();
    try {
      g.#make(c, l);
    } catch (err) {
      g.removeNow();
      throw err;
    }
    return g;
  }

  #make(c: CgroupChecked, l: Layout): void {
    const name = `nsjs-${process.pid}-${++made}`;
    const wanted = new Set<string>();
    if (c.memory && Object.keys(c.memory).length > 0) wanted.add('memory');
    if (c.pids) wanted.add('pids');
    if (c.cpu && Object.keys(c.cpu).length > 0) wanted.add('cpu');
    for (const ctrl of wanted) {
      if (!controllerVersion(l, ctrl))
        throw new NsError({
          errno: ENOTSUP,
          syscall: 'open',
          path: l.v2 ? `${l.v2.mount}/cgroup.controllers` : '/proc/self/cgroup',
          step: `cgroup ${ctrl} controller`,
          hint: `the ${ctrl} controller is in neither the cgroup v2 hierarchy nor a cgroup v1 one here (nsjs doctor tells what is)`,
        });
    }
    const parentOf = (h: Hierarchy) => under(h.mount, c.parent ?? h.own);
    // Every mkdir, limit and open below in one call; the groups made are
    // kept (for removal) even when a later call fails.
    const files = new Files();
    const planned: { group: Group; at: number }[] = [];
    const opened: { at: number; into: (fd: number) => void }[] = [];
    const mkdir = (version: 'v1' | 'v2', dir: string, controllers: string[]): Group => {
      const group = { version, dir, controllers };
      planned.push({ group, at: files.add(FileOp.Mkdir, dir, '', `make cgroup ${dir}`) });
      return group;
    };
    const open = (file: string, flags: number, step: string, into: (fd: number) => void) =>
      opened.push({ at: files.add(FileOp.Open, file, flags, step), into });
    if (l.v2) {
      const parent = parentOf(l.v2);
      // Accounting where the parent offers it already; a limit enables its controller.
      // The hybrid layout's v2 has none of them: nothing to read there.
      const offered = ['memory', 'pids', 'cpu'].filter((k) => controllerVersion(l, k) === 'v2');
      const enabled = offered.length === 0 ? [] : (readText(`${parent}/cgroup.subtree_control`) ?? '').split(/\s+/).filter(Boolean);
      const own = offered.filter((k) => wanted.has(k) || enabled.includes(k));
      const missing = own.filter((k) => !enabled.includes(k));
      if (missing.length > 0)
        write(`${parent}/cgroup.subtree_control`, missing.map((k) => `+${k}`).join(' '), `enable ${missing.join(', ')} in ${parent}`);
      const group = mkdir('v2', `${parent}/${name}`, own);
      this.#v2 = group;
      this.#limit(files, group, c);
      open(group.dir, O_DIRECTORY, 'open cgroup', (fd) => (this.dirFd = fd));
      open(`${group.dir}/cgroup.procs`, O_WRONLY, 'open cgroup.procs', (fd) => this.joins.push({ fd, ifNotInto: true }));
    }
    // v1: the controllers v2 lacks, one cgroup per hierarchy. memory and pids
    // always (their figures are usage()'s), cpuacct and freezer without v2.
    const v1 = ['memory', 'pids', ...(wanted.has('cpu') ? ['cpu'] : []), ...(l.v2 ? [] : ['cpuacct', 'freezer'])].filter(
      (k) => controllerVersion(l, k) === 'v1',
    );
    const hierarchies = new Map<Hierarchy, string[]>();
    for (const k of v1) hierarchies.set(l.v1.get(k)!, [...(hierarchies.get(l.v1.get(k)!) ?? []), k]);
    for (const [h, controllers] of hierarchies) {
      const group = mkdir('v1', `${parentOf(h)}/${name}`, controllers);
      this.#limit(files, group, c);
      // tasks, not cgroup.procs: "0" there moves only the writing thread,
      // which the kernel does without cgroup_threadgroup_rwsem's
      // percpu_down_write (an RCU grace period, ms, after an idle moment;
      // cgroup_procs_write_start). The child is one thread when it writes,
      // so that thread is the whole process, and all it starts inherits.
      open(`${group.dir}/tasks`, O_WRONLY, 'open tasks', (fd) => this.joins.push({ fd, ifNotInto: false }));
    }
    const r = files.run();
    const failed = 'error' in r ? r.index : Infinity;
    for (const { group, at } of planned) {
      if (at >= failed) break;
      this.groups.push(group);
      for (const k of group.controllers) this.#by.set(k, group);
    }
    if ('error' in r) throw r.error;
    for (const { at, into } of opened) into(r.results[at] as number);
  }

  #limit(files: Files, group: Group, c: CgroupChecked): void {
    const at = (file: string) => `${group.dir}/${file}`;
    const set = (file: string, value: string) => files.add(FileOp.Write, at(file), value, `write ${file}`);
    // Absent without swap support (memory.swap.max, memory.memsw.*): then there is nothing to limit.
    const setIfThere = (file: string, value: string) => files.add(FileOp.WriteIfExists, at(file), value, `write ${file}`);
    const has = (k: string) => group.controllers.includes(k);
    const v2 = group.version === 'v2';
    const m = c.memory;
    if (m && has('memory')) {
      const swap = m.swapMax ?? (m.max !== undefined && m.max !== 'max' ? 0 : undefined);
      if (v2) {
        if (m.high !== undefined) set('memory.high', limit(m.high));
        if (m.max !== undefined) set('memory.max', limit(m.max));
        if (swap !== undefined) (m.swapMax !== undefined ? set : setIfThere)('memory.swap.max', limit(swap));
      } else {
        if (m.high !== undefined) set('memory.soft_limit_in_bytes', v1Limit(m.high));
        if (m.max !== undefined) set('memory.limit_in_bytes', v1Limit(m.max));
        // memsw counts memory + swap, and must never be below limit_in_bytes (absent without swapaccount).
        if (swap !== undefined && m.max !== undefined)
          (m.swapMax !== undefined ? set : setIfThere)('memory.memsw.limit_in_bytes', m.max === 'max' || swap === 'max' ? '-1' : String(m.max + swap));
      }
    }
    if (c.pids && has('pids')) set('pids.max', limit(c.pids.max));
    const cpu = c.cpu;
    if (cpu && has('cpu')) {
      if (v2) {
        if (cpu.quotaUs !== undefined) set('cpu.max', `${cpu.quotaUs} ${PERIOD_US}`);
        if (cpu.weight !== undefined) set('cpu.weight', String(cpu.weight));
      } else {
        if (cpu.quotaUs !== undefined) {
          set('cpu.cfs_period_us', String(PERIOD_US));
          set('cpu.cfs_quota_us', String(cpu.quotaUs));
        }
        if (cpu.weight !== undefined) set('cpu.shares', String(2 + Math.floor(((cpu.weight - 1) * 262142) / 9999)));
      }
    }
  }

  /** After the spawn: the child has the fds it needed (or has failed). */
  releaseFds(): void {
    for (const j of this.joins.splice(0)) closeFd(j.fd);
    if (this.dirFd !== undefined) closeFd(this.dirFd);
    this.dirFd = undefined;
  }

  /** The directories, for tests and messages. */
  get dirs(): string[] {
    return this.groups.map((g) => g.dir);
  }

  /** The figures now, read from the cgroup's files. */
  usage(): ResourceUsage {
    const u = this.#figures(this.#figureFiles().map((f) => readText(f.file)));
    const pids = this.#by.get('pids');
    const any = pids ?? this.#v2 ?? this.groups[0];
    if (pids) u.pids = num(readText(`${pids.dir}/pids.current`));
    else if (any) u.pids = this.#tasks(any).length;
    return u;
  }

  /** The files usage() reads its figures from (the task count aside), in order, each with its group's directory. */
  #figureFiles(): { dir: string; file: string }[] {
    if (this.#files) return this.#files;
    const files: { dir: string; file: string }[] = [];
    const add = (group: Group, ...names: string[]) => {
      for (const name of names) files.push({ dir: group.dir, file: `${group.dir}/${name}` });
    };
    const mem = this.#by.get('memory');
    const acct = this.#by.get('cpuacct');
    if (this.#v2) add(this.#v2, 'cpu.stat');
    else if (acct) add(acct, 'cpuacct.usage_user', 'cpuacct.usage_sys');
    if (mem) add(mem, ...(mem.version === 'v2' ? ['memory.peak', 'memory.events'] : ['memory.max_usage_in_bytes', 'memory.oom_control']));
    this.#files = files;
    return files;
  }

  /** The figures from the texts of #figureFiles(), in its order (pids 0). */
  #figures(texts: (string | undefined)[]): ResourceUsage {
    const u: ResourceUsage = { cpuUserUs: 0, cpuSystemUs: 0, memoryPeak: 0, pids: 0, oomKills: 0 };
    let i = 0;
    if (this.#v2) {
      u.cpuUserUs = field(texts[i], 'user_usec');
      u.cpuSystemUs = field(texts[i++], 'system_usec');
    } else if (this.#by.has('cpuacct')) {
      u.cpuUserUs = Math.round(num(texts[i++]) / 1000);
      u.cpuSystemUs = Math.round(num(texts[i++]) / 1000);
    }
    if (this.#by.has('memory')) {
      u.memoryPeak = num(texts[i++]);
      u.oomKills = field(texts[i++], 'oom_kill');
    }
    return u;
  }

  /** The pids in a cgroup and in every sub-cgroup the command made in it. */
  #tasks(group: Group): number[] {
    return tree(group.dir).flatMap((d) => (readText(`${d}/cgroup.procs`) ?? '').split('\n').filter(Boolean).map(Number));
  }

  #populated(): boolean {
    if (this.#v2) return keyed(`${this.#v2.dir}/cgroup.events`, 'populated') !== 0;
    return this.groups.some((g) => this.#tasks(g).length > 0);
  }

  #freezer(): { file: string; on: string; off: string; done: () => boolean } | undefined {
    if (this.#v2) {
      const events = `${this.#v2.dir}/cgroup.events`;
      return { file: `${this.#v2.dir}/cgroup.freeze`, on: '1', off: '0', done: () => keyed(events, 'frozen') === (this.#frozen ? 1 : 0) };
    }
    const f = this.#by.get('freezer');
    if (!f) return undefined;
    const state = `${f.dir}/freezer.state`;
    return { file: state, on: 'FROZEN', off: 'THAWED', done: () => (readText(state) ?? '').trim() === (this.#frozen ? 'FROZEN' : 'THAWED') };
  }

  /** Freezes (or thaws) every task, resolving once the kernel says they all are. */
  async setFrozen(frozen: boolean): Promise<void> {
    const f = this.#freezer();
    if (!f)
      throw new NsError({ errno: ENOTSUP, syscall: 'open', path: 'cgroup.freeze', step: 'freeze', hint: 'freezing needs cgroup v2 or the v1 freezer controller' });
    this.#frozen = frozen;
    write(f.file, frozen ? f.on : f.off, frozen ? 'freeze' : 'thaw');
    for (let wait = 1; !f.done(); wait = Math.min(wait * 2, 50)) {
      if (this.#closed) return;
      await delay(wait);
    }
  }

  get frozen(): boolean {
    return this.#frozen;
  }

  /**
   * `signal` to every task in the cgroup: SIGKILL through v2's cgroup.kill
   * (which no fork can outrun), others to each pid it lists. A frozen
   * cgroup is thawed once they are sent, so the signal is acted on.
   */
  signalAll(signal: number): void {
    if (signal === 9 && this.#v2 && fs.existsSync(`${this.#v2.dir}/cgroup.kill`)) {
      write(`${this.#v2.dir}/cgroup.kill`, '1', 'write cgroup.kill');
    } else {
      const seen = new Set<number>();
      for (const g of this.#v2 ? [this.#v2] : this.groups)
        for (const pid of this.#tasks(g)) {
          if (seen.has(pid)) continue;
          seen.add(pid);
          try {
            process.kill(pid, signal);
          } catch {
            // ESRCH: it exited meanwhile
          }
        }
    }
    // Thawed after the signal, not before: a frozen cgroup cannot fork
    // while its list is read, and the signal is acted on once it runs.
    if (this.#frozen) {
      const f = this.#freezer();
      this.#frozen = false;
      if (f) write(f.file, f.off, 'thaw');
    }
  }

  /**
   * Once the command has exited: kills whatever is left in the cgroup,
   * waits until it is empty, reads the final figures and removes every
   * cgroup. Any number of callers get the same answer.
   */
  close(): Promise<ResourceUsage> {
    this.#closed ??= this.#close();
    return this.#closed;
  }

  async #close(): Promise<ResourceUsage> {
    let usage = this.#closeAtOnce();
    if (!usage) {
      // v1 without cgroup.kill: frozen, no task can fork between the list
      // being read and the kill (runc's way); without a freezer, a fork in
      // between is caught by the next round.
      const freezer = this.#v2 ? undefined : this.#freezer();
      for (let wait = 1; this.#populated(); wait = Math.min(wait * 2, 20)) {
        if (freezer) {
          this.#frozen = true;
          write(freezer.file, freezer.on, 'freeze');
          for (let w = 1, waited = 0; !freezer.done() && waited < 1000; waited += w, w = Math.min(w * 2, 20)) await delay(w);
        }
        this.signalAll(9);
        await delay(wait);
      }
      usage = this.usage();
    }
    for (let wait = 1; ; wait = Math.min(wait * 2, 20)) {
      // An exiting task can keep a v1 cgroup busy for a moment after it is reaped.
      if (this.#rmdirs() === 0) break;
      await delay(wait);
    }
    return usage;
  }

  /**
   * The usual end, in one native call: the v2 cgroup says nothing is left
   * in it (`populated 0`; every task is in every group, and none can enter
   * again), so the figures read next are final and every rmdir can go
   * ahead. undefined where a task is left (close() then kills it) or
   * without v2; the figures once read, even if an rmdir is refused (a
   * sub-cgroup the command made: close()'s removal loop does the rest).
   */
  #closeAtOnce(): ResourceUsage | undefined {
    const v2 = this.#v2;
    if (!v2) return undefined;
    const files = new Files();
    files.in(v2.dir);
    const at = [files.add(FileOp.ExpectLine, `${v2.dir}/cgroup.events`, 'populated 0', 'read cgroup.events')];
    let dir = v2.dir;
    for (const f of this.#figureFiles()) {
      if (f.dir !== dir) files.in((dir = f.dir));
      at.push(files.add(FileOp.Read, f.file, '', `read ${f.file}`));
    }
    for (let i = this.groups.length - 1; i >= 0; i--) files.add(FileOp.Rmdir, this.groups[i].dir, '', `remove cgroup ${this.groups[i].dir}`);
    const r = files.run();
    if ('error' in r && r.index <= at[at.length - 1]) return undefined;
    const usage = this.#figures(at.slice(1).map((k) => r.results[k] as string));
    if (!('error' in r)) this.groups.length = 0;
    return usage;
  }

  /** rmdir of every cgroup still there, newest first; how many are left (EBUSY). */
  #rmdirs(): number {
    let busy = 0;
    const rmdir = (dir: string) => {
      try {
        fs.rmdirSync(dir);
        return true;
      } catch (err) {
        return (err as NodeJS.ErrnoException).code === 'ENOENT';
      }
    };
    for (let i = this.groups.length - 1; i >= 0; i--) {
      // EBUSY: sub-cgroups the command made go first (or a task is still leaving).
      if (rmdir(this.groups[i].dir) || tree(this.groups[i].dir).every(rmdir)) this.groups.splice(i, 1);
      else busy++;
    }
    return busy;
  }

  /** Removes the cgroups at once: for a spawn that failed, whose child (if any) is reaped. */
  removeNow(): void {
    this.releaseFds();
    for (let round = 0; round < 100 && this.#rmdirs() > 0; round++) {
      // Busy only for the moment a reaped task takes to leave a v1 cgroup.
    }
  }
}
