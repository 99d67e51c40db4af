// The built command line (`node bin/nsjs.js`) side by side with util-linux's
// unshare and lsns as oracles: the same options and a probe that prints what
// the sandbox looks like from inside must give the same output and the same
// exit status. Runs as root and as an ordinary user, so every option set here
// creates a user namespace. Each CLI run is a child process; the checks are its
// exit, its output, and that nothing was left (mounts, files, children).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { spawnIsolated } from '../../../lib';
import { expectNoLeaks, snapshot, type Snapshot } from '../../helpers/leaks';

const root = path.join(__dirname, '..', '..', '..');
const bin = path.join(root, 'bin', 'nsjs.js');
const have = (tool: string) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
const NS_TYPES = ['cgroup', 'ipc', 'mnt', 'net', 'pid', 'time', 'user', 'uts'];
const ours = Object.fromEntries(NS_TYPES.map((t) => [`NS_${t}`, fs.readlinkSync(`/proc/self/ns/${t}`)]));

// What the sandbox looks like from inside; identical lines mean identical sandboxes.
const PROBE = `
echo "uid=$(id -u) gid=$(id -g) groups=$(id -G) pid=$([ $$ = 1 ] && echo 1 || echo not-1) host=$(hostname) cwd=$(pwd)"
for t in ${NS_TYPES.join(' ')}; do
  [ "$(readlink /proc/self/ns/$t)" = "$(eval echo \\$NS_$t)" ] && echo "$t same" || echo "$t new"
done
echo "uid_map: $(cat /proc/self/uid_map | tr -s ' ')"
echo "gid_map: $(cat /proc/self/gid_map | tr -s ' ')"
echo "setgroups: $(cat /proc/self/setgroups)"
echo "propagation of /: $(awk '$5 == "/" { p = "private"; for (i = 7; $i != "-"; i++) { sub(/:.*/, "", $i); p = $i } print p }' /proc/self/mountinfo)"
echo "pid 1: $(cat /proc/1/comm 2>/dev/null)"
echo "offsets: $(tr -s ' ' < /proc/self/timens_offsets 2>/dev/null | tr '\\n' ' ')"
echo "caps: $(grep -E '^Cap(Eff|Amb)' /proc/self/status | tr -s '\\t\\n' '  ')"
`;

