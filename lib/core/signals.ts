import * as os from 'node:os';

import { invalidArgType, unknownSignal } from './errors';

/** glibc's SIGRTMIN and SIGRTMAX (the kernel's 32 and 33 are its own): the real-time signals, which Node names not. */
export const SIGRTMIN = 34;
export const SIGRTMAX = 64;

const byNumber = new Map<number, NodeJS.Signals>();
for (const [name, num] of Object.entries(os.constants.signals)) {
  if (!byNumber.has(num)) byNumber.set(num, name as NodeJS.Signals);
}

/**
 * A signal name or number, as child_process accepts it, as a number: an
 * unknown name or number is ERR_UNKNOWN_SIGNAL, as Node's. Numbers 0 (no
 * signal: kill(2) only checks that the process exists) to 64 (the real-time
 * signals, which have no name) are taken.
 */
export function signalNumber(value: unknown, name: string): number {
  if (typeof value === 'string') {
    const num = Object.hasOwn(os.constants.signals, value) ? (os.constants.signals as Record<string, number>)[value] : undefined;
    if (num === undefined) throw unknownSignal(value, name === 'signal' ? undefined : name);
    return num;
  }
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 0 || value > 64) throw unknownSignal(value, name === 'signal' ? undefined : name);
    return value;
  }
  throw invalidArgType(name, 'a signal name or number', value);
}

export function signalName(num: number): NodeJS.Signals | null {
  return byNumber.get(num) ?? null;
}
