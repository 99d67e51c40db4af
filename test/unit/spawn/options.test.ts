// Validation happens before anything native: these run without privileges
// and check that every bad option throws, naming the option.
import { checkOptions } from '../../../lib/spawn/options';
import { execCandidates } from '../../../lib/spawn/command';
import { buildPlan, encodePlan, Op } from '../../../lib/spawn/plan';
import { spawnIsolated } from '../../../lib/spawn/spawn';

type Case = [string, unknown, RegExp, string];

const bad: Case[] = [
  ['options not an object', 5, /"options"/, 'ERR_INVALID_ARG_TYPE'],
  ['unknown option', { hostnmae: 'x' }, /options\.hostnmae/, 'ERR_INVALID_ARG_VALUE'],
  ['unknown namespace', { namespaces: ['foo'] }, /options\.namespaces\[0\]/, 'ERR_INVALID_ARG_VALUE'],
  ['namespaces not array', { namespaces: 'net' }, /options\.namespaces/, 'ERR_INVALID_ARG_TYPE'],
  ['hostname without uts', { hostname: 'box' }, /options\.hostname.*'uts'/, 'ERR_INVALID_ARG_VALUE'],
  ['domainname without uts', { namespaces: ['user'], domainname: 'd' }, /options\.domainname/, 'ERR_INVALID_ARG_VALUE'],
  ['mounts without mnt', { mounts: [{ type: 'proc', target: '/proc' }] }, /options\.mounts.*'mnt'/, 'ERR_INVALID_ARG_VALUE'],
  ['root without mnt', { root: '/tmp' }, /options\.root/, 'ERR_INVALID_ARG_VALUE'],
  ['user without user ns', { user: 'root' }, /options\.user/, 'ERR_INVALID_ARG_VALUE'],
  ['timeOffsets without time', { timeOffsets: { boottime: 1 } }, /options\.timeOffsets/, 'ERR_INVALID_ARG_VALUE'],
  ['bad user string', { namespaces: ['user'], user: 'admin' }, /options\.user/, 'ERR_INVALID_ARG_VALUE'],
  ['overlapping inside', { namespaces: ['user'], user: { uidMap: [{ inside: 0, outside: 0, count: 10 }, { inside: 5, outside: 100, count: 1 }], gidMap: [{ inside: 0, outside: 0, count: 1 }] } }, /options\.user\.uidMap.*overlapping inside/, 'ERR_INVALID_ARG_VALUE'],
  ['overlapping outside', { namespaces: ['user'], user: { uidMap: [{ inside: 0, outside: 0, count: 1 }], gidMap: [{ inside: 0, outside: 5, count: 10 }, { inside: 20, outside: 6, count: 1 }] } }, /gidMap.*overlapping outside/, 'ERR_INVALID_ARG_VALUE'],
  ['map count 0', { namespaces: ['user'], user: { uidMap: [{ inside: 0, outside: 0, count: 0 }], gidMap: [] } }, /uidMap\[0\]\.count/, 'ERR_OUT_OF_RANGE'],
  ['explicit maps with join', { namespaces: ['user'], join: { pid: 1, types: ['net'] }, user: { uidMap: [{ inside: 0, outside: 0, count: 1 }], gidMap: [{ inside: 0, outside: 0, count: 1 }] } }, /options\.user.*options\.join/, 'ERR_INVALID_ARG_VALUE'],
  ['uid negative', { uid: -1 }, /options\.uid/, 'ERR_OUT_OF_RANGE'],
  ['gid string', { gid: '0' }, /options\.gid/, 'ERR_INVALID_ARG_TYPE'],
  ['groups not array', { groups: 5 }, /options\.groups/, 'ERR_INVALID_ARG_TYPE'],
  ['hostname NUL', { namespaces: ['uts'], hostname: 'a\0b' }, /options\.hostname/, 'ERR_INVALID_ARG_VALUE'],
  ['hostname too long', { namespaces: ['uts'], hostname: 'x'.repeat(65) }, /options\.hostname/, 'ERR_INVALID_ARG_VALUE'],
  ['mount without target', { namespaces: ['mnt'], mounts: [{ type: 'proc' }] }, /options\.mounts\[0\]\.target/, 'ERR_INVALID_ARG_TYPE'],
  ['mount target NUL', { namespaces: ['mnt'], mounts: [{ type: 'tmpfs', target: '/t\0' }] }, /mounts\[0\]\.target/, 'ERR_INVALID_ARG_VALUE'],
  ['bind without source', { namespaces: ['mnt'], mounts: [{ type: 'bind', target: '/t' }] }, /mounts\[0\]\.source/, 'ERR_INVALID_ARG_TYPE'],
  ['tmpfs bad size', { namespaces: ['mnt'], mounts: [{ type: 'tmpfs', target: '/t', size: 'lots' }] }, /mounts\[0\]\.size/, 'ERR_INVALID_ARG_VALUE'],
  ['tmpfs bad mode', { namespaces: ['mnt'], mounts: [{ type: 'tmpfs', target: '/t', mode: 0o10000 }] }, /mounts\[0\]\.mode/, 'ERR_OUT_OF_RANGE'],
  ['mount unknown key', { namespaces: ['mnt'], mounts: [{ type: 'proc', target: '/p', readonly: true }] }, /mounts\[0\]\.readonly/, 'ERR_INVALID_ARG_VALUE'],
  ['propagation', { namespaces: ['mnt'], propagation: 'rshared' }, /options\.propagation/, 'ERR_INVALID_ARG_VALUE'],
  ['cwd NUL', { cwd: '/tmp\0' }, /options\.cwd/, 'ERR_INVALID_ARG_VALUE'],
  ['env NUL value', { env: { A: 'x\0y' } }, /options\.env\.A/, 'ERR_INVALID_ARG_VALUE'],
  ['env key with =', { env: { 'A=B': 'x' } }, /options\.env/, 'ERR_INVALID_ARG_VALUE'],
  // Found by the options fuzz: a value String() cannot convert threw the engine's bare TypeError, naming nothing.
  ['env value with no prototype', { env: { A: Object.create(null) } }, /options\.env\.A/, 'ERR_INVALID_ARG_VALUE'],
  ['env value a Symbol', { env: { PATH: '/bin', A: Symbol('s') } }, /options\.env\.A/, 'ERR_INVALID_ARG_VALUE'],
  ['stdio bad string', { stdio: 'piped' }, /options\.stdio/, 'ERR_INVALID_ARG_TYPE'],
  ['stdio bad entry', { stdio: ['pipe', 'file', 'pipe'] }, /options\.stdio\[1\]/, 'ERR_INVALID_ARG_VALUE'],
  ['stdio negative fd', { stdio: ['pipe', -3, 'pipe'] }, /options\.stdio\[1\]/, 'ERR_OUT_OF_RANGE'],
  ['dieWithParent type', { dieWithParent: {} }, /options\.dieWithParent/, 'ERR_INVALID_ARG_TYPE'],
  ['dieWithParent unknown signal', { dieWithParent: 'yes' }, /options\.dieWithParent/, 'ERR_UNKNOWN_SIGNAL'],
  ['dieWithParent signal 0 (no signal would come)', { dieWithParent: 0 }, /options\.dieWithParent/, 'ERR_UNKNOWN_SIGNAL'],
  ['dieWithParent 33 (glibc\'s own, below SIGRTMIN)', { dieWithParent: 33 }, /options\.dieWithParent/, 'ERR_UNKNOWN_SIGNAL'],
  ['dieWithParent 65', { dieWithParent: 65 }, /options\.dieWithParent/, 'ERR_UNKNOWN_SIGNAL'],
  ['chroot relative', { chroot: 'x' }, /options\.chroot/, 'ERR_INVALID_ARG_VALUE'],
  ['capability name', { capabilities: { keep: ['CAP_FLY'] } }, /options\.capabilities\.keep\[0\]/, 'ERR_INVALID_ARG_VALUE'],
  ['rlimit name', { rlimits: { files: [1, 2] } }, /options\.rlimits\.files/, 'ERR_INVALID_ARG_VALUE'],
  ['rlimit soft > hard', { rlimits: { nofile: [10, 5] } }, /options\.rlimits\.nofile/, 'ERR_INVALID_ARG_VALUE'],
  ['signal type', { signal: {} }, /options\.signal/, 'ERR_INVALID_ARG_TYPE'],
  ['timeout negative', { timeout: -1 }, /options\.timeout/, 'ERR_OUT_OF_RANGE'],
  ['killSignal unknown', { killSignal: 'SIGFOO' }, /options\.killSignal/, 'ERR_UNKNOWN_SIGNAL'],
  // Found by the options fuzz: kill(pid, 0) kills nothing, so timeout and signal would never stop the command. child_process refuses 0 and the numbers it has no name for.
  ['killSignal 0', { killSignal: 0 }, /options\.killSignal/, 'ERR_UNKNOWN_SIGNAL'],
  ['killSignal 0 with a timeout', { killSignal: 0, timeout: 10 }, /options\.killSignal/, 'ERR_UNKNOWN_SIGNAL'],
  ['killSignal a real-time number', { killSignal: 34 }, /options\.killSignal/, 'ERR_UNKNOWN_SIGNAL'],
  // Found by the options fuzz (test/fuzz): holes in arrays were skipped (map), prototype keys taken for resources, zone indexes passed isIP.
  ['mounts with a hole', { namespaces: ['mnt'], mounts: [, { type: 'proc', target: '/proc' }] }, /options\.mounts\[0\]/, 'ERR_INVALID_ARG_TYPE'],
  ['groups with a hole', { groups: [, 5] }, /options\.groups\[0\]/, 'ERR_INVALID_ARG_TYPE'],
  ['uidMap with a hole', { namespaces: ['user'], user: { uidMap: [,], gidMap: [{ inside: 0, outside: 0, count: 1 }] } }, /options\.user\.uidMap\[0\]/, 'ERR_INVALID_ARG_TYPE'],
  ['rlimit pair with a hole', { rlimits: { nofile: [, 64] } }, /options\.rlimits\.nofile\[0\]/, 'ERR_INVALID_ARG_TYPE'],
  ['rlimit named toString', { rlimits: { toString: [1, 1] } }, /options\.rlimits\.toString/, 'ERR_INVALID_ARG_VALUE'],
  ['rlimit named constructor', { rlimits: { constructor: [7, 7] } }, /options\.rlimits\.constructor/, 'ERR_INVALID_ARG_VALUE'],
  ['namespaces with a hole', { namespaces: [, 'user'] }, /options\.namespaces\[0\]/, 'ERR_INVALID_ARG_TYPE'],
  ['join types with a hole', { join: { pid: 1, types: [, 'uts'] } }, /options\.join\.types\[0\]/, 'ERR_INVALID_ARG_TYPE'],
  ['join with a hole', { join: [,] }, /options\.join\[0\]/, 'ERR_INVALID_ARG_TYPE'],
  ['capability hole', { capabilities: { keep: [, 'CAP_CHOWN'] } }, /options\.capabilities\.keep\[0\]/, 'ERR_INVALID_ARG_VALUE'],
  ['veth address with a hole', { namespaces: ['net'], network: { veth: { address: [, '169.254.9.2/30'] } } }, /veth\.address\[0\]/, 'ERR_INVALID_ARG_TYPE'],
  ['a constructor named by a Symbol', { stdio: { constructor: { name: Symbol('s') } } }, /options\.stdio.*instance of Object/, 'ERR_INVALID_ARG_TYPE'],
  ['veth address with a zone index', { namespaces: ['net'], network: { veth: { address: 'fe80::1%lo/64' } } }, /veth\.address/, 'ERR_INVALID_ARG_VALUE'],
  // Found by the options fuzz: a default route via a host address the sandbox end has no address of that family to reach (EHOSTUNREACH at spawn).
  ['veth gateway, IPv6 host and IPv4 sandbox', { namespaces: ['net'], network: { veth: { hostAddress: '2001:db8::1/64', address: '169.254.1.2/30', gateway: true } } }, /options\.network\.veth\.gateway/, 'ERR_INVALID_ARG_VALUE'],
  ['veth gateway, IPv4 host and IPv6 sandbox (arrays)', { namespaces: ['net'], network: { veth: { hostAddress: ['169.254.1.1/30'], address: ['2001:db8::2/64'], gateway: true } } }, /options\.network\.veth\.gateway/, 'ERR_INVALID_ARG_VALUE'],
  ['veth gateway without a sandbox address', { namespaces: ['net'], network: { veth: { hostAddress: '169.254.1.1/30', gateway: true } } }, /options\.network\.veth\.gateway/, 'ERR_INVALID_ARG_VALUE'],
];