interface Result {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Result & { pid: number } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, ...ours, ...env }, timeout: 20000, cwd: os.tmpdir() });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr, pid: r.pid };
}
function sh(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Result {
  const { pid: _, ...r } = run(cmd, args, env);
  return r;
}
const nsjs = (...args: string[]) => sh(process.execPath, [bin, ...args]);
/**
 * A lister's output with its own pid written as SELF: after pids wrap, the
 * lister can be the lowest pid of a namespace it shares with us, and then
 * lsns and nsjs ls each name themselves in PATH.
 */
function listing(cmd: string, args: string[]): Result {
  const { pid, ...r } = run(cmd, args);
  return { ...r, stdout: r.stdout.replaceAll(`/proc/${pid}/`, '/proc/SELF/') };
}
/** A shell runs the command, so that its status is what a user sees ($?: 128+n for a signal). */
const shell = (argv: string[]) => sh('sh', ['-c', '"$@"; echo "status=$?"', 'sh', ...argv]);

let before: Snapshot;
beforeAll(() => {
  if (!fs.existsSync(path.join(root, 'dist', 'cjs', 'cli', 'main.js'))) throw new Error('dist/cjs/cli/main.js is missing: run `npm run build:ts` first');
});
beforeEach(() => {
  before = snapshot();
});
afterEach(async () => {
  await expectNoLeaks(before);
});

const userns = sh('unshare', ['-r', 'true']).status === 0;
const describeUserns = have('unshare') && userns ? describe : describe.skip;
if (!userns) console.warn('skipping the unshare comparisons: this kernel refuses unprivileged user namespaces (unshare -r fails)');

describeUserns('nsjs run and unshare: same sandbox', () => {
  test.each([
    [['-r']],
    [['-c']],
    [['--map-root-user', '--mount']],
    [['-Upf', '--mount-proc', '-r']],
    [['-Urnif']],
    [['-r', '-C', '-u']],
    [['-r', '-T', '--monotonic', '100', '--boottime=200']],
    [['-r', '-m', '--propagation', 'slave']],
    [['-r', '-m', '--propagation=unchanged']],
    [['-r', '-w', '/']],
    [['-r', '--keep-caps']],
  ])('%j', (options) => {
    const expected = sh('unshare', [...options, 'sh', '-c', PROBE]);
    const actual = nsjs('run', ...options, 'sh', '-c', PROBE);
    expect(expected.status).toBe(0);
    expect(actual).toEqual(expected);
  });

  test('nsjs run -Upf --mount-proc -r sh -c "id -u; echo $$" prints 0 and 1, as unshare', () => {
    const script = 'id -u; echo $$';
    expect(nsjs('run', '-Upf', '--mount-proc', '-r', 'sh', '-c', script)).toEqual({ status: 0, signal: null, stdout: '0\n1\n', stderr: '' });
    expect(sh('unshare', ['-Upf', '--mount-proc', '-r', 'sh', '-c', script]).stdout).toBe('0\n1\n');
  });
});

describe('exit status, as unshare reports it', () => {
  const cases: [string, string[], string][] = [
    ['exit 3', [], 'exit 3'],
    ['a command killed by SIGTERM: nsjs kills itself with it, the shell sees 143', [], 'kill -TERM $$'],
    ['a command killed by SIGINT', [], 'kill -INT $$'],
    ['pid 1 of a new pid namespace ignores its own SIGTERM', ['-Upf', '-r'], 'kill -TERM $$'],
    ['a signal inside a pid namespace', ['-Upf', '-r'], 'sh -c "kill -TERM \\$\\$"'],
  ];
  test.each(cases)('%s', (_, options, script) => {
    if (options.length && !userns) return;
    const expected = shell(['unshare', '-f', ...options, 'sh', '-c', script]);
    const actual = shell([process.execPath, bin, 'run', '-f', ...options, 'sh', '-c', script]);
    expect(actual.stdout).toBe(expected.stdout);
  });
  test('SIGKILL: 137 (util-linux 2.38 says 1 here: "sigprocmask unblock failed", fixed later)', () => {
    expect(shell([process.execPath, bin, 'run', 'sh', '-c', 'kill -KILL $$']).stdout).toBe('status=137\n');
  });
  test('a command that is not found: 127; one that cannot be executed: 126', () => {
    expect(sh(process.execPath, [bin, 'run', 'no-such-command-here'], { PATH: '/usr/bin:/bin' })).toEqual({
      status: 127, signal: null, stdout: '', stderr: 'nsjs: failed to execute no-such-command-here: No such file or directory\n',
    });
    expect(sh('unshare', ['no-such-command-here'], { PATH: '/usr/bin:/bin' }).status).toBe(127);
    // A PATH with a directory we may not search (jest's, as uid 65534) makes execvp say EACCES: 126, for both.
    expect(nsjs('run', 'no-such-command-here').status).toBe(sh('unshare', ['no-such-command-here']).status);
    expect(nsjs('run', '/etc/passwd').status).toBe(126);
    expect(sh('unshare', ['/etc/passwd']).status).toBe(126);
  });
});

describe('bad input: one line (and getopt\'s usage hint after getopt\'s own errors), status 1, nothing started', () => {
  const marker = path.join(os.tmpdir(), `nsjs-cli-marker-${process.pid}`);
  afterEach(() => fs.rmSync(marker, { force: true }));
  test.each([
    [['run', '--bogus'], "nsjs: unrecognized option '--bogus'", 'run'],
    [['run', '-x'], "nsjs: invalid option -- 'x'", 'run'],
    [['run', '-U=/tmp/x'], "nsjs: invalid option -- '='", 'run'],
    [['run', '--root'], "nsjs: option '--root' requires an argument", 'run'],
    [['run', '-S', 'nobody?'], "nsjs: failed to parse uid: 'nobody?'", 'run'],
    [['run', '--monotonic=1'], 'nsjs: options --monotonic and --boottime require unsharing of a time namespace (-T)', 'run'],
    [['run', '--kill-child=NOPE'], 'nsjs: unknown signal: NOPE', 'run'],
    [['run', '--propagation', 'sideways', '-m'], 'nsjs: unsupported propagation mode: sideways', 'run'],
    [['exec', '-u'], 'nsjs: --uts requires --target', 'exec'],
    [['exec', '-t', 'x', '-u'], "nsjs: failed to parse target PID: 'x'", 'exec'],
    [['ls', '-t', 'nope'], 'nsjs: unknown namespace type: nope', 'ls'],
    [['ls', '--output=NS,WHAT'], 'nsjs: unknown column: WHAT', 'ls'],
    [['frobnicate'], "nsjs: unknown command 'frobnicate'", undefined],
  ])('%j', (argv, message, verb) => {
    const withCommand = argv[0] === 'ls' || argv[0] === 'frobnicate' || argv.at(-1) === '--root' ? argv : [...argv, 'touch', marker];
    // util-linux's errtryhelp follows getopt's messages only; a bad value is errx's one line
    const getopt = /^nsjs: (unrecognized option|invalid option|option |unknown command)/.test(message);
    expect(nsjs(...withCommand)).toEqual({
      status: 1,
      signal: null,
      stdout: '',
      stderr: `${message}\n${getopt ? `Try 'nsjs${verb ? ` ${verb}` : ''} --help' for more information.\n` : ''}`,
    });
    expect(fs.existsSync(marker)).toBe(false);
  });
});

describe('--help and --version', () => {
  const version = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).version;
  test.each([[[]], [['run']], [['exec']], [['ls']]])('nsjs %j --help', (verb) => {
    const r = nsjs(...verb, '--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^Usage:\n nsjs /);
    expect(nsjs(...verb, '-h').stdout).toBe(r.stdout);
  });
  test('--version', () => {
    expect(nsjs('--version')).toEqual({ status: 0, signal: null, stdout: `nsjs ${version}\n`, stderr: '' });
    expect(nsjs('run', '-V').stdout).toBe(`nsjs ${version}\n`);
  });
});

const describeLsns = have('lsns') ? describe : describe.skip;
describeLsns('nsjs ls and lsns', () => {
  const keys = (list: Record<string, unknown>[]): string[] =>
    [...new Set(list.flatMap((n) => [...Object.keys(n), ...keys((n.children as Record<string, unknown>[]) ?? [])]))].sort();
  test('-J: the same keys (and "children" for the process tree)', () => {
    const mine = JSON.parse(nsjs('ls', '-J').stdout).namespaces;
    const theirs = JSON.parse(sh('lsns', ['-J']).stdout).namespaces;
    expect(keys(mine).filter((k) => k !== 'children')).toEqual(keys(theirs).filter((k) => k !== 'children'));
  });
  test.each([
    [['-p', String(process.pid), '-o', 'NS,TYPE,PATH,UID,USER']],
    [['-p', String(process.pid), '-n', '-o', 'NS,TYPE']],
    [['-p', String(process.pid), '-J', '-o', 'NS,TYPE,UID,USER']],
    [['-p', String(process.pid), '-T', '-o', 'NS,TYPE']],
    [['-p', String(process.pid), '--tree=parent', '-o', 'NS,TYPE,PNS']],
    [['-p', String(process.pid), '-t', 'user', '-t', 'pid', '-o', 'NS,TYPE']],
    [['-p', String(process.pid), '-r', '-o', 'NS,TYPE']],
    [['-p', String(process.pid), '-l', '-o', 'NS,TYPE,UID,USER']],
  ])('%j prints what lsns prints', (args) => {
    // lsns itself fails now and then when a process vanishes mid-scan: ask again.
    let expected = listing('lsns', args);
    for (let i = 0; i < 3 && expected.status !== 0; i++) expected = listing('lsns', args);
    expect(listing(process.execPath, [bin, 'ls', ...args])).toEqual(expected);
  });

  // Issue 13, item 11: a sandboxed process names itself with escape sequences
  // (window title, colours, clearing the screen, a line separator) that
  // would act on the admin's terminal; both print them as text.
  describe('a command line full of terminal controls', () => {
    const hostile = 'ev\x1b]0;pwned\x07il \x1b[2J\x1b[31mred\\x41\ttab é中 \u2028LS';
    /** A sleep named `hostile` in a uts namespace of its own, for `body`; killed after (each test checks for leaks). */
    const named = async (body: (pid: string) => void) => {
      const { spawnIsolated } = await import('../../../lib');
      const p = await spawnIsolated('sleep', ['60'], { namespaces: process.getuid!() === 0 ? ['uts'] : ['user', 'uts'], argv0: hostile, stdio: 'ignore' });
      try {
        body(String(p.pid));
      } finally {
        p.kill('SIGKILL');
        await p.wait();
      }
    };
    test.each([
      ['C.UTF-8', []], ['C.UTF-8', ['-l']], ['C.UTF-8', ['-r']], ['C', []], ['C', ['-r']],
    ])('LC_ALL=%s %j: what lsns prints, no control character raw', (locale, extra) =>
      named((pid) => {
        const args = ['-t', 'uts', '-p', pid, '-o', 'NS,TYPE,COMMAND', ...(extra as string[])];
        const env = { LC_ALL: locale };
        let expected = sh('lsns', args, env);
        for (let i = 0; i < 3 && expected.status !== 0; i++) expected = sh('lsns', args, env);
        expect(expected.stdout).toContain('ev\\x1b]0;pwned\\x07il');
        const mine = sh(process.execPath, [bin, 'ls', ...args], env);
        expect(mine).toEqual(expected);
        expect(mine.stdout).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f]/);
      }));
    test('-J: the same values as lsns, as JSON escapes', () =>
      named((pid) => {
        const args = ['-J', '-t', 'uts', '-p', pid, '-o', 'NS,TYPE,COMMAND'];
        const mine = nsjs('ls', ...args);
        expect(JSON.parse(mine.stdout)).toEqual(JSON.parse(sh('lsns', args).stdout));
        expect(JSON.parse(mine.stdout).namespaces[0].command).toBe(`${hostile} 60`);
        expect(mine.stdout).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f\u2028]/);
      }));
  });
});

