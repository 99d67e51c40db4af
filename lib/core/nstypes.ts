// The eight namespace types, by the kernel's own names, and the CLONE_NEW*
// flag of each: what every room means by a namespace type.
import * as C from './constants';

export const NAMESPACE_TYPES = ['cgroup', 'ipc', 'mnt', 'net', 'pid', 'time', 'user', 'uts'] as const;
/** A namespace type, by the kernel's own name (as in `/proc/<pid>/ns/`). */
export type NamespaceType = (typeof NAMESPACE_TYPES)[number];

/** `CLONE_NEW*` flag of each type, as `NS_GET_NSTYPE` answers and `setns` takes. */
export const NAMESPACE_FLAGS: Readonly<Record<NamespaceType, number>> = {
  cgroup: C.CLONE_NEWCGROUP,
  ipc: C.CLONE_NEWIPC,
  mnt: C.CLONE_NEWNS,
  net: C.CLONE_NEWNET,
  pid: C.CLONE_NEWPID,
  time: C.CLONE_NEWTIME,
  user: C.CLONE_NEWUSER,
  uts: C.CLONE_NEWUTS,
};
