// Every flag of `nsjs run`, `exec` and `ls` → the options object, without a
// kernel: the parse functions are pure.
import { UsageError, parseCommandLine } from '../../../lib/cli/args';
import { addSingle } from '../../../lib/cli/ids';
import { parseExec } from '../../../lib/cli/exec';
import { parseLs, render } from '../../../lib/cli/ls';
import { parseRun, type RunRequest } from '../../../lib/cli/run';
import { allCapabilities } from '../../../lib/policy/options';
import type { ExecRequest } from '../../../lib/cli/exec';
import type { NamespaceInfo } from '../../../lib/index';

const ids = { uid: 1000, gid: 1000, groups: [1000, 27] };
const run = (...argv: string[]) => parseRun(argv, ids) as RunRequest;
const opts = (...argv: string[]) => run(...argv, 'cmd').options;
// Nested namespaces allowed and, where the kernel lets the filter load without no_new_privs
// (root, or in a user namespace), only the TIOCSTI/TIOCLINUX rule: ids.uid is 1000 here.
const base = { noNewPrivileges: false, newSession: false, stdio: 'inherit', allowUserNamespaces: true, seccomp: false };
const userBase = { ...base, seccomp: { base: 'none' } };
// Without a user namespace (and uid 0), the capabilities as unshare and nsenter leave them: every one asked for.
const rootBase = { ...base, capabilities: { keep: allCapabilities() } };
const usageError = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return (e as Error).message;
  }
  throw new Error('no UsageError');
};

describe('getopt rules on parseArgs', () => {
  const specs = {
    user: { short: 'U', arg: 'optional' as const },
    root: { short: 'R', arg: 'required' as const },
    fork: { short: 'f', arg: 'none' as const },
    'map-root-user': { short: 'r', arg: 'none' as const },
    'map-users': { arg: 'required' as const },
  };
  test('options end at the first operand (POSIX +), so the command keeps its own', () => {
    expect(parseCommandLine(['-f', 'ls', '-R', '/x'], specs)).toEqual({
      options: [{ name: 'fork', value: undefined, as: '-f' }],
      operands: ['ls', '-R', '/x'],
    });
  });
  test('-- ends options', () => {
    expect(parseCommandLine(['--', '-f'], specs).operands).toEqual(['-f']);
  });
  test('bundles, attached and separate values', () => {
    expect(parseCommandLine(['-fR/a', '-fR', '/b', '--root=/c', '--root', '/d', 'x'], specs).options.map((o) => o.value)).toEqual([
      undefined, '/a', undefined, '/b', '/c', '/d',
    ]);
  });
  test('optional values only attached: --user=FILE, -UFILE; "--user x" leaves x an operand', () => {
    expect(parseCommandLine(['--user=/f', 'x'], specs).options[0].value).toBe('/f');
    expect(parseCommandLine(['-U/f', 'x'], specs).options[0].value).toBe('/f');
    expect(parseCommandLine(['--user', 'x'], specs)).toEqual({ options: [{ name: 'user', value: undefined, as: '--user' }], operands: ['x'] });
  });
  test('unambiguous abbreviations of long options', () => {
    expect(parseCommandLine(['--map-root', '--ro', '/x', 'y'], specs).options.map((o) => [o.name, o.value])).toEqual([
      ['map-root-user', undefined],
      ['root', '/x'],
    ]);
    expect(usageError(() => parseCommandLine(['--map', 'x'], specs))).toBe("option '--map' is ambiguous; possibilities: '--map-root-user' '--map-users'");
  });
  test("getopt's messages", () => {
    expect(usageError(() => parseCommandLine(['--bogus'], specs))).toBe("unrecognized option '--bogus'");
    expect(usageError(() => parseCommandLine(['-x'], specs))).toBe("invalid option -- 'x'");
    expect(usageError(() => parseCommandLine(['-R'], specs))).toBe("option requires an argument -- 'R'");
    expect(usageError(() => parseCommandLine(['--root'], specs))).toBe("option '--root' requires an argument");
    expect(usageError(() => parseCommandLine(['--fork=1'], specs))).toBe("option '--fork' doesn't allow an argument");
  });
});

