// A root file system for pivot_root tests: empty directories as mount points
// and the merged-/usr symlinks, so that binding the host's /usr read-only at
// /usr is enough to run sh and coreutils inside.
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Makes `parent/root` with `dirs` (usr among them) and bin, lib, lib64 → usr/…; returns its path. */
export function rootfs(parent: string, dirs: string[] = ['usr']): string {
  const r = path.join(parent, 'root');
  for (const d of dirs) fs.mkdirSync(path.join(r, d), { recursive: true });
  for (const l of ['bin', 'lib', 'lib64']) fs.symlinkSync(`usr/${l}`, path.join(r, l));
  // mkdtemp makes 0700 directories; a sandbox with other ids must get through.
  fs.chmodSync(parent, 0o755);
  return r;
}

/** The host's /usr, read-only, for a rootfs made by {@link rootfs}. */
export const usrReadonly = { type: 'bind', source: '/usr', target: '/usr', readonly: true } as const;