describe('checkOptions refuses bad input, naming the option', () => {
  test.each(bad)('%s', (_name, options, message, code) => {
    let caught: unknown;
    try {
      checkOptions(options);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(code === 'ERR_OUT_OF_RANGE' ? RangeError : TypeError);
    expect(caught).toMatchObject({ code, message: expect.stringMatching(message) });
  });
});

describe('spawnIsolated rejects bad arguments before starting anything', () => {
  test.each([
    ['command number', 5, [], 'ERR_INVALID_ARG_TYPE', /"command"/],
    ['command NUL', 'a\0b', [], 'ERR_INVALID_ARG_VALUE', /command/],
    ['args not array', 'true', 'x', 'ERR_INVALID_ARG_TYPE', /"args"/],
    ['args NUL', 'true', ['ok', 'b\0'], 'ERR_INVALID_ARG_VALUE', /args\[1\]/],
    ['args number', 'true', [1], 'ERR_INVALID_ARG_TYPE', /args\[0\]/],
  ])('%s', async (_n, command, args, code, message) => {
    await expect(spawnIsolated(command as string, args as string[])).rejects.toMatchObject({ code, message: expect.stringMatching(message) });
  });
});

describe('defaults', () => {
  test('user defaults to self with a user namespace; noNewPrivileges and private propagation default on', () => {
    const c = checkOptions({ namespaces: 'all' });
    expect(c.user).toBe('self');
    expect(c.noNewPrivileges).toBe(true);
    expect(c.propagation).toBe('private');
    expect([...c.namespaces].sort()).toEqual(['cgroup', 'ipc', 'mnt', 'net', 'pid', 'time', 'user', 'uts']);
    expect(c.stdio).toEqual(['pipe', 'pipe', 'pipe']);
  });

  test('killSignal by name or number, as child_process takes it', () => {
    expect(checkOptions({}).killSignal).toBe(15);
    expect(checkOptions({ killSignal: 'SIGKILL' }).killSignal).toBe(9);
    expect(checkOptions({ killSignal: 'SIGIOT' }).killSignal).toBe(6);
    expect(checkOptions({ killSignal: 31 }).killSignal).toBe(31);
  });

  test('env values are converted to strings as child_process converts them', () => {
    const env = checkOptions({ env: { N: 5, B: true, NULL: null, O: { toString: () => 'via toString' }, U: undefined } }).env;
    expect(env).toEqual([['N', '5'], ['B', 'true'], ['NULL', 'null'], ['O', 'via toString']]);
  });

  test("an env value whose own toString throws is refused naming the key, with the caller's error as the cause", () => {
    const mine = new Error('not loaded yet');
    const options = { env: { SECRET: { toString: () => { throw mine; } } } };
    expect(() => checkOptions(options)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringMatching(/options\.env\.SECRET/), cause: mine }));
  });

  test('a hole in stdio is the default for that fd, not skipped (the fds after it keep their places)', () => {
    const { stdio } = checkOptions({ stdio: [, 'ignore', 'pipe'] });
    expect(stdio).toEqual([undefined, 'ignore', 'pipe']);
    expect(0 in stdio).toBe(true);
  });
});

