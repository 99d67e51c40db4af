// Argument checks shared by every public entry point. Each throws before any
// syscall, naming the argument as the user wrote it.
import { types } from 'node:util';

import { invalidArgType, invalidArgValue, outOfRange } from './errors';
import { NAMESPACE_TYPES, type NamespaceType } from './nstypes';

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
  if (!Number.isInteger(value)) throw outOfRange(name, 'an integer', value);
  if (value < min || value > max) throw outOfRange(name, `>= ${min} && <= ${max}`, value);
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

/** Refuses an option given without the new namespace it acts on. */
export function needs(opts: Readonly<Record<string, unknown>>, key: string, ns: ReadonlySet<NamespaceType>, type: NamespaceType): void {
  if (opts[key] !== undefined && !ns.has(type))
    throw invalidArgValue(`options.${key}`, opts[key], `needs a new ${type} namespace: add '${type}' to options.namespaces`);
}

/**
 * A null-prototype copy of `fields`: reading a key it lacks gives undefined,
 * never a value someone put on Object.prototype. For the records the spawn
 * path builds and reads later (checked options, plan, join, context), where
 * an optional key absent from a plain literal would be looked up there.
 */
export function record<T extends object>(fields: T): T {
  return Object.assign(Object.create(null) as T, fields);
}

/** More entries than any option takes, and than execve takes strings (ARG_MAX): refused before they are copied. */
export const MAX_ENTRIES = 1 << 20;
/** Deeper than any option nests (options.network.veth.address[i] is 4). */
const MAX_DEPTH = 8;

/**
 * What the caller's own code threw while we read a value, on its way out to
 * become ERR_INVALID_ARG_VALUE naming it (the error as `cause`). Not an
 * Error: nothing but this file's own catch blocks ever sees one.
 */
class ReadError {
  constructor(readonly name: string, readonly value: unknown, readonly cause: unknown) {}
  toArgError() {
    const why = this.cause instanceof Error ? this.cause.message : String(this.cause);
    return invalidArgValue(this.name, this.value, `could not be read (${why})`, { cause: this.cause });
  }
}

/** Runs the caller's code (a getter, a Proxy trap) and turns what it throws into a ReadError for `name`. */
function reading<T>(name: string, value: unknown, read: () => T): T {
  try {
    return read();
  } catch (cause) {
    throw new ReadError(name, value, cause);
  }
}

const ABSENT: unique symbol = Symbol('absent');

/**
 * An own enumerable property's value, read once (a getter called, a Proxy
 * asked once), or ABSENT. Throws what the caller's code throws.
 */
function ownValue(obj: object, key: string): unknown {
  const d = Reflect.getOwnPropertyDescriptor(obj, key);
  if (d === undefined || !d.enumerable) return ABSENT;
  return d.get ? Reflect.apply(d.get, obj, []) : d.value;
}

const INDEX = /^(?:0|[1-9][0-9]*)$/;

/** Whether an index read on `array` could find a prototype's entry (Array.prototype[0] = …, a hole's polluter); a Proxy there may answer anything. */
function chainHasIndices(array: object): boolean {
  for (let p = Reflect.getPrototypeOf(array); p !== null; p = Reflect.getPrototypeOf(p))
    if (types.isProxy(p) || Reflect.ownKeys(p).some((k) => typeof k === 'string' && INDEX.test(k))) return true;
  return false;
}

function entries(array: unknown[], name: string, hole: (i: number) => unknown): unknown[] {
  const length: unknown = reading(name, array, () => Reflect.getOwnPropertyDescriptor(array, 'length')?.value);
  if (typeof length !== 'number' || !Number.isInteger(length) || length < 0) throw invalidArgValue(name, array, 'has no valid length');
  if (length > MAX_ENTRIES) throw invalidArgValue(name, `an array of ${length} entries`, `must have at most ${MAX_ENTRIES} entries`);
  const out = new Array<unknown>(length);
  let i = 0;
  try {
    if (types.isProxy(array)) {
      // Asked for each descriptor once.
      for (; i < length; i++) out[i] = ownValue(array, String(i));
    } else if (length > 16 && !chainHasIndices(array)) {
      // Where no prototype has an index, `in` means own, and costs less than
      // hasOwn for a long array (200,000 args). An ordinary array runs no code
      // of the caller's but its getters, each once through [[Get]].
      for (; i < length; i++) out[i] = i in array ? array[i] : ABSENT;
    } else {
      for (; i < length; i++) out[i] = Object.hasOwn(array, i) ? array[i] : ABSENT;
    }
  } catch (cause) {
    throw new ReadError(`${name}[${i}]`, array, cause);
  }
  for (i = 0; i < length; i++) if (out[i] === ABSENT) out[i] = hole(i);
  return out;
}