describe('nsjs run → spawnIsolated options', () => {
  test('command and arguments', () => {
    expect(run('-U', 'sh', '-c', 'id -u')).toEqual({ command: 'sh', args: ['-c', 'id -u'], options: { ...userBase, namespaces: ['user'], user: 'none' }, persist: [] });
  });
  test.each([
    ['-m', 'mnt'], ['-u', 'uts'], ['-i', 'ipc'], ['-n', 'net'], ['-p', 'pid'], ['-U', 'user'], ['-C', 'cgroup'], ['-T', 'time'],
    ['--mount', 'mnt'], ['--uts', 'uts'], ['--ipc', 'ipc'], ['--net', 'net'], ['--pid', 'pid'], ['--user', 'user'], ['--cgroup', 'cgroup'], ['--time', 'time'],
  ])('%s creates a %s namespace', (flag, type) => {
    expect(opts(flag).namespaces).toEqual([type]);
  });
  test('bundled -Upmuinf is all of them but time and cgroup, in a fixed order', () => {
    expect(opts('-Upmuinf').namespaces).toEqual(['mnt', 'uts', 'ipc', 'net', 'pid', 'user']);
    expect(opts('-CT').namespaces).toEqual(['cgroup', 'time']);
  });
  test('--TYPE=FILE persists; short flags take no value (unshare: invalid option -- =)', () => {
    expect(run('--net=/run/netns/a', '--uts=/tmp/u', 'x').persist).toEqual([['net', '/run/netns/a'], ['uts', '/tmp/u']]);
    expect(run('--net=/a', '--net=/b', 'x').persist).toEqual([['net', '/b']]);
    expect(usageError(() => run('-U=/x', 'x'))).toBe("invalid option -- '='");
    expect(run('-Upf', 'x').persist).toEqual([]);
  });
  test('-f and --fork are accepted and change nothing', () => {
    expect(opts('-f')).toEqual(rootBase);
    expect(opts('--fork')).toEqual(rootBase);
  });
  test('--mount-proc[=DIR] implies -m and mounts proc first', () => {
    expect(opts('--mount-proc', '--tmpfs', '/tmp')).toMatchObject({ namespaces: ['mnt'], mounts: [{ type: 'proc', target: '/proc' }, { type: 'tmpfs', target: '/tmp' }] });
    expect(opts('--mount-proc=/mnt/p').mounts).toEqual([{ type: 'proc', target: '/mnt/p' }]);
  });
  test('-r, -c, --map-user, --map-group', () => {
    expect(opts('-r')).toEqual({ ...userBase, namespaces: ['user'], user: 'root' });
    expect(opts('--map-root-user').user).toBe('root');
    // --owner: maps written from outside, so no setgroups deny; the owner's ids kept (no uid/gid)
    expect(opts('--owner=7:8', '-r')).toEqual({ ...userBase, namespaces: ['user'], user: { owner: { uid: 7, gid: 8 }, uidMap: [{ inside: 0, outside: 1000, count: 1 }], gidMap: [{ inside: 0, outside: 1000, count: 1 }] } });
    expect(opts('--owner', '7:8').user).toEqual({ owner: { uid: 7, gid: 8 } });
    expect(opts('--owner', '7:8', '--setgroups=deny', '--map-group=0').user).toEqual({ owner: { uid: 7, gid: 8 }, gidMap: [{ inside: 0, outside: 1000, count: 1 }], setgroups: 'deny' });
    expect(usageError(() => opts('--owner', '7'))).toBe('failed to parse owner');
    expect(opts('-c').user).toBe('self');
    expect(opts('--map-current-user').user).toBe('self');
    expect(opts('--map-user=0', '--map-group=0').user).toBe('root');
    // one side alone leaves the other unmapped, as unshare (issue 23 item 2);
    // the command keeps our id, which the map makes 5 (so uid 5 is asked for)
    expect(opts('--map-user', '5')).toMatchObject({ user: { uidMap: [{ inside: 5, outside: 1000, count: 1 }] }, uid: 5 });
    expect((opts('--map-user', '5').user as object)).not.toHaveProperty('gidMap');
    expect(opts('--map-group', '7')).toMatchObject({ user: { gidMap: [{ inside: 7, outside: 1000, count: 1 }], setgroups: 'deny' }, gid: 7 });
    expect((opts('--map-group', '7').user as object)).not.toHaveProperty('uidMap');
    expect(opts('--map-user=0').uid).toBeUndefined(); // 0: the API's own default
    expect(opts('--map-user=root', '--map-group=7').user).toEqual({
      uidMap: [{ inside: 0, outside: 1000, count: 1 }],
      gidMap: [{ inside: 7, outside: 1000, count: 1 }],
      setgroups: 'deny',
    });
    expect(usageError(() => opts('--map-user=no-such-user-here'))).toBe("failed to parse uid 'no-such-user-here'");
  });
  test('--map-users/--map-groups in both syntaxes, with the single mapping cut out as unshare does', () => {
    const u = opts('--map-users=0:100000:65536', '--map-groups', '100000,0,65536').user as { uidMap: unknown; gidMap: unknown };
    expect(u.uidMap).toEqual([{ inside: 0, outside: 100000, count: 65536 }]);
    expect(u.gidMap).toEqual([{ inside: 0, outside: 100000, count: 65536 }]);
    // --map-root-user with a range: 0 → us, then 1.. → the range (one id shorter)
    expect(addSingle([{ inner: 0, outer: 100000, count: 65536 }], 1000, 0)).toEqual([
      { inner: 0, outer: 1000, count: 1 },
      { inner: 1, outer: 100000, count: 65535 },
    ]);
    // ... but an auto range (--map-auto -r) keeps every id, as util-linux master (872c84e7c; 2.38 and 2.41 lose one)
    expect(addSingle([{ outer: 200000, count: 65536 }], 65534, 0)).toEqual([
      { inner: 0, outer: 65534, count: 1 },
      { inner: 1, outer: 200000, count: 65536 },
    ]);
    expect(opts('--map-users=0:100000:10').user).toEqual({ uidMap: [{ inside: 0, outside: 100000, count: 10 }] });
    expect(usageError(() => opts('--map-users=1:2'))).toMatch(/^invalid mapping '1:2'/);
  });
  test('--setgroups', () => {
    expect(opts('-U').user).toBe('none');
    expect(opts('-U', '--setgroups', 'deny').user).toEqual({ setgroups: 'deny' });
    expect(opts('--map-users=0:100000:10', '--setgroups=allow').user).toMatchObject({ setgroups: 'allow' });
    expect(usageError(() => opts('-r', '--setgroups=allow'))).toBe('options --setgroups=allow and --map-group are mutually exclusive');
    expect(usageError(() => opts('--setgroups=maybe'))).toBe("unsupported --setgroups argument 'maybe'");
  });
  test('--propagation: only with a mount namespace, as unshare ignores it without', () => {
    expect(opts('-m', '--propagation', 'slave').propagation).toBe('slave');
    expect(opts('--propagation=shared').propagation).toBeUndefined();
    expect(opts('--propagation=unchanged').propagation).toBe('unchanged');
    expect(usageError(() => opts('--propagation=weird'))).toBe('unsupported propagation mode: weird');
  });
  test('--kill-child[=SIG] is dieWithParent with that signal', () => {
    expect(opts('--kill-child').dieWithParent).toBe(true);
    expect(opts('--kill-child=TERM').dieWithParent).toBe('SIGTERM');
    expect(opts('--kill-child=sigusr1').dieWithParent).toBe('SIGUSR1');
    expect(opts('--kill-child=sigkill').dieWithParent).toBe(true);
    // glibc's SIGRTMIN 34 .. SIGRTMAX 64, as util-linux names them (its strtol ignores what follows the digits)
    expect([opts('--kill-child=RTMIN+3').dieWithParent, opts('--kill-child=sigrtmax-1').dieWithParent, opts('--kill-child=RT0').dieWithParent, opts('--kill-child=RTMIN+2x').dieWithParent]).toEqual([37, 63, 34, 36]);
    // numbers are refused, as unshare's signame_to_signum refuses them
    expect(usageError(() => run('--kill-child=15', 'x'))).toBe('unknown signal: 15');
    expect(usageError(() => run('--kill-child=FOO', 'x'))).toBe('unknown signal: FOO');
  });
  test('-n leaves lo down, as unshare (the API brings it up by default)', () => {
    expect(opts('-n').network).toEqual({ loopback: false });
    expect(opts('-m').network).toBeUndefined();
  });
  test('-R is a chroot (no mount namespace) and starts in /; -w; mounts go inside it', () => {
    expect(opts('-R', '/srv/root')).toEqual({ ...rootBase, chroot: '/srv/root', cwd: '/' });
    expect(opts('-R', 'srv')).toMatchObject({ chroot: `${process.cwd()}/srv` });
    expect(opts('--root=/r', '-w', '/home')).toMatchObject({ chroot: '/r', cwd: '/home' });
    expect(opts('-R', '/r', '-pf', '--mount-proc')).toMatchObject({ chroot: '/r', namespaces: ['mnt', 'pid'], mounts: [{ type: 'proc', target: '/r/proc' }] });
    expect(opts('--wd=/tmp')).toEqual({ ...rootBase, cwd: '/tmp' });
    // The API takes only an absolute cwd: relative to ours, or to the new root.
    expect(opts('-w', 'sub/dir').cwd).toBe(`${process.cwd()}/sub/dir`);
    expect(opts('-R', '/r', '-w', 'home')).toMatchObject({ chroot: '/r', cwd: '/home' });
  });
  test('--mount-binfmt[=DIR] and -l/--load-interp: user and mount namespaces, proc then binfmt_misc, the entry registered there', () => {
    const binfmt = { type: 'raw', fstype: 'binfmt_misc', flags: 2 | 4 | 8 };
    expect(opts('--mount-binfmt')).toMatchObject({ namespaces: ['mnt', 'user'], mounts: [{ type: 'proc', target: '/proc' }, { ...binfmt, target: '/proc/sys/fs/binfmt_misc' }] });
    expect(opts('--mount-binfmt=/b').mounts).toEqual([{ ...binfmt, target: '/b' }]);
    expect(opts('-l', ':x:E::x::/bin/true:')).toMatchObject({ binfmtRegister: { dir: '/proc/sys/fs/binfmt_misc', entry: ':x:E::x::/bin/true:' } });
    expect(opts('--mount-binfmt=/b', '--load-interp=:x:E::x::/i:', '-R', '/r')).toMatchObject({ mounts: [{ ...binfmt, target: '/r/b' }], binfmtRegister: { dir: '/r/b' } });
  });
  test('--monotonic and --boottime need -T', () => {
    expect(opts('-T', '--monotonic', '-3600', '--boottime=86400').timeOffsets).toEqual({ monotonic: -3600, boottime: 86400 });
    expect(usageError(() => opts('--monotonic=5'))).toBe('options --monotonic and --boottime require unsharing of a time namespace (-T)');
    expect(usageError(() => opts('-T', '--monotonic=5s'))).toBe("failed to parse monotonic offset: '5s'");
  });
  test('-S, -G (which also drops the supplementary groups)', () => {
    expect(opts('-S', '0', '-G0')).toMatchObject({ uid: 0, gid: 0, groups: [] });
    // unshare keeps the supplementary groups with -S alone (the API would clear them), and in a user namespace leaves them to the kernel.
    expect(opts('--setuid=7')).toEqual({ ...base, uid: 7, groups: [1000, 27] });
    expect(opts('-U', '-S', '7').groups).toBeUndefined();
    expect(usageError(() => opts('-S', 'x'))).toBe("failed to parse uid: 'x'");
    expect(usageError(() => opts('--setgid=-1'))).toBe("failed to parse gid: '-1'");
  });
  test('--keep-caps keeps every capability in a user namespace; without one they are all kept anyway, unless -S makes another uid', () => {
    const keep = opts('-U', '--keep-caps').capabilities!.keep!;
    expect(keep[0]).toBe('CAP_CHOWN');
    expect(keep).toContain('CAP_SYS_ADMIN');
    expect(opts('-U').capabilities).toBeUndefined();
    expect(opts('--keep-caps').capabilities).toEqual({ keep });
    expect(opts('-n', '-S', '0').capabilities).toEqual({ keep });
    expect(opts('-n', '-S', '7').capabilities).toBeUndefined();
  });
  test('cgroup limits: --memory, --memory-high, --memory-swap, --pids, --cpus, --cpu-weight', () => {
    expect(opts('--memory', '64M', '--memory-high=48M', '--memory-swap', '0', '--pids', '100', '--cpus', '0.5', '--cpu-weight', '200')).toMatchObject({
      cgroup: { memory: { max: '64M', high: '48M', swapMax: '0' }, pids: { max: 100 }, cpu: { max: 0.5, weight: 200 } },
    });
    expect(opts('--pids', '8')).not.toHaveProperty('namespaces');
    expect(usageError(() => opts('--cpus', 'half'))).toMatch(/^invalid argument 'half' for --cpus/);
  });

  test("nsjs's own: --hostname, --domainname, --bind, --ro-bind, --tmpfs, --dev, --init, --veth", () => {
    expect(opts('--hostname', 'box', '--domainname=dom')).toEqual({ ...rootBase, namespaces: ['uts'], hostname: 'box', domainname: 'dom' });
    expect(opts('--bind', '/a:/b', '--ro-bind=/c', '--tmpfs', '/t', '--dev', '/dev').mounts).toEqual([
      { type: 'bind', source: '/a', target: '/b' },
      { type: 'bind', source: '/c', target: '/c', readonly: true },
      { type: 'tmpfs', target: '/t' },
      { type: 'dev', target: '/dev' },
    ]);
    expect(opts('-p', '--init').init).toBe(true);
    expect(opts('--veth', '10.0.0.1/24,10.0.0.2/24')).toMatchObject({ namespaces: ['net'], network: { veth: { hostAddress: '10.0.0.1/24', address: '10.0.0.2/24' } } });
    expect(usageError(() => opts('--veth=10.0.0.1/24'))).toMatch(/^invalid argument '10.0.0.1\/24' for --veth/);
    expect(usageError(() => opts('--bind=:/x'))).toMatch(/^invalid argument ':\/x' for --bind/);
  });
  test("the filesystem builder, bwrap's flags: --tmpfs-root, --remount-ro, --*-try, --dir, --file, --file-from, --symlink, --mask, --mqueue, overlays", () => {
    const o = opts('--tmpfs-root', '--remount-ro', '--ro-bind-try', '/usr', '--bind-try=/a:/b', '--dir', '/w', '--file', '/etc/m:a:b', '--symlink', 'usr/lib:/lib',
      '--mask', '/proc/kcore', '--mqueue', '/dev/mqueue', '--overlay-src', '/l1', '--overlay-src', '/l2', '--overlay', '/u:/k:/o', '--overlay-src', '/l3', '--tmp-overlay', '/t');
    expect(o).toMatchObject({ namespaces: ['mnt'], root: { type: 'tmpfs', readonly: true }, cwd: '/' });
    expect(o.mounts).toEqual([
      { type: 'bind', source: '/usr', target: '/usr', optional: true, readonly: true },
      { type: 'bind', source: '/a', target: '/b', optional: true },
      { type: 'dir', target: '/w' },
      { type: 'file', target: '/etc/m', content: 'a:b' },
      { type: 'symlink', target: '/lib', linkTo: 'usr/lib' },
      { type: 'mask', target: '/proc/kcore' },
      { type: 'mqueue', target: '/dev/mqueue' },
      { type: 'overlay', target: '/o', lower: ['/l1', '/l2'], upper: '/u', work: '/k' },
      { type: 'overlay', target: '/t', lower: ['/l3'] },
    ]);
    expect(opts('--bind-idmap', '/a:/b', '--ro-bind-idmap=/c').mounts).toEqual([
      { type: 'bind', source: '/a', target: '/b', idmap: true },
      { type: 'bind', source: '/c', target: '/c', idmap: true, readonly: true },
    ]);
    const copied = opts('--file-from', `/etc/x:${__filename}`).mounts![0] as { content: Buffer };
    expect(copied.content.toString()).toContain('the filesystem builder');
    expect(usageError(() => opts('--tmp-overlay', '/t'))).toMatch(/needs at least one --overlay-src/);
    expect(usageError(() => opts('--overlay-src', '/l'))).toMatch(/needs an --overlay or --tmp-overlay after it/);
    expect(usageError(() => opts('--overlay-src', '/l', '--overlay', '/u:/o'))).toMatch(/use UPPER:WORK:DST/);
    expect(usageError(() => opts('--remount-ro'))).toMatch(/needs --tmpfs-root/);
    expect(usageError(() => opts('--tmpfs-root', '-R', '/r'))).toMatch(/cannot be used together/);
    expect(usageError(() => opts('--file', 'nocontent'))).toMatch(/use DST:CONTENT/);
  });
  test('--bridge, --publish and --allow-net (issue 20)', () => {
    expect(opts('--bridge', 'br0,169.254.1.2/24')).toMatchObject({ namespaces: ['net'], network: { veth: { bridge: 'br0', address: '169.254.1.2/24' } } });
    expect(opts('--bridge=br0').network).toEqual({ veth: { bridge: 'br0' } });
    expect(usageError(() => opts('--bridge', 'br0,'))).toMatch(/^invalid argument 'br0,' for --bridge/);
    expect(usageError(() => opts('--bridge', 'br0', '--veth', '169.254.1.1/24,169.254.1.2/24'))).toMatch(/mutually exclusive/);
    expect(run('--publish', '8080:80', '--publish=[::1]:5353:53/udp', 'cmd').publish).toEqual([
      { listen: { host: '127.0.0.1', port: 8080 }, to: { host: '127.0.0.1', port: 80 }, protocol: 'tcp' },
      { listen: { host: '::1', port: 5353 }, to: { host: '127.0.0.1', port: 53 }, protocol: 'udp' },
    ]);
    expect(opts('--publish', '8080:80')).toMatchObject({ namespaces: ['net'], network: { loopback: true } });
    expect(run('-n', 'cmd').publish).toBeUndefined();
    for (const bad of ['80', '8080:0', '70000:80', 'x:1:2', '1:2/sctp']) expect(usageError(() => opts('--publish', bad))).toMatch(/for --publish/);
    expect(opts('--allow-net', 'example.com:443', '--allow-net=127.0.0.1:*')).toMatchObject({
      namespaces: ['net', 'user'],
      user: 'self',
      network: { egress: { allow: ['example.com:443', '127.0.0.1:*'] } },
    });
    expect(usageError(() => opts('--allow-net', 'a:1', '--bridge', 'br0'))).toMatch(/--allow-net cannot be combined/);
  });
  test('--help, --version, and a missing command', () => {
    expect(parseRun(['-U', '--help'])).toEqual({ help: true });
    expect(parseRun(['-V'])).toEqual({ version: true });
    // no command: a login shell, as unshare's exec_shell
    expect(parseRun(['-U'])).toMatchObject({ command: process.env.SHELL || expect.any(String), args: [], options: { argv0: expect.stringMatching(/^-/) } });
  });
});

