// Options are read once (issue 13, items 8, 9 and 12): copied into a frozen
// null-prototype snapshot before anything is checked, so a getter or Proxy
// cannot answer the check one way and the plan another, a key on
// Object.prototype is no option, and what the caller's code throws while
// being read is ERR_INVALID_ARG_VALUE naming the option, with its error as
// the cause. No kernel needed: everything here happens before a syscall.
import { Namespace } from '../../../lib';
import { checkOptions, snapshotOptions, type Checked } from '../../../lib/spawn/options';
import { buildPlan, encodePlan, Op } from '../../../lib/spawn/plan';
import { spawnIsolated } from '../../../lib/spawn/spawn';
import { native } from '../../../lib/core/native';

import { record } from '../../../lib/core/validate';

// The context as lib/spawn/spawn.ts makes it: a null-prototype record.
const plan = (c: Checked) => buildPlan(c, 'true', [], ['/bin/true'], record({ child: [0, 1, 2] }), record({ forceClone: false }));

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('did not throw');
}

describe('a getter is called once, before any check, and the plan sees only what it answered then', () => {
  test('hostname that answers undefined to the check and a name to the plan: no sethostname', () => {
    let n = 0;
    const c = checkOptions({ namespaces: ['pid'], get hostname() { return n++ ? 'pwned' : undefined; } });
    const ops = plan(c).native.ops.map((o) => o.kind);
    expect(n).toBe(1);
    expect(ops).not.toContain(Op.Sethostname);
  });

  test('the same for domainname, mounts, user and join, nested getters included', () => {
    const calls = new Map<string, number>();
    const counted = <T>(key: string, first: T, later: unknown) => () => {
      const n = calls.get(key) ?? 0;
      calls.set(key, n + 1);
      return (n === 0 ? first : later) as T;
    };
    const mount = {};
    Object.defineProperty(mount, 'type', { enumerable: true, get: counted('type', 'tmpfs', 'proc') });
    Object.defineProperty(mount, 'target', { enumerable: true, get: counted('target', '/tmp', '/etc') });
    const options = { namespaces: ['user', 'mnt'] };
    for (const [key, first, later] of [
      ['domainname', undefined, 'pwned'],
      ['mounts', [mount], []],
      ['user', 'self', 'root'],
      ['join', undefined, { pid: 1 }],
    ] as const)
      Object.defineProperty(options, key, { enumerable: true, get: counted(key, first, later) });
    const c = checkOptions(options);
    const p = plan(c);
    expect(Object.fromEntries(calls)).toEqual({ domainname: 1, mounts: 1, user: 1, join: 1, type: 1, target: 1 });
    expect(c).toMatchObject({ user: 'self', mounts: [{ type: 'tmpfs', target: '/tmp' }] });
    expect(c.join).toBeUndefined();
    expect(p.native.ops.map((o) => o.kind)).not.toContain(Op.Setdomainname);
  });

  test('a Proxy is asked once per key, and a trap that changes its answer changes nothing', () => {
    const asked = new Map<PropertyKey, number>();
    const proxy = new Proxy({ namespaces: ['uts'], hostname: 'box' } as Record<string, unknown>, {
      getOwnPropertyDescriptor(target, key) {
        asked.set(key, (asked.get(key) ?? 0) + 1);
        const d = Reflect.getOwnPropertyDescriptor(target, key);
        if (d && key === 'hostname' && asked.get(key)! > 1) d.value = 'x'.repeat(200);
        return d;
      },
    });
    const c = checkOptions(proxy);
    expect(c.hostname).toBe('box');
    expect(asked.get('hostname')).toBe(1);
  });

  test('the snapshot is frozen and has no prototype, all the way down; AbortSignal and Namespace kept, Buffers copied', () => {
    const signal = new AbortController().signal;
    const ns = Namespace.current('uts');
    try {
      const input = Buffer.from('abc');
      const s = snapshotOptions({ signal, join: [ns], mounts: [{ type: 'tmpfs', target: '/t' }], input }) as Record<string, never>;
      for (const v of [s, s.mounts, (s.mounts as object[])[0]]) expect(Object.isFrozen(v)).toBe(true);
      expect(Object.getPrototypeOf(s)).toBeNull();
      expect(Object.getPrototypeOf((s.mounts as object[])[0])).toBeNull();
      expect(s.signal).toBe(signal);
      expect((s.join as Namespace[])[0]).toBe(ns);
      expect(s.input).toEqual(input);
      expect(s.input).not.toBe(input);
      input[0] = 0x78;
      expect((s.input as Buffer).toString()).toBe('abc');
    } finally {
      ns.close();
    }
  });

  test('symbol keys and non-enumerable properties are not options', () => {
    const o = { [Symbol('x')]: 1 };
    Object.defineProperty(o, 'hostname', { value: 'pwned', enumerable: false });
    expect(checkOptions(o).hostname).toBeUndefined();
  });
});

