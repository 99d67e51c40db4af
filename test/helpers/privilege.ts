// Who runs the suite decides which namespaces need a user namespace.
import type { NamespaceType } from '../../lib';

export const root = process.getuid!() === 0;

/** Unprivileged, every other namespace needs a user namespace to own it. */
export const withUser = (types: NamespaceType[]): NamespaceType[] => (root ? types : ['user', ...types]);
