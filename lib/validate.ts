// Argument checks shared by every public entry point. Each throws before any
// syscall, naming the argument as the user wrote it.
import { invalidArgType, invalidArgValue } from './errors';

export const NAMESPACE_TYPES = ['cgroup', 'ipc', 'mnt', 'net', 'pid', 'time', 'user', 'uts'] as const;
/** A namespace type, by the kernel's own name (as in `/proc/<pid>/ns/`). */
export type NamespaceType = (typeof NAMESPACE_TYPES)[number];

export function isNamespaceType(value: unknown): value is NamespaceType {
  return typeof value === 'string' && (NAMESPACE_TYPES as readonly string[]).includes(value);
}

export function namespaceType(value: unknown, name: string): NamespaceType {
  if (typeof value !== 'string') throw invalidArgType(name, 'of type string', value);
  if (!isNamespaceType(value)) throw invalidArgValue(name, value, `must be one of ${NAMESPACE_TYPES.join(', ')}`);
  return value;
}

export function pathString(value: unknown, name: string): string {
  if (typeof value !== 'string') throw invalidArgType(name, 'of type string', value);
  if (value.length === 0) throw invalidArgValue(name, value, 'must not be empty');
  if (value.includes('\0')) throw invalidArgValue(name, value, 'must be a string without null bytes');
  return value;
}

export function noNul(value: unknown, name: string): string {
  if (typeof value !== 'string') throw invalidArgType(name, 'of type string', value);
  if (value.includes('\0')) throw invalidArgValue(name, value, 'must be a string without null bytes');
  return value;
}

export function integer(value: unknown, name: string, min = 0, max = 0x7fffffff): number {
  if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value);
  if (!Number.isInteger(value) || value < min || value > max)
    throw invalidArgValue(name, value, `must be an integer >= ${min} and <= ${max}`);
  return value;
}

export function fd(value: unknown, name: string): number {
  return integer(value, name, 0, 0x7fffffff);
}

export function pid(value: unknown, name: string): number {
  return integer(value, name, 1, 0x3fffffff);
}

export function bool(value: unknown, name: string): boolean {
  if (typeof value !== 'boolean') throw invalidArgType(name, 'of type boolean', value);
  return value;
}

export function plainObject(value: unknown, name: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw invalidArgType(name, 'of type object', value);
  return value as Record<string, unknown>;
}

/** Rejects keys we do not know, so that a typo is not silently ignored. */
export function knownKeys(obj: Record<string, unknown>, allowed: readonly string[], name: string): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key) && obj[key] !== undefined)
      throw invalidArgValue(`${name}.${key}`, obj[key], `is not a known option (known: ${allowed.join(', ')})`);
  }
}
