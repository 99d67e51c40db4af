// The child's placement into its cgroups (src-native/cgroup/cgroup.cc): its
// first ops, before it joins, forks, mounts or execs anything, so nothing it
// starts escapes the limits. CLONE_INTO_CGROUP (plan.cgroupFd) places it on
// cgroup v2 where clone3 takes it; the v2 op is then skipped.
import type { Add, NativePlan } from '../core/plan';
import type { Cgroup } from './cgroup';

/** cgroup/'s ops (OpKind in src-native/spawn/plan.h): 96-111. */
export const CgroupOp = {
  Join: 96,
} as const;

/** `cgroup`: one made for the command, or a sandbox's, entered by each of its commands (spawn/join.ts). */
export function planCgroup(cgroup: Pick<Cgroup, 'dirFd' | 'groups' | 'joins'>, native: NativePlan, add: Add): void {
  native.cgroupFd = cgroup.dirFd;
  cgroup.groups.forEach((g, i) => {
    // groups and joins are made in the same order, one file per group.
    const join = cgroup.joins[i];
    add(
      { kind: CgroupOp.Join, a: join.fd, b: join.ifNotInto ? 1 : 0 },
      { step: `join cgroup ${g.version}${g.controllers.length ? ` ${g.controllers.join(',')}` : ''}`, syscall: 'write', path: `${g.dir}/${g.version === 'v1' ? 'tasks' : 'cgroup.procs'}` },
    );
  });
}
