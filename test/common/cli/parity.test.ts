// Issue 18: the CLI as a drop-in for util-linux. Each test restates an
// assertion of util-linux's own tests/ts (unshare, nsenter, lsns) or one of
// the differences the issue lists, and where Debian's util-linux 2.38 has the
// behaviour, runs the same command line through it as the oracle. Runs as
// root and as an ordinary user; every command line makes a user namespace
// or none.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { expectNoLeaks, snapshot, type Snapshot } from '../../helpers/leaks';

const root = path.join(__dirname, '..', '..', '..');
const bin = path.join(root, 'bin', 'nsjs.js');

interface Result {
  status: number | null;
  stdout: string;
  stderr: string;
}
/** `script` run by sh, which hands the command whatever fds the script sets up. */
function shell(script: string, env: NodeJS.ProcessEnv = {}): Result {
  // stdin /dev/null: bash reads ~/.bashrc when its stdin is a socket (spawnSync's pipes are), as under rsh
  const r = spawnSync('sh', ['-c', script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NSJS: `${process.execPath} ${bin}`, ...env }, timeout: 20000, cwd: os.tmpdir() });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
/** The same script with $U as unshare, then as nsjs run (and $E as nsenter / nsjs exec). */
function both(script: string, env: NodeJS.ProcessEnv = {}): [Result, Result] {
  return [
    shell(script, { U: 'unshare', E: 'nsenter', ...env }),
    shell(script, { U: `${process.execPath} ${bin} run`, E: `${process.execPath} ${bin} exec`, ...env }),
  ];
}

let before: Snapshot;
beforeEach(() => {
  before = snapshot();
});
afterEach(async () => {
  await expectNoLeaks(before);
});

// Both run and exec: a user namespace for an ordinary user, a uts one for root.
const UNS = process.getuid!() === 0 ? '-u' : '-r';

describe('inherited fds reach the program, as with unshare and nsenter (lsns/ioctl_ns reads fd 4)', () => {
  test.each([
    ['run', `$U ${UNS} sh -c 'echo ok >&4' 4>&1`],
    ['run, an fd opened by the shell', `exec 9</etc/hostname; $U ${UNS} sh -c 'cat <&9'`],
    ['run, a gap between inherited fds', `$U ${UNS} sh -c 'echo a >&5; echo b >&7; [ -e /proc/self/fd/6 ] || echo no-6' 5>&1 7>&1`],
    ['exec', `$E -t $$ ${process.getuid!() === 0 ? '-u' : '-U --preserve-credentials'} sh -c 'echo ok >&4' 4>&1`],
  ])('%s', (_, script) => {
    if (script.startsWith('$E') && process.getuid!() !== 0) return; // nsenter -U into our own user ns: EINVAL in both
    const [expected, actual] = both(script);
    expect(expected.status).toBe(0);
    expect(actual).toEqual(expected);
  });
  test("Node's own fds (event loop, wakeup pipes) do not reach it", () => {
    const r = shell(`$NSJS run ${UNS} sh -c 'ls /proc/self/fd | sort -n | tr "\\n" " "'`);
    // 0-2, and ls's own directory fd
    expect(r.stdout).toBe('0 1 2 3 ');
  });
});

describe('--clear-env, --whitelist-env (util-linux master tests/ts/unshare/env)', () => {
  test('clear-env: the variable is gone, nothing on stderr', () => {
    expect(shell(`UL_TEST_ENV=foo $NSJS run --clear-env /bin/bash -c 'echo "\${UL_TEST_ENV:-CLEARED}"'`)).toEqual({ status: 0, stdout: 'CLEARED\n', stderr: '' });
  });
  test('whitelist-env: only the named variable stays', () => {
    expect(shell(`UL_TEST_ENV1=foo UL_TEST_ENV2=bar $NSJS run --whitelist-env UL_TEST_ENV1 /bin/bash -c 'echo "\${UL_TEST_ENV1}\${UL_TEST_ENV2}"'`)).toEqual({ status: 0, stdout: 'foo\n', stderr: '' });
  });
  test('an empty environment: env prints nothing; the command is searched in /bin:/usr/bin only, as execvp without PATH', () => {
    expect(shell(`FOO=1 $NSJS run ${UNS} --clear-env env`)).toEqual({ status: 0, stdout: '', stderr: '' });
    expect(shell(`$NSJS run --whitelist-env PATH env`).stdout).toBe(`PATH=${process.env.PATH}\n`);
    const r = shell('$NSJS run --clear-env blkid -V');
    // blkid is in /sbin (/usr/sbin) only
    if (!fs.existsSync('/bin/blkid') && !fs.existsSync('/usr/bin/blkid') && fs.existsSync('/sbin/blkid'))
      expect(r).toEqual({ status: 127, stdout: '', stderr: 'nsjs: failed to execute blkid: No such file or directory\n' });
    expect(shell('$NSJS run --clear-env ip -V').status).toBe(fs.existsSync('/bin/ip') || fs.existsSync('/usr/bin/ip') ? 0 : 127);
  });
});

