// The ops that set up new namespaces in the child: the time namespace,
// unshared there when it takes offsets, and the uts names.
import * as C from '../core/constants';
import { NAMESPACE_FLAGS } from '../core/nstypes';
import { SharedOp, type Add, type NativePlan } from '../core/plan';
import type { NsChecked } from './options';

/** ns/'s ops (OpKind in src-native/spawn/plan.h). */
export const NsOp = {
  Unshare: 5,
  Sethostname: 12,
  Setdomainname: 13,
} as const;

/** The CLONE_NEW* flags of the namespaces to make. */
export function namespaceFlags(c: NsChecked): number {
  let flags = 0;
  for (const type of c.namespaces) flags |= NAMESPACE_FLAGS[type];
  return flags;
}

/**
 * A new time namespace: made by the clone, or, to take offsets, unshared by
 * the child. Returns the clone flags without CLONE_NEWTIME in that case.
 */
export function planTime(c: NsChecked, flags: number, add: Add, owned = false): number {
  if (!c.namespaces.has('time')) return flags;
  if (c.timeOffsets) {
    // Offsets can be written only before any process has entered the
    // namespace: unshare it (we stay outside; our exec enters it) and write.
    // An owner's child (`owned`: user.owner) has unshared it already.
    flags &= ~C.CLONE_NEWTIME;
    if (!owned) add({ kind: NsOp.Unshare, a: C.CLONE_NEWTIME }, { step: 'unshare time', syscall: 'unshare' });
    const { monotonic, boottime } = c.timeOffsets;
    add(
      { kind: SharedOp.WriteFile, s: ['/proc/self/timens_offsets', `monotonic ${monotonic} 0\nboottime ${boottime} 0\n`] },
      { step: 'write timens_offsets', syscall: 'write', path: '/proc/self/timens_offsets' },
    );
  } else if (!owned) {
    add({ kind: NsOp.Unshare, a: C.CLONE_NEWTIME, b: 1 }, { step: 'unshare time', syscall: 'unshare' });
  }
  return flags;
}

/** The uts namespace's hostname and domain name. */
export function planUts(c: NsChecked, add: Add): void {
  if (c.hostname !== undefined) add({ kind: NsOp.Sethostname, s: [c.hostname] }, { step: 'sethostname', syscall: 'sethostname' });
  if (c.domainname !== undefined) add({ kind: NsOp.Setdomainname, s: [c.domainname] }, { step: 'setdomainname', syscall: 'setdomainname' });
}

/**
 * `persist`: the parent binds /proc/<child>/ns/<type> at each file while the
 * child waits for it (the same wait as for parent-written maps; planned after
 * them). A new time namespace is the child's time_for_children until exec.
 */
export function planPersist(c: NsChecked, native: NativePlan, add: Add): void {
  if (!c.persist?.length) return;
  native.persist = c.persist.flatMap(([type, file]) => [type === 'time' ? 'ns/time_for_children' : `ns/${type}`, file]);
  if (!native.parentMaps) {
    native.parentMaps = true; // maps to write: none, unless the user namespace has some
    add({ kind: SharedOp.WaitParent }, { step: 'wait for the namespaces to be kept', syscall: 'read' });
  }
}