describe("the caller's code that throws while being read is ERR_INVALID_ARG_VALUE naming the option, with its error as the cause", () => {
  const mine = new Error('not ready');
  const boom = () => {
    throw mine;
  };
  test.each([
    ['a getter', () => Object.defineProperty({}, 'hostname', { enumerable: true, get: boom }), /options\.hostname/],
    ['a nested getter', () => ({ mounts: [Object.defineProperty({ type: 'proc' }, 'target', { enumerable: true, get: boom })] }), /options\.mounts\[0\]\.target/],
    ['a getter at an array index', () => ({ namespaces: Object.defineProperty(['mnt'], 1, { enumerable: true, get: boom }) }), /options\.namespaces\[1\]/],
    ['a Proxy whose ownKeys throws', () => new Proxy({}, { ownKeys: boom }), /argument 'options'/],
    ['a Proxy whose get throws (at the key it lists)', () => new Proxy({ user: 'root' }, { getOwnPropertyDescriptor: boom }), /options\.user/],
    ['a revoked Proxy', () => { const r = Proxy.revocable({}, {}); r.revoke(); return { network: r.proxy }; }, /options\.network/],
    ['a getter in env', () => ({ env: Object.defineProperty({}, 'SECRET', { enumerable: true, get: boom }) }), /options\.env\.SECRET/],
    ['a getter in join', () => ({ join: Object.defineProperty([], 0, { enumerable: true, get: boom }) }), /options\.join\[0\]/],
  ])('%s', (_name, make, message) => {
    const err = thrown(() => checkOptions(make())) as Error & { code: string };
    expect(err).toBeInstanceOf(TypeError);
    expect(err).toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringMatching(message) });
    if (!/revoked/.test(_name)) expect(err.cause).toBe(mine);
    else expect(err.cause).toBeInstanceOf(TypeError);
  });

  test('a cycle and a nesting deeper than any option are refused, naming where', () => {
    const loop: Record<string, unknown> = { type: 'tmpfs', target: '/t' };
    loop.self = loop;
    expect(thrown(() => checkOptions({ mounts: [loop] }))).toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringMatching(/options\.mounts\[0\]\.self' refers to itself/) });
    let deep: unknown = {};
    for (let i = 0; i < 20; i++) deep = { deep };
    expect(thrown(() => checkOptions({ network: deep }))).toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringMatching(/options\.network(\.deep)+' is nested deeper/) });
  });

  test('an array longer than anything takes is refused before it is copied', () => {
    const huge: unknown[] = [];
    huge.length = 2 ** 31;
    expect(thrown(() => checkOptions({ groups: huge }))).toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringMatching(/options\.groups' must have at most/) });
  });
});

describe('Object.prototype is not an option, nor part of the plan', () => {
  // Polluted only while checkOptions and buildPlan run; jest's own code runs after the finally.
  const POLLUTION: Record<string, unknown> = {
    noNewPrivileges: false, propagation: 'shared', recursive: false, readonly: false, mounts: [{ type: 'tmpfs', target: '/' }],
    user: { uidMap: [{ inside: 0, outside: 0, count: 1 }], gidMap: [{ inside: 0, outside: 0, count: 1 }] }, join: { pid: 1 },
    capabilities: { keep: ['CAP_SYS_ADMIN'] }, hostname: 'pwned', domainname: 'pwned', uid: 0, gid: 0, groups: [0], cwd: '/', root: '/tmp',
    init: true, namespaces: ['user'], network: { veth: { address: '169.254.0.2/30' } }, veth: { hostName: 'pwn0' }, loopback: false,
    newSession: false, dieWithParent: true, env: { PWNED: '1' }, argv0: 'pwned', stdio: 'inherit', rlimits: { nofile: [1, 1] },
    timeOffsets: { monotonic: 1 }, timeout: 1, killSignal: 'SIGKILL', types: ['user'], pid: 1, keep: [], execFd: 0, fault: { op: 0, errno: 5 },
    uidMap: '0 0 4294967295\n', gidMap: '0 0 4294967295\n', setgroups: 'allow', extras: {}, s: ['/'], a: 1, b: 1, flags: 1, b64: 1, addr: '127.0.0.1',
    cgroup: { parent: '' }, terminal: true, persist: { net: '/run/netns/pwned' }, chroot: '/', rootFd: 0, cwdFd: 0, seccomp: false, allowUserNamespaces: true,
    landlock: { read: ['/'] }, killTimeout: 0, binfmtRegister: { dir: '/proc/sys/fs/binfmt_misc', entry: ':pwned:M::MZ::/tmp/pwned:' }, owner: { uid: 0, gid: 0 },
  };
  const polluted = <T>(fn: () => T): T => {
    for (const [k, v] of Object.entries(POLLUTION)) (Object.prototype as Record<string, unknown>)[k] = v;
    try {
      return fn();
    } finally {
      for (const k of Object.keys(POLLUTION)) delete (Object.prototype as Record<string, unknown>)[k];
    }
  };
  const build = (options: object) => {
    const c = checkOptions(options);
    const p = plan(c);
    const e = encodePlan(p.native);
    return { checked: { ...c, namespaces: [...c.namespaces] }, ints: [...e.ints], text: e.text, extras: e.extras, steps: p.steps.map((s) => ({ ...s })) };
  };
  test.each([
    [{}],
    [{ namespaces: ['user', 'mnt', 'net', 'uts'], mounts: [{ type: 'bind', source: '/usr', target: '/usr' }], hostname: 'box' }],
    [{ namespaces: ['mnt', 'pid'], mounts: [{ type: 'proc', target: '/proc' }], cwd: '/' }],
    [{ join: { pid: 1 } }],
    [{ namespaces: ['user', 'mnt'], user: {} }],
    [{ namespaces: ['user'], user: { uidMap: [{ inside: 0, outside: 0, count: 1 }] } }],
  ])('%j: the same checked options and encoded plan as without the pollution', (options) => {
    const clean = build(options);
    expect(polluted(() => build(options))).toEqual(clean);
  });
});

test('a hole reads no index put on Array.prototype, in a short array or a long one', () => {
  const proto = Array.prototype as unknown as Record<number, unknown>;
  const long = new Array<unknown>(100).fill(0);
  delete long[50];
  let short: unknown[];
  let copied: unknown[];
  proto[0] = 'pwned';
  proto[50] = 'pwned';
  try {
    short = (snapshotOptions({ stdio: [, 'ignore'] }) as { stdio: unknown[] }).stdio;
    copied = (snapshotOptions({ groups: long }) as { groups: unknown[] }).groups;
  } finally {
    delete proto[0];
    delete proto[50];
  }
  expect(Object.hasOwn(short, 0) && short[0] === undefined).toBe(true);
  expect(Object.hasOwn(copied, 50) && copied[50] === undefined).toBe(true);
  expect(copied.filter((v) => v === 0).length).toBe(99);
});

describe('join: only a Namespace made by the class, open (issue 13, item 12)', () => {
  let ns: Namespace;
  beforeAll(() => {
    ns = Namespace.current('uts');
  });
  afterAll(() => ns.close());
  test.each([
    ['Object.create(Namespace.prototype)', () => Object.create(Namespace.prototype) as unknown, 'ERR_INVALID_ARG_TYPE'],
    ['a Proxy of a Namespace', () => new Proxy(ns, {}), 'ERR_INVALID_ARG_TYPE'],
    ['a Proxy whose traps throw', () => new Proxy(ns, { get() { throw new Error('trap'); }, getOwnPropertyDescriptor() { throw new Error('trap'); }, ownKeys() { throw new Error('trap'); } }), 'ERR_INVALID_ARG_VALUE'],
    ['a look-alike', () => ({ type: 'uts', fd: 0, inode: 1, device: 1 }), 'ERR_INVALID_ARG_TYPE'],
    ['a closed Namespace', () => { const c = Namespace.current('ipc'); c.close(); return c; }, 'ERR_INVALID_ARG_VALUE'],
  ])('%s is ERR_INVALID_ARG_* naming options.join[1]', (_n, make, code) => {
    const err = thrown(() => checkOptions({ join: [Namespace.current('net'), make()] }));
    expect(err).toMatchObject({ code, message: expect.stringMatching(/options\.join\[1\]/) });
  });
});

describe('args and cwd (issue 13, item 12)', () => {
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

  test.each([
    ['a hole in args', ['a', , 'b'], 'ERR_INVALID_ARG_VALUE', /args\[1\]/],
    ['a getter that throws in args', Object.defineProperty(['a'], 1, { enumerable: true, get() { throw new Error('mine'); } }), 'ERR_INVALID_ARG_VALUE', /args\[1\]/],
    ['a Proxy of args whose trap throws', new Proxy(['a'], { getOwnPropertyDescriptor() { throw new Error('mine'); } }), 'ERR_INVALID_ARG_VALUE', /args/],
  ])('%s is refused naming it, and nothing starts', async (_n, args, code, message) => {
    await expect(spawnIsolated('true', args as string[])).rejects.toMatchObject({ code, message: expect.stringMatching(message) });
    expect(spawns).toBe(0);
  });

  test('args are read once, before the options are checked', async () => {
    let n = 0;
    const args = Object.defineProperty(['-c'], 1, { enumerable: true, get: () => (n++ ? 'exit 3' : 'exit 0') });
    // Rejected here only by the namespace check below, after args were copied: the copy is what counts.
    await expect(spawnIsolated('sh', args as string[], { hostname: 'x' })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    expect(n).toBe(1);
  });

  test.each(['tmp', './x', '../etc', 'a/b'])('a relative cwd (%s) is refused up front', async (cwd) => {
    expect(thrown(() => checkOptions({ cwd }))).toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringMatching(/options\.cwd.*absolute/) });
    await expect(spawnIsolated('true', [], { cwd })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    expect(spawns).toBe(0);
  });
});

describe('the plan holds no op its namespaces do not allow', () => {
  test.each([
    ['sethostname without uts', { hostname: 'pwned' }],
    ['setdomainname without uts', { domainname: 'pwned' }],
    ['a link without net', { network: { loopback: true } }],
  ])('%s: a bug, thrown before anything starts', (_n, extra) => {
    // Checked options made by hand, as a bug in validation would make them.
    const c = { ...checkOptions({ namespaces: ['pid'] }), ...(extra as object) } as Checked;
    if ('network' in extra) c.network = { loopback: true };
    expect(() => plan(c)).toThrow(/nsjs bug: the plan holds op \d+ without a new (uts|mnt|net) namespace/);
  });
});

test('encodePlan takes 200,000 arguments and a large env without a spread of them on the stack', () => {
  const args = new Array<string>(200_000).fill('x');
  const c = checkOptions({ env: Object.fromEntries(Array.from({ length: 50_000 }, (_, i) => [`V${i}`, 'y'])) });
  const p = buildPlan(c, 'true', args, ['/bin/true'], { child: [0, 1, 2] }, { forceClone: false });
  const e = encodePlan(p.native);
  expect(e.text.split('\0').length).toBe(1 + 200_001 + 50_000 + 1);
});