/**
 * An object's own enumerable string-keyed properties, each read once. What a
 * getter or trap throws is ERR_INVALID_ARG_VALUE naming the property.
 */
export function ownProperties(obj: object, name: string): [string, unknown][] {
  try {
    const out: [string, unknown][] = [];
    for (const key of reading(name, obj, () => Reflect.ownKeys(obj))) {
      if (typeof key !== 'string') continue;
      const v = reading(`${name}.${key}`, obj, () => ownValue(obj, key));
      if (v !== ABSENT) out.push([key, v]);
    }
    return out;
  } catch (err) {
    if (err instanceof ReadError) throw err.toArgError();
    throw err;
  }
}

/**
 * An array's entries, each read once into a new dense array, with `hole(i)`
 * for an index it does not own (reading one would reach Array.prototype).
 * What a getter or trap throws is ERR_INVALID_ARG_VALUE naming the entry.
 */
export function ownEntries(array: unknown[], name: string, hole: (i: number) => unknown): unknown[] {
  try {
    return entries(array, name, hole);
  } catch (err) {
    if (err instanceof ReadError) throw err.toArgError();
    throw err;
  }
}

/**
 * The options as the caller wrote them, copied once before anything is
 * checked, so that a getter or a Proxy cannot answer one way to the check
 * and another to the use, and a key on Object.prototype is not an option:
 * own enumerable string keys only, into frozen null-prototype objects and
 * frozen arrays (a hole is undefined), all the way down. Uint8Arrays are
 * copied, other typed arrays kept (no option takes one, and their entries
 * cannot be getters), what `keep` accepts (AbortSignal, Namespace) kept as
 * it is, and so is a function (validation refuses it). A getter or trap that
 * throws is ERR_INVALID_ARG_VALUE naming the option, with the thrown error as
 * its `cause`; so is a cycle, or nesting deeper than any option.
 */
export function snapshot(
  value: unknown,
  name: string,
  keep: (value: object) => boolean = () => false,
  /** Top-level keys whose values are copied by the given function instead. */
  special: Readonly<Record<string, (value: unknown, at: string) => unknown>> = {},
): unknown {
  const ancestors: object[] = [];
  const copy = (v: unknown, at: string): unknown => {
    if (typeof v !== 'object' || v === null) return v;
    // A Proxy is copied through its traps whatever it claims to be: keep() and
    // the brand checks would ask its target, not what it answers later.
    if (!types.isProxy(v)) {
      if (keep(v)) return v;
      if (types.isUint8Array(v)) return Buffer.isBuffer(v) ? Buffer.from(v) : new Uint8Array(v);
      if (ArrayBuffer.isView(v)) return v;
    }
    if (ancestors.includes(v)) throw invalidArgValue(at, v, 'refers to itself');
    if (ancestors.length >= MAX_DEPTH) throw invalidArgValue(at, v, 'is nested deeper than any option');
    ancestors.push(v);
    try {
      let array: boolean;
      try {
        array = Array.isArray(v);
      } catch (cause) {
        throw new ReadError(at, v, cause);
      }
      if (array) {
        const out = entries(v as unknown[], at, () => undefined);
        // Names are made only for what is copied further: an array may hold 200,000 strings.
        for (let i = 0; i < out.length; i++) if (typeof out[i] === 'object' && out[i] !== null) out[i] = copy(out[i], `${at}[${i}]`);
        return Object.freeze(out);
      }
      const out = Object.create(null) as Record<string, unknown>;
      let keys: (string | symbol)[];
      try {
        keys = Reflect.ownKeys(v);
      } catch (cause) {
        throw new ReadError(at, v, cause);
      }
      for (const key of keys) {
        if (typeof key !== 'string') continue;
        let value: unknown;
        try {
          value = ownValue(v, key);
        } catch (cause) {
          throw new ReadError(`${at}.${key}`, v, cause);
        }
        if (value === ABSENT) continue;
        const own = ancestors.length === 1 && Object.hasOwn(special, key) ? special[key] : undefined;
        out[key] = own ? own(value, `${at}.${key}`) : typeof value === 'object' && value !== null ? copy(value, `${at}.${key}`) : value;
      }
      return Object.freeze(out);
    } finally {
      ancestors.pop();
    }
  };
  try {
    return copy(value, name);
  } catch (err) {
    if (err instanceof ReadError) throw err.toArgError();
    throw err;
  }
}
