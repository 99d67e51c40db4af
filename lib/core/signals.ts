import * as os from 'node:os';

import { invalidArgType, invalidArgValue } from './errors';

const byNumber = new Map<number, NodeJS.Signals>();
for (const [name, num] of Object.entries(os.constants.signals)) {
  if (!byNumber.has(num)) byNumber.set(num, name as NodeJS.Signals);
}

/** A signal name or number, as child_process accepts it, as a number. */
export function signalNumber(value: unknown, name: string): number {
  if (typeof value === 'string') {
    const num = (os.constants.signals as Record<string, number | undefined>)[value];
    if (num === undefined) throw invalidArgValue(name, value, 'must be a signal name such as SIGTERM');
    return num;
  }
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 0 || value > 64)
      throw invalidArgValue(name, value, 'must be a signal number between 0 and 64');
    return value;
  }
  throw invalidArgType(name, 'a signal name or number', value);
}

export function signalName(num: number): NodeJS.Signals | null {
  return byNumber.get(num) ?? null;
}