describe('nsjs exec → join', () => {
  const exec = (...argv: string[]) => parseExec([...argv, 'cmd']) as ExecRequest;
  test('-t PID with types joins through the pid', () => {
    expect(exec('-t', '42', '-u', '-n')).toEqual({
      command: 'cmd', args: [], join: { pid: 42, types: ['uts', 'net'] }, options: { ...rootBase, seccomp: process.getuid!() === 0 ? { base: 'none' } : false },
    });
    expect(exec('--target=42', '-a').join).toEqual({ pid: 42 });
  });
  test('-U makes uid and gid 0 unless --preserve-credentials; -S/-G override', () => {
    expect(exec('-t1', '-U').options).toMatchObject({ uid: 0, gid: 0 });
    expect(exec('-t1', '-a').options).toMatchObject({ uid: 0, gid: 0 });
    expect(exec('-t1', '-U', '--preserve-credentials').options.uid).toBeUndefined();
    expect(exec('-t1', '-U', '-S', '5', '-G', '6').options).toMatchObject({ uid: 5, gid: 6 });
    expect(exec('-t1', '-n', '-G', '6').options).toMatchObject({ gid: 6, groups: [] });
    // Capabilities as nsenter leaves them, unless the command becomes another uid.
    expect(exec('-t1', '-U').options.capabilities).toEqual({ keep: allCapabilities() });
    expect(exec('-t1', '-n', '-S', '5').options.capabilities).toBeUndefined();
    // nsenter keeps the supplementary groups with -S alone.
    expect((parseExec(['-t1', '-n', '-S', '5', 'cmd'], [4, 24]) as ExecRequest).options.groups).toEqual([4, 24]);
  });
  test('files: --net=FILE and nsenter\'s attached -nFILE', () => {
    expect(exec('--net=/run/netns/a', '-u/proc/7/ns/uts').join).toEqual([
      { type: 'uts', path: '/proc/7/ns/uts' },
      { type: 'net', path: '/run/netns/a' },
    ]);
    expect(exec('-t', '9', '-m', '--net=/n').join).toEqual([
      { type: 'mnt', path: '/proc/9/ns/mnt' },
      { type: 'net', path: '/n' },
    ]);
  });
  test('-w, -r, -F', () => {
    // opened by nsjs before the joins, as nsenter: paths of ours (relative to our cwd), or the target's
    expect(exec('-t', '3', '-m', '-w/srv')).toMatchObject({ wdDir: '/srv' });
    expect(exec('-t', '3', '-m', '-wsrv')).toMatchObject({ wdDir: 'srv' });
    expect(exec('-t', '3', '-m', '-w')).toMatchObject({ wdDir: '/proc/3/cwd' });
    expect(exec('-t', '3', '-m', '-r', '-F')).toMatchObject({ join: { pid: 3, types: ['mnt'] }, rootDir: '/proc/3/root' });
    expect(exec('-t', '3', '-u', '--root=/x')).toMatchObject({ rootDir: '/x' });
    expect(usageError(() => exec('--uts=/u', '-w'))).toBe('neither filename nor target pid supplied for cwd');
  });
  test('bad input', () => {
    expect(usageError(() => exec('-u'))).toBe('--uts requires --target');
    expect(usageError(() => exec('-t', '1'))).toBe('no namespace specified'); // util-linux master's words
    expect(usageError(() => exec('-N', '3'))).toBe('--net-socket requires --target');
    expect(exec('-t', '5', '-N', '3')).toMatchObject({ netSocket: { pid: 5, fd: 3 }, join: [{ type: 'net', path: '' }] });
    expect(usageError(() => exec('-t', 'x', '-u'))).toBe("failed to parse target PID: 'x'");
    expect(parseExec(['-t', '1', '-u'])).toMatchObject({ args: [], options: { argv0: expect.stringMatching(/^-/) } });
  });
});

