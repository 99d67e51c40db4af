// cli/oci/: a container's state directory, `<root>/<id>/`: state.json (what
// create learnt; never config.json again, which may change after create)
// and, while the init is parked, the file `parked`. The status is computed, as runc
// does, from the init's /proc entry (its start time guards against a
// recycled pid), the fifo and the freezer.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { frozen, type CgroupState } from './cgroup';
import type { Hooks } from './config';
import { OciError } from './errors';
import type { Outside } from './outside';

export interface Saved {
  ociVersion: string;
  id: string;
  pid: number;
  /** Field 22 of /proc/<pid>/stat when created. */
  starttime: string;
  bundle: string;
  rootfs: string;
  created: string;
  annotations: Record<string, string>;
  cgroup: CgroupState;
  hooks: Hooks;
  /** The container's seccomp filter (base64), which exec'd processes load too. */
  seccomp?: string;
  /** The mounts create made in a mount namespace the container does not own (outside.ts), which delete unmounts. */
  outside?: Outside;
}

export type Status = 'created' | 'running' | 'stopped' | 'paused';

/** The file that says the init is parked, waiting for `start`. */
export const PARKED = 'parked';

const ID = /^[A-Za-z0-9][A-Za-z0-9_+.-]*$/;

export function checkId(id: string | undefined): string {
  if (id === undefined || id === '') throw new OciError('a container id is needed');
  if (!ID.test(id) || id.length > 1024) throw new OciError(`invalid container id ${JSON.stringify(id)}`);
  return id;
}

export function stateDir(root: string, id: string): string {
  return path.join(root, checkId(id));
}

export function load(root: string, id: string): Saved {
  try {
    return JSON.parse(fs.readFileSync(path.join(stateDir(root, id), 'state.json'), 'utf8')) as Saved;
  } catch (e) {
    if (e instanceof OciError) throw e;
    throw new OciError(`container ${id} does not exist`);
  }
}

/** Written to a temporary name and renamed: a reader sees the old state or the new, never half of one. */
export function save(root: string, s: Saved): void {
  const dir = stateDir(root, s.id);
  const tmp = path.join(dir, '.state.json');
  fs.writeFileSync(tmp, JSON.stringify(s), { mode: 0o600 });
  fs.renameSync(tmp, path.join(dir, 'state.json'));
}

/** Field 22 (starttime) and field 3 (state) of /proc/<pid>/stat, or undefined when the pid is gone. */
export function procStat(pid: number): { start: string; state: string } | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // comm may hold spaces and parentheses: the fields start after the last ')'.
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: f[0], start: f[19] };
}

/** Whether the init is the one create started and not yet dead (a zombie counts as stopped). */
export function alive(s: Saved): boolean {
  const st = s.pid > 0 ? procStat(s.pid) : undefined;
  return st !== undefined && st.start === s.starttime && st.state !== 'Z' && st.state !== 'X';
}

export function status(root: string, s: Saved): Status {
  if (!alive(s)) return 'stopped';
  if (frozen(s.cgroup)) return 'paused';
  return fs.existsSync(path.join(stateDir(root, s.id), PARKED)) ? 'created' : 'running';
}

/** The runtime-spec's State (runc's output, with `pid` 0 once stopped). */
export function ociState(root: string, s: Saved): Record<string, unknown> {
  const st = status(root, s);
  const out: Record<string, unknown> = {
    ociVersion: s.ociVersion,
    id: s.id,
    pid: st === 'stopped' ? 0 : s.pid,
    status: st,
    bundle: s.bundle,
    rootfs: s.rootfs,
    created: s.created,
    owner: '',
  };
  if (Object.keys(s.annotations).length > 0) out.annotations = s.annotations;
  return out;
}
