// How the spawn options recognise a Namespace (options.join, and the
// snapshot that keeps one as it is) without importing the class: its
// constructor brands each instance here, and isNamespace() asks. A brand,
// not instanceof: neither a Proxy of a Namespace nor
// Object.create(Namespace.prototype) holds an fd of ours.
import type { NamespaceType } from './nstypes';

/** What is read of a Namespace recognised by its brand. */
export interface NamespaceHandle {
  readonly type: NamespaceType;
  readonly inode: number;
  readonly fd: number;
}

const branded = new WeakSet<object>();

/** For the Namespace constructor, once per instance. */
export function brandNamespace(ns: NamespaceHandle): void {
  branded.add(ns);
}

/** Whether `value` was made by the Namespace class. */
export function isNamespace(value: unknown): value is NamespaceHandle {
  return typeof value === 'object' && value !== null && branded.has(value);
}
