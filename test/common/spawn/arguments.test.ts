// Arguments the caller cannot mean, and sizes the kernel refuses (issue 13,
// item 12), as root and as an ordinary user: 200,000 arguments blew the
// stack in encodePlan's spread, a hole in args ran as an empty argument,
// fake or closed Namespaces in join gave raw errors, a relative cwd was
// resolved wherever the child happened to be. Each either runs or fails as
// promised — an NsError E2BIG from execve, or ERR_INVALID_ARG_* naming the
// argument before the addon is called — and leaves nothing behind.
import { Namespace, NsError, runIsolated, setSpawnConcurrency, spawnIsolated, type SpawnOptions } from '../../../lib';
import { native } from '../../../lib/core/native';
import { expectNoLeaks, snapshot, type Snapshot } from '../../helpers/leaks';
import { withUser } from '../../helpers/privilege';

let before: Snapshot;
beforeEach(() => {
  before = snapshot();
});
afterEach(async () => {
  await expectNoLeaks(before);
});

let spawns = 0;
let restore: () => void;
beforeAll(() => {
  const binding = native() as unknown as Record<'spawn', (...a: unknown[]) => unknown>;
  const { spawn } = binding;
  binding.spawn = (...a: unknown[]) => {
    spawns++;
    return spawn.apply(binding, a);
  };
  restore = () => (binding.spawn = spawn);
});
afterAll(() => restore());

/** Runs, or fails at execve with E2BIG (the kernel's ARG_MAX depends on the stack limit): nothing else. */
async function runsOrE2big(args: string[], options: SpawnOptions): Promise<string> {
  try {
    const r = await runIsolated('true', args, options);
    expect(r).toMatchObject({ code: 0, signal: null });
    return 'ran';
  } catch (err) {
    expect(err).toBeInstanceOf(NsError);
    expect(err).toMatchObject({ code: 'E2BIG', step: 'execve', errno: -7 });
    return 'E2BIG';
  }
}

describe('sizes', () => {
  const many = new Array<string>(200_000).fill('x');
  test('200,000 arguments run or fail with E2BIG, without touching the stack', async () => {
    expect(['ran', 'E2BIG']).toContain(await runsOrE2big(many, {}));
  });
  test('the same through nsjs-init, which gets them on its own command line', async () => {
    expect(['ran', 'E2BIG']).toContain(await runsOrE2big(many, { namespaces: withUser(['pid']), init: true }));
  });
  test('a million arguments: E2BIG, whatever the stack limit (no execve takes that many)', async () => {
    await expect(runIsolated('true', new Array<string>(1_000_000).fill('x'))).rejects.toMatchObject({ code: 'E2BIG', step: 'execve' });
  });
  test('an environment value longer than the kernel takes one string (128 KiB): E2BIG', async () => {
    await expect(runIsolated('true', [], { env: { BIG: 'y'.repeat(256 * 1024) } })).rejects.toMatchObject({ code: 'E2BIG', step: 'execve' });
  });
  test('100,000 environment variables run or fail with E2BIG', async () => {
    const env = Object.fromEntries(Array.from({ length: 100_000 }, (_, i) => [`V${i}`, 'v']));
    expect(['ran', 'E2BIG']).toContain(await runsOrE2big([], { env }));
  });
});

describe('refused before the addon is called', () => {
  let ns: Namespace;
  beforeAll(() => {
    ns = Namespace.current('uts');
  });
  afterAll(() => ns.close());
  const closed = () => {
    const c = Namespace.current('ipc');
    c.close();
    return c;
  };
  test.each([
    ['a hole in args', () => spawnIsolated('true', ['a', , 'b'] as string[]), 'ERR_INVALID_ARG_VALUE', /args\[1\]/],
    ['a relative cwd', () => spawnIsolated('true', [], { cwd: 'tmp' }), 'ERR_INVALID_ARG_VALUE', /options\.cwd/],
    ['Object.create(Namespace.prototype) in join', () => spawnIsolated('true', [], { join: [ns, Object.create(Namespace.prototype) as Namespace] }), 'ERR_INVALID_ARG_TYPE', /options\.join\[1\]/],
    ['a Proxy of a Namespace in join', () => spawnIsolated('true', [], { join: [new Proxy(ns, {})] }), 'ERR_INVALID_ARG_TYPE', /options\.join\[0\]/],
    ['a throwing getter in join', () => spawnIsolated('true', [], { join: Object.defineProperty([], 0, { enumerable: true, get() { throw new Error('mine'); } }) }), 'ERR_INVALID_ARG_VALUE', /options\.join\[0\]/],
    ['a closed Namespace in join', () => spawnIsolated('true', [], { join: [closed()] }), 'ERR_INVALID_ARG_VALUE', /options\.join\[0\]/],
  ])('%s', async (_n, start, code, message) => {
    const was = spawns;
    await expect(start()).rejects.toMatchObject({ code, message: expect.stringMatching(message) });
    expect(spawns).toBe(was);
  });

  test('a Namespace closed while its spawn waited for a slot: refused as it starts, nothing cloned', async () => {
    const previous = setSpawnConcurrency(1);
    try {
      const joined = Namespace.current('uts');
      // The first spawn holds the only slot until its native part is over, so the second waits.
      const was = spawns;
      const first = spawnIsolated('true', [], { stdio: 'ignore' });
      const second = expect(spawnIsolated('true', [], { join: [joined], stdio: 'ignore' })).rejects.toMatchObject({
        code: 'ERR_INVALID_ARG_VALUE',
        message: expect.stringMatching(/options\.join\[0\].*closed before the spawn started/),
      });
      joined.close();
      await (await first).wait();
      await second;
      expect(spawns).toBe(was + 1);
    } finally {
      setSpawnConcurrency(previous);
    }
  });
});
