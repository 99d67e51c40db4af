// options.cgroup's validation, before anything native: bad values throw
// naming the option, good ones come out in the units the files take.
import { Cgroup } from '../../../lib/cgroup/cgroup';
import { checkCgroupOptions, size } from '../../../lib/cgroup/options';
import { NsError } from '../../../lib/core/errors';
import { checkOptions } from '../../../lib/spawn/options';

type Case = [string, unknown, RegExp, string];

const bad: Case[] = [
  ['not an object', 5, /options\.cgroup/, 'ERR_INVALID_ARG_TYPE'],
  ['unknown key', { memroy: {} }, /options\.cgroup\.memroy/, 'ERR_INVALID_ARG_VALUE'],
  ['memory not an object', { memory: '32M' }, /options\.cgroup\.memory/, 'ERR_INVALID_ARG_TYPE'],
  ['memory.max bad suffix', { memory: { max: '32X' } }, /options\.cgroup\.memory\.max/, 'ERR_INVALID_ARG_VALUE'],
  ['memory.max negative', { memory: { max: -1 } }, /options\.cgroup\.memory\.max/, 'ERR_OUT_OF_RANGE'],
  ['memory.max fraction', { memory: { max: 1.5e6 + 0.5 } }, /options\.cgroup\.memory\.max/, 'ERR_OUT_OF_RANGE'],
  ['memory.max below 1M', { memory: { max: '512K' } }, /options\.cgroup\.memory\.max/, 'ERR_OUT_OF_RANGE'],
  ['memory.high too big', { memory: { high: '99999999T' } }, /options\.cgroup\.memory\.high/, 'ERR_OUT_OF_RANGE'],
  ['memory.swapMax a boolean', { memory: { swapMax: true } }, /options\.cgroup\.memory\.swapMax/, 'ERR_INVALID_ARG_TYPE'],
  ['pids.max 0', { pids: { max: 0 } }, /options\.cgroup\.pids\.max/, 'ERR_OUT_OF_RANGE'],
  ['pids.max a string', { pids: { max: '8' } }, /options\.cgroup\.pids\.max/, 'ERR_INVALID_ARG_TYPE'],
  ['cpu.max 0', { cpu: { max: 0 } }, /options\.cgroup\.cpu\.max/, 'ERR_OUT_OF_RANGE'],
  ['cpu.max NaN', { cpu: { max: NaN } }, /options\.cgroup\.cpu\.max/, 'ERR_OUT_OF_RANGE'],
  ['cpu.max a string', { cpu: { max: '0.5' } }, /options\.cgroup\.cpu\.max/, 'ERR_INVALID_ARG_TYPE'],
  ['cpu.weight 0', { cpu: { weight: 0 } }, /options\.cgroup\.cpu\.weight/, 'ERR_OUT_OF_RANGE'],
  ['cpu.weight 10001', { cpu: { weight: 10001 } }, /options\.cgroup\.cpu\.weight/, 'ERR_OUT_OF_RANGE'],
  ['parent with ..', { parent: 'a/../../b' }, /options\.cgroup\.parent/, 'ERR_INVALID_ARG_VALUE'],
  ['parent with NUL', { parent: 'a\0b' }, /options\.cgroup\.parent/, 'ERR_INVALID_ARG_VALUE'],
];

test.each(bad)('%s', (_, cgroup, message, code) => {
  const run = () => checkOptions({ cgroup });
  expect(run).toThrow(message);
  try {
    run();
  } catch (err) {
    expect((err as { code: string }).code).toBe(code);
    expect(err).toBeInstanceOf(code === 'ERR_OUT_OF_RANGE' ? RangeError : TypeError);
  }
});

test('sizes: bytes, K/M/G/T suffixes in powers of 1024, max', () => {
  expect(size(4096, 'x')).toBe(4096);
  expect(size('64M', 'x')).toBe(64 << 20);
  expect(size('2g', 'x')).toBe(2 * 2 ** 30);
  expect(size('1T', 'x')).toBe(2 ** 40);
  expect(size('max', 'x')).toBe('max');
});

test('checked: CPUs as a quota per 100 ms period, swap and parent as given, absent keys absent', () => {
  expect(checkCgroupOptions({ cgroup: { memory: { max: '32M', swapMax: 0 }, pids: { max: 'max' }, cpu: { max: 0.5, weight: 200 }, parent: '/a/b/' } })).toEqual({
    cgroup: { memory: { max: 32 << 20, swapMax: 0 }, pids: { max: 'max' }, cpu: { quotaUs: 50_000, weight: 200 }, parent: 'a/b' },
  });
  // The cgroups' paths are joined as strings: one slash between parts.
  expect(checkCgroupOptions({ cgroup: { parent: '//a//b///' } }).cgroup!.parent).toBe('a/b');
  expect(checkCgroupOptions({})).toEqual({});
  expect(checkOptions({ cgroup: {} }).cgroup).toEqual({});
});

test('read once: a getter on the cgroup options is read a single time', () => {
  let reads = 0;
  const memory = {
    get max() {
      reads++;
      return reads === 1 ? '32M' : 'max';
    },
  };
  expect(checkOptions({ cgroup: { memory } }).cgroup!.memory!.max).toBe(32 << 20);
  expect(reads).toBe(1);
});

test('a limit whose controller is in no hierarchy: ENOTSUP naming the controller, before anything is made', () => {
  const c = checkCgroupOptions({ cgroup: { memory: { max: '32M' } } }).cgroup!;
  const err = (() => {
    try {
      Cgroup.create(c, { v1: new Map() });
    } catch (e) {
      return e;
    }
  })();
  expect(err).toBeInstanceOf(NsError);
  expect(err).toMatchObject({ code: 'ENOTSUP', step: 'cgroup memory controller' });
  expect((err as Error).message).toMatch(/neither the cgroup v2 hierarchy nor a cgroup v1 one/);
});