// The kernel-policy flags, the same for nsjs run and nsjs exec (`command`:
// the words before them): keyctl(2) by number (250 on x86-64), what it
// answers or -errno; CapEff without CAP_SYS_ADMIN; and writes confined to
// one directory by --landlock-write, the system read-only.
const KEYCTL_PY = 'import ctypes; l = ctypes.CDLL(None, use_errno=True); r = l.syscall(250, 0, -2, 1); print(r if r >= 0 else -ctypes.get_errno())';
const capEffWithoutAdmin = () => {
  const all = (1n << BigInt(Number(fs.readFileSync('/proc/sys/kernel/cap_last_cap', 'latin1')) + 1)) - 1n;
  return (all & ~(1n << 21n)).toString(16).padStart(16, '0');
};
function expectLandlockConfinesWrites(command: string[], prefix: string): void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  try {
    const r = nsjs(...command, ...['/usr', '/lib', '/lib64', '/bin', '/etc'].flatMap((p) => ['--landlock-read', p]), '--landlock-write', dir, '--',
      'sh', '-c', `echo a > ${dir}/ok && echo b > ${dir}-outside; echo "status $?"`);
    expect(r.stdout).toBe('status 2\n');
    expect(r.stderr).toContain('Permission denied');
    expect(fs.readdirSync(dir)).toEqual(['ok']);
    expect(fs.existsSync(`${dir}-outside`)).toBe(false);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(`${dir}-outside`, { force: true });
  }
}