describe('nsjs ls', () => {
  const info = (o: Partial<NamespaceInfo> & { inode: number; type: NamespaceInfo['type'] }): NamespaceInfo => ({
    nprocs: 1, pids: [o.pid ?? 1], pid: 1, ppid: 0, uid: 0, command: 'init', nsfs: [], ...o,
  });
  const list = [
    info({ inode: 10, type: 'mnt', owner: 12, nprocs: 2, pids: [1, 5] }),
    info({ inode: 12, type: 'user', nprocs: 2, pids: [1, 5] }),
    info({ inode: 20, type: 'user', pid: 5, ppid: 1, pids: [5], parent: 12, owner: 12, command: 'sh -c x', uid: 1000 }),
  ];
  const users = new Map([[0, 'root']]);
  const ls = (...argv: string[]) => render(list, parseLs(argv) as never, users);
  test('default columns, right-aligned numbers, the process tree in COMMAND', () => {
    expect(ls()).toBe(
      [
        'NS TYPE NPROCS PID USER COMMAND',
        '10 mnt       2   1 root init',
        '12 user      2   1 root init',
        '20 user      1   5 1000 └─sh -c x',
        '',
      ].join('\n'),
    );
  });
  test('-T (owner: each owner first, then what it owns in inode order, as lsns), -n (widths by the hints, 2.40+), -o, -t', () => {
    expect(ls('-T', '-n', '-o', 'NS,TYPE,ONS')).toBe(['12         user           0', '├─10       mnt           12', '└─20       user          12', ''].join('\n'));
    expect(ls('-t', 'mnt', '-o', 'ns,path')).toBe(['NS PATH', '10 /proc/1/ns/mnt', ''].join('\n'));
  });
  test('-J: lsns keys and layout', () => {
    expect(JSON.parse(ls('-J', '-o', 'NS,TYPE'))).toEqual({
      namespaces: [{ ns: 10, type: 'mnt' }, { ns: 12, type: 'user', children: [{ ns: 20, type: 'user' }] }],
    });
    expect(ls('-J', '-t', 'mnt')).toBe(
      '{\n   "namespaces": [\n      {\n         "ns": 10,\n         "type": "mnt",\n         "nprocs": 2,\n         "pid": 1,\n         "user": "root",\n         "command": "init"\n      }\n   ]\n}\n',
    );
  });
  describe("a command line that holds terminal controls is printed as text, as lsns prints it (issue 13, item 11)", () => {
    // ESC ] 0 ; … BEL sets the terminal's title; ESC [ 31 m turns it red; C2 9B is the C1 CSI; U+2028 a line separator.
    const hostile = 'ev\x1b]0;pwn\x07il\x1b[31mred\\x41 tab\there\x7fdel\u009bcsi é中 \u202eRLO \u2028LS \ufffd';
    const one = [info({ inode: 30, type: 'uts', command: hostile })];
    const show = (utf8: boolean, ...argv: string[]) => render(one, parseLs(['-o', 'NS,COMMAND', '-n', ...argv]) as never, users, utf8);
    // (NS padded to its hint, 10, as lsns 2.40+ does with -n)
    test('table and list: \\xNN per byte of a control, a non-printable character and the backslash of "\\x" (lsns 2.38 in C.UTF-8)', () => {
      const expected = '        30 ev\\x1b]0;pwn\\x07il\\x1b[31mred\\x5cx41 tab\\x09here\\x7fdel\\xc2\\x9bcsi é中 \u202eRLO \\xe2\\x80\\xa8LS \ufffd\n';
      expect(show(true)).toBe(expected);
      expect(show(true, '-l')).toBe(expected);
    });
    test('outside a UTF-8 locale every byte above 0x7f too (lsns in C)', () => {
      expect(show(false)).toBe('        30 ev\\x1b]0;pwn\\x07il\\x1b[31mred\\x5cx41 tab\\x09here\\x7fdel\\xc2\\x9bcsi \\xc3\\xa9\\xe4\\xb8\\xad \\xe2\\x80\\xaeRLO \\xe2\\x80\\xa8LS \\xef\\xbf\\xbd\n');
    });
    test('raw: every byte but visible ASCII, and every backslash (lsns -r)', () => {
      expect(show(true, '-r')).toBe('30 ev\\x1b]0;pwn\\x07il\\x1b[31mred\\x5cx41\\x20tab\\x09here\\x7fdel\\xc2\\x9bcsi\\x20\\xc3\\xa9\\xe4\\xb8\\xad\\x20\\xe2\\x80\\xaeRLO\\x20\\xe2\\x80\\xa8LS\\x20\\xef\\xbf\\xbd\n');
    });
    test('JSON: the same string, with no control character left raw (lsns leaves DEL and C1 raw; nsjs escapes them too)', () => {
      const out = render(one, parseLs(['-J', '-o', 'NS,COMMAND']) as never, users, true);
      expect(JSON.parse(out).namespaces[0].command).toBe(hostile);
      expect(out).toContain('"ev\\u001b]0;pwn\\u0007il\\u001b[31mred\\\\x41 tab\\there\\u007fdel\\u009bcsi é中 \u202eRLO \\u2028LS \ufffd"');
      expect(out).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028]/);
    });
    test('every text column, not only COMMAND: USER and NSFS too', () => {
      const out = render([{ ...one[0], nsfs: ['/run/netns/\x1b[2J'] }], parseLs(['-o', 'USER,NSFS', '-n']) as never, new Map([[0, 'ro\x1bot']]), true);
      expect(out).toBe('ro\\x1bot /run/netns/\\x1b[2J\n');
    });
  });
  describe('-Q/--filter: libsmartcols\' expression language', () => {
    const held = info({ inode: 40, type: 'net', nprocs: 0, pids: [], pid: undefined, ppid: undefined, command: undefined, netnsid: 7, nsfs: ['/run/netns/a', '/tmp/b'] });
    const all = [...list, held];
    const q = (expr: string, ...argv: string[]) => render(all, parseLs(['-n', '-r', '-o', 'NS', '-Q', expr, ...argv]) as never, users).trim().split('\n').filter(Boolean).map(Number);
    test.each([
      ['NS == 12', [12]],
      ['TYPE == "user" && NPROCS == 1', [20]],
      ['TYPE == "user" and NPROCS eq 1', [20]],
      // one level for && and ||, left-associative: (a || b) && c
      ['TYPE == "mnt" || TYPE == "user" && NPROCS == 2', [10, 12]],
      ['TYPE == "net" || TYPE == "mnt" && NPROCS == 0', [40]],
      ['!PID', [40]],
      ['PID', [10, 12, 20]],
      ['PID != 1', [20]], // an empty cell fails every numeric comparison
      ["NETNSID == '7'", [40]],
      ['COMMAND =~ "^sh"', [20]],
      ['COMMAND !~ "^sh"', [10, 12]],
      ['NS >= 1K', []],
      ['(NS < 15) && !(TYPE == "mnt")', [12]],
    ])('%s', (expr, expected) => {
      expect(q(expr)).toEqual(expected);
    });
    test('errors as lsns words them', () => {
      expect(usageError(() => parseLs(['-Q', 'TYPE == net']))).toBe('unknown column: NET\nnsjs: failed to initialize filter');
      expect(usageError(() => parseLs(['-Q', 'NS ==']))).toMatch(/^failed to parse "NS ==": syntax error/);
      // NETNSID is a string column: a number casts every cell, and "unassigned" is none
      expect(usageError(() => render([{ ...held, netnsid: -1 }], parseLs(['-Q', 'NETNSID == 5']) as never, users))).toBe('failed to apply filter: Invalid argument');
    });
  });
  test('a namespace with no process: empty PID, PATH, COMMAND; NSFS on lines of their own, or joined with -W/-r', () => {
    const held = info({ inode: 40, type: 'net', nprocs: 0, pids: [], pid: undefined, ppid: undefined, command: undefined, netnsid: -1, nsfs: ['/run/netns/a', '/tmp/bb'] });
    expect(render([held], parseLs(['-o', 'NS,NSFS,PID']) as never, users)).toBe(['NS NSFS         PID', '40 /run/netns/a    ', '   /tmp/bb', ''].join('\n'));
    expect(render([held], parseLs(['-r', '-n', '-o', 'NS,PATH,NETNSID,NSFS,COMMAND']) as never, users)).toBe('40  unassigned /run/netns/a,/tmp/bb \n');
    expect(render([held], parseLs(['-W', '-n', '-o', 'NSFS']) as never, users)).toBe('/run/netns/a,/tmp/bb\n');
    expect(render([held], parseLs(['-P', '-n', '-r', '-o', 'NS']) as never, users)).toBe('40\n');
    expect(render(list, parseLs(['-P', '-n', '-r', '-o', 'NS']) as never, users)).toBe('');
  });
  test('an empty table prints nothing, not even the header (lsns -p <no such pid>)', () => {
    expect(render(list, parseLs(['-p', '999999']) as never, users)).toBe('');
  });
  test('-t net adds NETNSID and NSFS to the defaults, also beside another -t', () => {
    expect((parseLs(['-t', 'uts', '-t', 'net']) as { columns: string[] }).columns).toEqual(['NS', 'TYPE', 'NPROCS', 'PID', 'USER', 'NETNSID', 'NSFS', 'COMMAND']);
  });
  test('-r keeps the branches, escaped; ASCII branches outside UTF-8', () => {
    expect(render(list, parseLs(['-r', '-n', '-o', 'NS,COMMAND']) as never, users, true)).toContain('20 \\xe2\\x94\\x94\\xe2\\x94\\x80sh\\x20-c\\x20x\n'.replace(/\\\\/g, '\\'));
    expect(render(list, parseLs(['-n', '-o', 'NS,COMMAND']) as never, users, false)).toContain('20 `-sh -c x\n');
    expect(render(list, parseLs(['--output-all', '-n']) as never, users, true)).not.toContain('└─');
  });
  test('-H lists the columns', () => {
    const out = render([], parseLs(['-H']) as never, users);
    expect(out.split('\n')[0]).toBe('     NS <integer> namespace identifier (inode number)');
    expect(out).toContain('NETNSID <string>  namespace ID as used by network subsystem\n');
  });
  test('bad input', () => {
    expect(usageError(() => parseLs(['x']))).toBe("invalid namespace argument: 'x'");
    expect(usageError(() => parseLs(['-p', '1', '12']))).toBe('--task is mutually exclusive with <namespace>');
    expect(usageError(() => parseLs(['-P', '-p', '1']))).toBe('options --persistent and --task cannot be combined');
    expect(usageError(() => parseLs(['-J', '-r']))).toBe('options --json and --raw cannot be combined');
    expect(usageError(() => parseLs(['-t', 'foo']))).toBe('unknown namespace type: foo');
    expect(usageError(() => parseLs(['-o', 'FOO']))).toBe('unknown column: FOO');
    expect(usageError(() => parseLs(['--tree=sideways']))).toBe("invalid tree relation: 'sideways'");
  });
});