describe('no command: a login shell ($SHELL, argv[0] -<name>), as unshare and nsenter', () => {
  test.each([
    ['run', `echo 'echo shell $0' | SHELL=/bin/sh $U ${UNS}`],
    ['exec', `echo 'echo shell $0' | SHELL=/bin/sh $E -t $$ -u`],
  ])('%s', (verb, script) => {
    if (verb === 'exec' && process.getuid!() !== 0) return; // nsenter -u needs CAP_SYS_ADMIN over the target's ns
    const [expected, actual] = both(script);
    expect(expected).toEqual({ status: 0, stdout: 'shell -sh\n', stderr: '' });
    expect(actual).toEqual(expected);
  });
  test('without $SHELL: the passwd entry\'s shell (NSS, getent)', () => {
    const entry = spawnSync('getent', ['passwd', String(process.getuid!())], { encoding: 'utf8' }).stdout.trim().split(':');
    const shellPath = entry[6] || '/bin/sh';
    if (!fs.existsSync(shellPath) || shellPath.endsWith('nologin')) return;
    const r = shell(`echo 'echo "$0"' | env -u SHELL $NSJS run ${UNS}`);
    expect(r.stdout).toBe(`-${path.basename(shellPath)}\n`);
  });
});

describe('--forward-signals (util-linux tests/ts/unshare/forward-signals)', () => {
  const trap = (extra: string[]) =>
    new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn(process.execPath, [bin, 'run', ...extra, 'sh', '-c', 'trap "echo got TERM; exit 15" TERM; echo ready; while :; do sleep 0.05; done'], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out === 'ready\n') child.kill('SIGTERM');
      });
      child.on('exit', (code) => resolve({ code, out }));
    });
  test('SIGTERM to nsjs reaches the program: exit status 15', async () => {
    expect(await trap([UNS, '--fork', '--forward-signals'])).toEqual({ code: 15, out: 'ready\ngot TERM\n' });
  });
  test('also with --kill-child', async () => {
    expect(await trap([UNS, '--fork', '--forward-signals', '--kill-child'])).toEqual({ code: 15, out: 'ready\ngot TERM\n' });
  });
  test('without it nsjs shields itself and the program keeps running (unshare blocks SIGTERM)', async () => {
    const child = spawn(process.execPath, [bin, 'run', UNS, 'sh', '-c', 'echo ready; sleep 0.5; echo done'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out === 'ready\n') child.kill('SIGTERM');
    });
    const code = await new Promise((resolve) => child.on('exit', resolve));
    expect({ code, out }).toEqual({ code: 0, out: 'ready\ndone\n' });
  });
});

test('nsjs help is nsjs --help', () => {
  const r = shell('$NSJS help');
  expect(r.status).toBe(0);
  expect(r.stdout).toBe(shell('$NSJS --help').stdout);
});

describe('small differences the issue lists', () => {
  test('-n leaves lo down, as unshare -n', () => {
    const [expected, actual] = both(`$U ${process.getuid!() === 0 ? '' : '-r'} -n ip -o link show lo | grep -o 'state [A-Z]*'`);
    expect(expected.stdout).toBe('state DOWN\n');
    expect(actual).toEqual(expected);
  });
  test('a bad value is one line, without the usage hint (errx), as unshare', () => {
    const [expected, actual] = both('$U -S x true');
    expect(expected.stderr).toBe("unshare: failed to parse uid: 'x'\n");
    expect(actual).toEqual({ ...expected, stderr: "nsjs: failed to parse uid: 'x'\n" });
  });
  test('--kill-child takes a name, not a number, as unshare', () => {
    const [expected, actual] = both('$U --kill-child=15 true');
    expect(expected.stderr).toBe('unshare: unknown signal: 15\n');
    expect(actual).toEqual({ ...expected, stderr: 'nsjs: unknown signal: 15\n' });
  });
});