describe('plan', () => {
  const kinds = (options: object) =>
    buildPlan(checkOptions(options), 'true', [], ['/bin/true'], { child: [0, 1, 2] }, { forceClone: false }).native.ops.map((o) => o.kind);

  test('user maps come first, propagation before mounts, exec last', () => {
    const k = kinds({ namespaces: 'all', user: 'root', mounts: [{ type: 'proc', target: '/proc' }], hostname: 'h' });
    expect(k.slice(0, 3)).toEqual([Op.WriteFile, Op.WriteFile, Op.WriteFile]);
    expect(k.indexOf(Op.Mount)).toBeLessThan(k.indexOf(Op.Sethostname));
    expect(k[k.length - 1]).toBe(Op.Exec);
    // The default seccomp filter last before exec, after the fds are closed.
    expect(k.slice(-3)).toEqual([Op.CloseFds, Op.Seccomp, Op.Exec]);
    expect(kinds({ seccomp: false, allowUserNamespaces: true }).slice(-2)).toEqual([Op.CloseFds, Op.Exec]);
  });

  test('PR_SET_PDEATHSIG comes after every change of credentials, right before execve (with init too)', () => {
    const CREDENTIALS = [Op.Setgroups, Op.Setresgid, Op.Setresuid, Op.Capabilities, Op.WaitParent, Op.WriteFile, Op.Prctl];
    const cases = [
      { dieWithParent: true, uid: 1000, gid: 1000, groups: [1000], capabilities: { keep: ['CAP_CHOWN'] } },
      { dieWithParent: true, namespaces: ['user', 'pid'], user: 'root', init: true, uid: 0, gid: 0 },
      { dieWithParent: true, namespaces: ['user'], user: { uidMap: [{ inside: 0, outside: 100000, count: 10 }], gidMap: [{ inside: 0, outside: 100000, count: 10 }] }, uid: 0, gid: 0 },
    ];
    for (const options of cases) {
      const c = checkOptions(options);
      const init = c.init ? { path: 'nsjs-init', statusFd: 9 } : undefined;
      const k = buildPlan(c, 'true', [], ['/bin/true'], { child: [0, 1, 2] }, { forceClone: false, init }).native.ops.map((o) => o.kind);
      expect(k.slice(-3)).toEqual([Op.Pdeathsig, Op.Seccomp, Op.Exec]);
      expect(k.filter((kind) => kind === Op.Pdeathsig)).toHaveLength(1);
      for (const kind of CREDENTIALS) if (k.includes(kind)) expect(k.lastIndexOf(kind)).toBeLessThan(k.indexOf(Op.Pdeathsig));
    }
  });

  test('ranges make the parent write the maps while the child waits', () => {
    const p = buildPlan(
      checkOptions({ namespaces: ['user'], user: { uidMap: [{ inside: 0, outside: 1000, count: 10 }], gidMap: [{ inside: 0, outside: 1000, count: 10 }] } }),
      'true', [], ['/bin/true'], { child: [0, 1, 2] }, { forceClone: false },
    );
    expect(p.native.parentMaps).toBe(true);
    expect(p.native.uidMap).toBe('0 1000 10\n');
    expect(p.native.ops[0].kind).toBe(Op.WaitParent);
  });

  test('gateway: a default route for each family both veth ends have an address of, and none for the others', () => {
    const routes = (veth: object) =>
      buildPlan(checkOptions({ namespaces: ['net'], network: { veth } }), 'true', [], ['/bin/true'], { child: [0, 1, 2] }, { forceClone: false })
        .native.ops.filter((o) => o.kind === Op.DefaultRoute)
        .map((o) => o.addr);
    const host = ['169.254.1.1/30', '2001:db8::1/64'];
    expect(routes({ hostAddress: host, address: '169.254.1.2/30', gateway: true })).toEqual(['169.254.1.1']);
    expect(routes({ hostAddress: host, address: ['2001:db8::2/64'], gateway: true })).toEqual(['2001:db8::1']);
    expect(routes({ hostAddress: host, address: ['2001:db8::2/64', '169.254.1.2/30'], gateway: true })).toEqual(['169.254.1.1', '2001:db8::1']);
    expect(routes({ hostAddress: host, address: '169.254.1.2/30' })).toEqual([]);
  });

  test('time offsets unshare the time namespace in the child instead of clone3', () => {
    const p = buildPlan(checkOptions({ namespaces: ['user', 'time'], timeOffsets: { monotonic: 5 } }), 'true', [], ['/bin/true'], { child: [0, 1, 2] }, { forceClone: false });
    expect(p.native.cloneFlags & 0x80).toBe(0);
    expect(p.steps.map((s) => s.step)).toContain('write timens_offsets');
  });

  test('PATH search happens before clone, in the command env', () => {
    expect(execCandidates('sh', [['PATH', '/nonexistent:/bin']], true)).toEqual(['/bin/sh']);
    expect(execCandidates('no-such-command-x', [['PATH', '/bin']], true)).toBeNull();
    expect(execCandidates('sh', [['PATH', '/a:/b']], false)).toEqual(['/a/sh', '/b/sh']);
    expect(execCandidates('./x', [], true)).toEqual(['./x']);
  });

  test('the encoding for the addon: 64-bit values split into two words, strings in order, NUL-separated', () => {
    const ops = [
      { kind: Op.Setrlimit, a: 1, flags: 2 ** 33 + 5, b64: 0xffffffffffffffffn },
      { kind: Op.Mount, s: [null, '/', 'x', null], flags: 0x44000 },
      { kind: Op.AddAddress, s: ['eth0'], a: 2, b: 24, addr: '169.254.1.2' },
    ];
    const e = encodePlan({
      cloneFlags: 0x7e020080, forceClone: false, parentMaps: false, dieWithParent: true, forkStyle: false, execChain: false,
      ops, stdio: [-1, 5, -2], groups: [0, 0xfffffffe], execPaths: ['/bin/true'], argv: ['true', ''],
    });
    // header: bits (dieWithParent | own environ), clone flags, exec fd, then the counts.
    expect([...e.ints.slice(0, 10)]).toEqual([4 | 32, 0x7e020080, -1, 3, 3, 2, 1, 2, 0, 7]);
    expect([...e.ints.slice(10, 18)]).toEqual([Op.Setrlimit, 1, 0, 5, 2, -1, -1, 0]);
    expect(e.ints[17 + 8]).toBe(0b0110);
    expect(e.ints[17 + 16]).toBe(0b1_0001);
    expect([...e.ints.slice(34)]).toEqual([-1, 5, -2, 0, -2]);
    expect(e.text.split('\0')).toEqual(['/', 'x', 'eth0', '169.254.1.2', '/bin/true', 'true', '', '']);
    expect(e.extras).toBeUndefined();
  });
});
