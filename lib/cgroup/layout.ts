// Where the cgroup hierarchies are and where the caller sits in each: the
// cgroup2 mount (if any) and every v1 hierarchy by controller, from
// /proc/self/mountinfo and /proc/self/cgroup (as libcrun's and runc's
// detection reads them). A controller is taken from v2 where the v2
// hierarchy offers it (in its root's cgroup.controllers), else from its v1
// hierarchy: on a hybrid host (v1 controllers, a controller-less cgroup2 at
// /sys/fs/cgroup/unified) the limits go to v1 while the v2 group still
// gives cgroup.kill, cgroup.freeze and cpu.stat, which need no controller.
import * as fs from 'node:fs';
import * as path from 'node:path';

/** One mounted hierarchy: where it is and the caller's cgroup in it. */
export interface Hierarchy {
  /** Its mount point. */
  mount: string;
  /** The caller's cgroup, relative to the hierarchy's root ('' = the root). */
  own: string;
  /** v1: the controllers it carries; v2: those its root offers. */
  controllers: string[];
}

export interface Layout {
  v2?: Hierarchy;
  /** v1 hierarchies by controller (cpu and cpuacct may share one). */
  v1: Map<string, Hierarchy>;
}

/** mountinfo escapes space, tab, newline and backslash as octal. */
const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

function read(file: string): string {
  try {
    return fs.readFileSync(file, 'latin1');
  } catch {
    return '';
  }
}

/** The caller's path in a mount whose root (in the hierarchy) is `root`. */
function relative(own: string, root: string): string | undefined {
  if (root === '/') return own.replace(/^\/+/, '');
  if (own !== root && !own.startsWith(root + '/')) return undefined;
  return own.slice(root.length).replace(/^\/+/, '');
}

let cached: Layout | undefined;

/**
 * The layout, read once per process: hierarchies are mounted at boot and
 * nsjs never mounts one. (`forget()` is for a test that changes it.)
 */
export function layout(): Layout {
  if (cached) return cached;
  const own = new Map<string, string>();
  for (const line of read('/proc/self/cgroup').split('\n')) {
    const m = /^[0-9]+:([^:]*):(.*)$/.exec(line);
    if (m) own.set(m[1], m[2]);
  }
  const l: Layout = { v1: new Map() };
  for (const line of read('/proc/self/mountinfo').split('\n')) {
    const [left, right] = line.split(' - ');
    if (!right) continue;
    const fields = left.split(' ');
    const [fstype, , superOpts] = right.split(' ');
    const root = unescape(fields[3]);
    const mount = unescape(fields[4]);
    if (fstype === 'cgroup2') {
      const rel = relative(own.get('') ?? '/', root);
      if (rel === undefined || l.v2) continue;
      l.v2 = { mount, own: rel, controllers: read(path.join(mount, 'cgroup.controllers')).split(/\s+/).filter(Boolean) };
    } else if (fstype === 'cgroup') {
      const controllers = superOpts.split(',').filter((o) => o !== 'rw' && o !== 'ro' && !o.includes('=') && o !== 'clone_children' && o !== 'noprefix' && o !== 'xattr');
      const key = [...own.keys()].find((k) => k.split(',').sort().join(',') === [...controllers].sort().join(','));
      if (key === undefined) continue;
      const rel = relative(own.get(key)!, root);
      if (rel === undefined) continue;
      const h = { mount, own: rel, controllers };
      for (const c of controllers) if (!l.v1.has(c)) l.v1.set(c, h);
    }
  }
  cached = l;
  return l;
}

/** @internal For tests: read the layout again. */
export function forget(): void {
  cached = undefined;
}

/** Where a controller comes from: 'v2', 'v1', or undefined when neither offers it. */
export function controllerVersion(l: Layout, controller: string): 'v1' | 'v2' | undefined {
  if (l.v2?.controllers.includes(controller)) return 'v2';
  if (l.v1.has(controller)) return 'v1';
  return undefined;
}

/**
 * For features() and `nsjs doctor`: where each controller options.cgroup
 * uses comes from, whether we may make cgroups there, and the fix.
 */
export function limitsReport(): { ok: boolean; reason: string; fix?: string } {
  const l = layout();
  const writable = (dir: string) => {
    try {
      fs.accessSync(dir, fs.constants.W_OK);
      return true;
    } catch {
      return false;
    }
  };
  const parts: string[] = [];
  const refused: string[] = [];
  for (const k of ['memory', 'pids', 'cpu']) {
    const v = controllerVersion(l, k);
    const h = v === 'v2' ? l.v2! : v === 'v1' ? l.v1.get(k)! : undefined;
    parts.push(`${k}: ${v ? `${v} (${h!.mount})` : 'none'}`);
    if (!h || !writable(path.join(h.mount, h.own))) refused.push(k);
  }
  if (l.v2) {
    const v2Limits = ['memory', 'pids', 'cpu'].some((k) => l.v2!.controllers.includes(k));
    parts.push(`kill/freeze: v2 (${l.v2.mount}${v2Limits ? '' : ', without memory, pids or cpu: the hybrid layout'})`);
    if (!writable(path.join(l.v2.mount, l.v2.own))) refused.push('kill/freeze');
  } else parts.push(`kill/freeze: ${l.v1.has('freezer') ? 'v1 freezer' : 'none'}`);
  const reason = parts.join('; ');
  if (refused.length === 0) return { ok: true, reason };
  return {
    ok: false,
    reason: `${reason}; not ours to make cgroups in: ${refused.join(', ')}`,
    fix: ['memory', 'pids', 'cpu'].some((k) => controllerVersion(l, k) === 'v2')
      ? 'run as root, or in a delegated cgroup v2 (systemd-run --user --scope -p Delegate=yes, or options.cgroup.parent)'
      : 'run as root (cgroup v1 controllers cannot be delegated), or boot with the unified cgroup v2 hierarchy (systemd.unified_cgroup_hierarchy=1) and delegate',
  };
}