describe('--kill-child=SIG: that signal reaches the program when nsjs dies, as with unshare', () => {
  // sh's parent is unshare, or nsjs (the clone of one of its threads): killed
  // first, then the program reports what came, if anything did.
  // (the signal may come before sleep started: then $! is empty)
  const program = 'trap \'echo got > $out; [ -n "$!" ] && kill $!; exit\' TERM USR1; kill -KILL $PPID; sleep 5 >/dev/null 2>&1 & wait';
  const script = (options: string) =>
    `export out=$(mktemp); $U ${options} sh -c "$S"; for i in $(seq 100); do [ -s $out ] && break; sleep 0.05; done; cat $out; rm -f $out`;
  test.each([
    ['SIGTERM', '--kill-child=SIGTERM'],
    ['usr1 (any case, without SIG)', '--kill-child=usr1'],
    ['with a user or uts namespace', `${UNS} --fork --kill-child=TERM`],
  ])('%s', (_, options) => {
    const [expected, actual] = both(script(options), { S: program });
    expect(expected.stdout).toBe('got\n');
    // (stderr: the shell's "Killed", before or after the program's own)
    expect({ ...actual, stderr: '' }).toEqual({ ...expected, stderr: '' });
  });
});

describe('-R/--root DIR is chroot(2), as unshare: no mount namespace, nothing unmounted', () => {
  let dir: string;
  beforeAll(() => {
    // A root of its own: busybox (static) and an empty /proc for --mount-proc.
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsjs-chroot-'));
    fs.mkdirSync(path.join(dir, 'proc'));
    fs.mkdirSync(path.join(dir, 'sub'));
    fs.copyFileSync('/bin/busybox', path.join(dir, 'busybox'));
    fs.chmodSync(path.join(dir, 'busybox'), 0o755);
    fs.chmodSync(dir, 0o755);
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const probe = '/busybox sh -c \'echo "$(/busybox pwd) $(/busybox ls / | /busybox tr "\\n" " ")$(/busybox readlink /proc/self/ns/mnt 2>&1)"\'';
  // An ordinary user may chroot only inside a user namespace of its own.
  const uns = process.getuid!() === 0 ? '' : '-r';
  test.each([
    ['the root and cwd /', `$U ${uns} -R $D ${probe}`],
    ['-w inside it', `$U ${uns} -R $D -w /sub /busybox pwd`],
    ['-R /: no pivot_root, nothing to refuse', `cd /; $U ${uns} -R / sh -c 'pwd; [ "$(readlink /proc/self/ns/mnt)" = "$M" ] && echo same mnt'`],
    ['--mount-proc is mounted inside the new root', `$U ${uns} -R $D -pf --mount-proc /busybox sh -c 'echo $$; /busybox cat /proc/1/cmdline | /busybox tr "\\0" " "'`],
  ])('%s', (_, script) => {
    const [expected, actual] = both(script, { D: dir, M: fs.readlinkSync('/proc/self/ns/mnt') });
    expect(expected.status).toBe(0);
    expect(actual).toEqual(expected);
  });
  test.each([
    ['no such directory', `$U ${uns} -R /nonexistent true`],
    ['no such -w inside it', `$U ${uns} -R $D -w /nonexistent /busybox true`],
    ...(process.getuid!() === 0 ? [] : [['without CAP_SYS_CHROOT (no user namespace)', '$U -R $D /busybox true']]),
  ])('errors in unshare\'s words: %s', (_, script) => {
    const [expected, actual] = both(script, { D: dir });
    expect(expected.status).toBe(1);
    expect(actual).toEqual({ ...expected, stderr: expected.stderr.replace(/^unshare:/, 'nsjs:').replace('cannot chdir to \'/nonexistent\'', 'cannot change directory to /nonexistent') });
  });
});

describe('nsjs ls lays out and orders rows as lsns', () => {
  // In a pid namespace of our own (run by util-linux's unshare), so that
  // nothing else comes and goes between the two listings (and its sleepers
  // die with its pid 1): pid 1010 (through ns_last_pid), a uts namespace
  // made before a user namespace of the same owner (a lower inode). Inode
  // numbers are the lowest free, and the kernel frees a user namespace's
  // from a work queue after its last process is gone: the half second
  // first lets the namespaces of earlier tests go, so that none is freed
  // between the two we make.
  const inSandbox = (probe: string) =>
    shell(`unshare -r -pf --mount-proc sh -c "$S"`, {
      S: 'sleep 0.5; echo 1009 > /proc/sys/kernel/ns_last_pid; sleep 100 & unshare -u sleep 100 & sleep 0.2; unshare -U sleep 100 & sleep 0.2; ' +
        `for L in lsns "$NSJS ls"; do ${probe}; echo; done`,
    });
  const halves = (r: Result) => {
    expect(r.status).toBe(0);
    const [ul, ours] = r.stdout.split('\n\n');
    return { ul, ours };
  };
  test('width hints: PID, TYPE, NPROCS, NS take at least lsns\'s hint when their cells outgrow the header', () => {
    const { ul, ours } = halves(inSandbox('$L -o PID,TYPE,NPROCS,NS,USER,COMMAND'));
    // pid 1010 is 4 wide, the header 3, the hint 5 (util-linux 2.38 and 2.39+ agree)
    expect(ul).toMatch(/^ {2}PID TYPE {3}NPROCS {9}NS USER/);
    expect(ours).toBe(ul);
  });
  test('-n: the header does not count (util-linux 2.39+, restated: Debian\'s 2.38 pads NPROCS to 6 here)', () => {
    // the one pid namespace, its few processes: one digit, as wide as that
    expect(halves(inSandbox('$L -n -o NPROCS -t pid')).ours).toMatch(/^[1-9]$/);
  });
  // An order by type (user namespaces first) would put the child user
  // namespace before a sibling of a lower inode, and start the parent tree
  // with a user namespace. Inodes are reused, so the child user namespace
  // may come out lowest: then the listing proves nothing, and is made again.
  test.each([
    ['owner', /^\W+\d+ +(?!user)\w+\n\W+\d+ user$/m],
    ['parent', /^NS +TYPE\n\d+ +(?!user)/],
  ])('--tree=%s: rows in inode order, whatever their type, each after its owner or parent', (rel, shape) => {
    let { ul, ours } = halves(inSandbox(`$L -T${rel} -o NS,TYPE`));
    for (let i = 0; i < 5 && !shape.test(ul); i++) ({ ul, ours } = halves(inSandbox(`$L -T${rel} -o NS,TYPE`)));
    expect(ul).toMatch(shape);
    expect(ours).toBe(ul);
  });
});

// util-linux 2.41+ (Debian's 2.38 lacks both), restated: binfmt_misc is per
// user namespace (Linux 6.7+), so both imply --user and --mount, and without
// a directory mount it on /proc/sys/fs/binfmt_misc over a new --mount-proc
// (a pid namespace is then needed, as with unshare).
describe('--mount-binfmt, --load-interp (util-linux 2.41+, restated)', () => {
  const nsjs = `${process.execPath} ${bin} run`;
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsjs-binfmt-'));
    fs.mkdirSync(path.join(dir, 'mnt'));
    fs.writeFileSync(path.join(dir, 'file.nsjsx'), '', { mode: 0o755 });
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const perUserNs = fs.existsSync('/proc/sys/fs/binfmt_misc') && Number(os.release().split('.')[0]) * 100 + Number(os.release().split('.')[1]) >= 607;
  test('--mount-binfmt: an empty binfmt_misc of the sandbox\'s own at /proc/sys/fs/binfmt_misc', () => {
    if (!perUserNs) return console.warn('skipped: binfmt_misc per user namespace needs Linux 6.7');
    expect(shell(`${nsjs} -r -pf --mount-binfmt sh -c 'ls /proc/sys/fs/binfmt_misc | tr "\\n" " "'`)).toEqual({ status: 0, stdout: 'register status ', stderr: '' });
    expect(shell(`${nsjs} -r --mount-binfmt=$D/mnt sh -c 'ls $D/mnt | tr "\\n" " "'`, { D: dir })).toEqual({ status: 0, stdout: 'register status ', stderr: '' });
  });
  test('--load-interp: the entry is registered there and runs its programs; the host never sees it', () => {
    if (!perUserNs) return console.warn('skipped: binfmt_misc per user namespace needs Linux 6.7');
    const r = shell(`${nsjs} -r -pf --load-interp ':nsjs-test:E::nsjsx::/bin/echo:' sh -c '$D/file.nsjsx arg; head -2 /proc/sys/fs/binfmt_misc/nsjs-test'`, { D: dir });
    expect(r).toEqual({ status: 0, stdout: `${dir}/file.nsjsx arg\nenabled\ninterpreter /bin/echo\n`, stderr: '' });
    expect(fs.existsSync('/proc/sys/fs/binfmt_misc/nsjs-test')).toBe(false);
  });
  test('errors in unshare\'s words: an entry the kernel refuses', () => {
    if (!perUserNs) return console.warn('skipped: binfmt_misc per user namespace needs Linux 6.7');
    expect(shell(`${nsjs} -r -pf --load-interp ':bad' true`)).toEqual({ status: 1, stdout: '', stderr: 'nsjs: write failed /proc/sys/fs/binfmt_misc/register: Invalid argument\n' });
  });
});
