// What to do about a failed spawn step: the hint an NsError carries. Causes
// that features() diagnoses come from core/explain.ts, so that a failed
// spawn and `nsjs doctor` say the same thing; the rest are known here, by
// the step, its errno and the options.
import { explainSpawnFailure } from '../core/explain';
import { mountHint, tmpfsRootHint } from '../fs/hints';
import type { Step } from '../core/plan';
import type { Checked } from './options';

const EPERM = -1;
const EINVAL = -22;
const ENOSPC = -28;
const EEXIST = -17;
const EACCES = -13;
const ENODEV = -19;

/** `fsLog`: the filesystem's own messages for a failed fsconfig (its fs context's log). */
export function hintFor(err: number, step: Step, c: Checked, fsLog?: string): string | undefined {
  // Causes that features() diagnoses (sysctls, AppArmor, seccomp, a masked /proc) explain themselves the same way here.
  const known = explainSpawnFailure(err, step, c.namespaces);
  if (known) return known;
  const rootless = process.geteuid!() !== 0;
  if (step.syscall === 'clone3' || step.syscall === 'clone') {
    const types = [...c.namespaces].filter((t) => t !== 'user');
    if ((err === EPERM || err === EINVAL) && rootless && !c.namespaces.has('user') && types.length > 0)
      return `creating a ${types.join('+')} namespace needs CAP_SYS_ADMIN; add 'user' to namespaces to run unprivileged`;
    if (err === EPERM && c.namespaces.has('user'))
      return 'unprivileged user namespaces are refused here: check sysctl kernel.unprivileged_userns_clone, kernel.apparmor_restrict_unprivileged_userns (Ubuntu 23.10+) or the container\'s seccomp profile';
    if (err === ENOSPC)
      return 'a namespace limit is reached: see /proc/sys/user/max_*_namespaces (user.max_user_namespaces may be 0)';
  }
  if (step.mount) return mountHint(err, { ...step, mount: step.mount }, c, rootless, fsLog);
  const tmpfsRoot = tmpfsRootHint(err, step);
  if (tmpfsRoot) return tmpfsRoot;
  if (step.step.startsWith('RTM_NEWLINK veth') && err === EPERM)
    return "network.veth adds a link to our own network namespace, which needs CAP_NET_ADMIN there (root); unprivileged, use net.createVeth between namespaces you own";
  if (step.step.startsWith('RTM_NEWLINK master ') && err === ENODEV)
    return `there is no bridge named '${step.step.split(' ')[2]}' where network.veth.bridge looks for it: create it first (net.createBridge)`;
  if (step.step.startsWith('RTM_NEWLINK veth') && err === EEXIST)
    return 'a link of that name exists already: choose another network.veth.hostName, or leave it out for a unique one';
  // The first of them refused: with uid alone, the implicit clear of the supplementary groups.
  if (['setgroups', 'setresgid', 'setresuid'].includes(step.step) && err === EPERM && rootless && !c.namespaces.has('user'))
    return "changing uid or gid (and so the supplementary groups) needs CAP_SETUID and CAP_SETGID; unprivileged, add 'user' to namespaces and choose ids its maps cover";
  if ((step.step === 'seccomp' || step.step === 'landlock') && err === EACCES)
    return `the kernel takes a ${step.step === 'seccomp' ? 'seccomp filter' : 'Landlock ruleset'} only under no_new_privs or with CAP_SYS_ADMIN: with noNewPrivileges: false, add 'user' to namespaces${step.step === 'seccomp' ? ', or set seccomp: false and allowUserNamespaces: true' : ', or leave landlock out'}`;
  if ((step.step === 'write uid_map' || step.step === 'write gid_map') && err === EPERM && rootless)
    return "mapping id ranges needs CAP_SETUID/CAP_SETGID in our user namespace (run as root); unprivileged, use user: 'root' or 'self', which map your own ids";
  return undefined;
}