describeUserns('nsjs run: the kernel-policy flags (issue 15 item 5)', () => {
  test('nested user namespaces as unshare allows them; --sandbox and --disable-userns refuse them, --allow-userns lets them again', () => {
    const nested = (...flags: string[]) => nsjs('run', '-r', ...flags, '--', 'sh', '-c', 'unshare -U true 2>&1; echo "status $?"').stdout;
    expect(nested()).toBe('status 0\n');
    expect(nested('--sandbox')).toBe('unshare: unshare failed: Operation not permitted\nstatus 1\n');
    expect(nested('--disable-userns', '--seccomp', 'none')).toBe('unshare: unshare failed: Operation not permitted\nstatus 1\n');
    expect(nested('--sandbox', '--allow-userns')).toBe('status 0\n');
  });
  test('--seccomp default refuses keyctl; --cap-drop drops; --landlock-write confines writes', () => {
    expect(nsjs('run', '-U', '--seccomp', 'default', '--', 'python3', '-c', KEYCTL_PY).stdout).toBe('-1\n');
    expect(Number(nsjs('run', '-U', '--', 'python3', '-c', KEYCTL_PY).stdout)).toBeGreaterThan(0);
    expect(nsjs('run', '-Ur', '--cap-drop', 'sys_admin', '--', 'sh', '-c', 'grep ^CapEff /proc/self/status').stdout).toBe(`CapEff:\t${capEffWithoutAdmin()}\n`);
    expectLandlockConfinesWrites(['run', '-U'], 'nsjs-cli-ll-');
  });
});