describe('nsjs exec: the kernel-policy flags', () => {
  const exec = (...argv: string[]) => (parseExec([...argv, 'cmd']) as ExecRequest).options;
  test('each as nsjs run takes it, over nsenter\'s defaults', () => {
    expect(exec('-t1', '-U', '--seccomp', 'default', '--disable-userns')).toMatchObject({ seccomp: 'default', allowUserNamespaces: false });
    expect(exec('-t1', '-U', '--cap-add', 'net_admin', '--cap-drop', 'CAP_NET_RAW').capabilities).toEqual({ keep: ['net_admin'], drop: ['CAP_NET_RAW'] });
    expect(exec('-t1', '-m', '--landlock-read', '/usr', '--landlock-write=/tmp').landlock).toEqual({ read: ['/usr'], write: ['/tmp'] });
    // --sandbox: the API's defaults in place of nsenter's (no capabilities kept, session, no_new_privs).
    const sandbox = exec('-t1', '-U', '--sandbox');
    expect(sandbox).toMatchObject({ allowUserNamespaces: false, uid: 0, gid: 0 });
    for (const k of ['seccomp', 'capabilities', 'noNewPrivileges', 'newSession']) expect(sandbox).not.toHaveProperty(k);
  });
});

describe('nsjs run: the kernel-policy flags', () => {
  test('--sandbox: the API defaults (session, no_new_privs, capabilities, seccomp) and no nested user namespaces', () => {
    expect(opts('--sandbox', '-U')).toEqual({ stdio: 'inherit', namespaces: ['user'], user: 'none', allowUserNamespaces: false });
    expect(opts('--sandbox')).toEqual({ stdio: 'inherit', allowUserNamespaces: false });
  });
  test('--seccomp default|none, --allow-userns/--disable-userns, --cap-add/--cap-drop, --landlock-read/--landlock-write', () => {
    expect(opts('-U', '--seccomp', 'default')).toMatchObject({ seccomp: 'default', allowUserNamespaces: true });
    expect(opts('-U', '--seccomp=none', '--disable-userns')).toMatchObject({ seccomp: false, allowUserNamespaces: false });
    expect(opts('--sandbox', '--allow-userns').allowUserNamespaces).toBe(true);
    expect(opts('-U', '--cap-add', 'net_admin,CAP_NET_RAW', '--cap-drop', 'sys_admin').capabilities).toEqual({ keep: ['net_admin', 'CAP_NET_RAW'], drop: ['sys_admin'] });
    expect(opts('--cap-drop', 'CAP_CHOWN').capabilities).toEqual({ keep: allCapabilities(), drop: ['CAP_CHOWN'] });
    expect(opts('--landlock-read', '/usr', '--landlock-read=/etc', '--landlock-write', '/tmp').landlock).toEqual({ read: ['/usr', '/etc'], write: ['/tmp'] });
  });
  test('--seccomp FILE reads a policy; a missing or bad file is a usage error', () => {
    const file = require('node:path').join(require('node:os').tmpdir(), `nsjs-policy-${process.pid}.json`);
    require('node:fs').writeFileSync(file, '{"deny":["mkdir"],"errno":"EACCES"}');
    try {
      expect(opts('--seccomp', file).seccomp).toEqual({ deny: ['mkdir'], errno: 'EACCES' });
      require('node:fs').writeFileSync(file, '{');
      expect(usageError(() => opts('--seccomp', file))).toMatch(/is not JSON/);
    } finally {
      require('node:fs').rmSync(file);
    }
    expect(usageError(() => opts('--seccomp', '/nsjs/no/such.json'))).toMatch(/cannot read seccomp policy/);
  });
});