describeUserns('nsjs exec: the kernel-policy flags of nsjs run (issue 15)', () => {
  // A target in a user and mount namespace of the test's own: joinable as root and as uid 65534.
  const withTarget = async (body: (pid: string) => void) => {
    const target = await spawnIsolated('sleep', ['60'], { namespaces: ['user', 'mnt'], user: 'root', stdio: 'ignore' });
    try {
      body(String(target.pid));
    } finally {
      target.kill('SIGKILL');
      await target.wait();
    }
  };
  test('--disable-userns and --sandbox refuse nested user namespaces, --seccomp default refuses keyctl, --cap-drop drops', () =>
    withTarget((pid) => {
      const nested = (...flags: string[]) => nsjs('exec', '-t', pid, '-U', '-m', ...flags, '--', 'sh', '-c', 'unshare -U true 2>&1; echo "status $?"').stdout;
      expect(nested()).toBe('status 0\n');
      expect(nested('--disable-userns')).toBe('unshare: unshare failed: Operation not permitted\nstatus 1\n');
      expect(nested('--sandbox')).toBe('unshare: unshare failed: Operation not permitted\nstatus 1\n');
      expect(nested('--sandbox', '--allow-userns')).toBe('status 0\n');
      expect(nsjs('exec', '-t', pid, '-U', '--seccomp', 'default', '--', 'python3', '-c', KEYCTL_PY).stdout).toBe('-1\n');
      expect(Number(nsjs('exec', '-t', pid, '-U', '--', 'python3', '-c', KEYCTL_PY).stdout)).toBeGreaterThan(0);
      expect(nsjs('exec', '-t', pid, '-U', '--cap-drop', 'sys_admin', '--', 'sh', '-c', 'grep ^CapEff /proc/self/status').stdout).toBe(`CapEff:\t${capEffWithoutAdmin()}\n`);
    }));
  test('--landlock-read/--landlock-write confine writes, the paths naming the joined mount namespace\'s files', () =>
    withTarget((pid) => expectLandlockConfinesWrites(['exec', '-t', pid, '-U', '-m'], 'nsjs-cli-exec-ll-')));
});

describe('--kill-child=RTMIN+n, as unshare (util-linux signame_to_signum)', () => {
  // The program traps glibc's SIGRTMIN+3 (37) and says so on its stdout (our
  // pipe), blocked meanwhile in a read of its stdin (our pipe too); its
  // parent is SIGKILLed, and the trap's line then EOF end the wait.
  const trapped = (argv: string[]) =>
    new Promise<string>((resolve, reject) => {
      const { spawn } = require('node:child_process') as typeof import('node:child_process');
      const child = spawn(argv[0], [...argv.slice(1), 'sh', '-c', 'trap "echo got 37; exit 0" 37; echo ready; read x'], { stdio: ['pipe', 'pipe', 'inherit'] });
      let out = '';
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out === 'ready\n') child.kill('SIGKILL');
      });
      // then 'close': the process gone and every pipe of ours closed
      child.stdout!.on('end', () => child.stdin!.destroy());
      child.on('close', () => resolve(out));
      child.on('error', reject);
    });
  // The death signal names the parent *thread* (PR_SET_PDEATHSIG): under
  // SIGKILL Node's threads exit one by one and the kernel sends it each time
  // it hands the child from a dying thread to a live one, so a real-time
  // signal, queued, can come more than once; unshare is one thread: once.
  const gotIt = /^ready\n(got 37\n)+$/;
  test('the program gets signal 37 when nsjs dies; bad RT names are refused', async () => {
    expect(await trapped([process.execPath, bin, 'run', '--kill-child=RTMIN+3'])).toMatch(gotIt);
    expect(await trapped(['unshare', '-f', '--kill-child=RTMIN+3'])).toBe('ready\ngot 37\n');
    expect(await trapped([process.execPath, bin, 'run', '--kill-child=rtmax-27'])).toMatch(gotIt);
    for (const bad of ['RTMIN', 'RTMIN+31', 'RTMAX-31', 'RTX'])
      expect(nsjs('run', `--kill-child=${bad}`, 'true')).toEqual({ status: 1, signal: null, stdout: '', stderr: `nsjs: unknown signal: ${bad}\n` });
  });
});
