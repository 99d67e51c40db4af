// As root: `nsjs run` without a user namespace, id ranges, persisted
// namespaces, and `nsjs exec` beside util-linux's unshare and nsenter.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as netmod from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';

import { expectNoLeaks, snapshot, type Snapshot } from '../../helpers/leaks';

const bin = path.join(__dirname, '..', '..', '..', 'bin', 'nsjs.js');
const NS_TYPES = ['cgroup', 'ipc', 'mnt', 'net', 'pid', 'time', 'user', 'uts'];
const ours = Object.fromEntries(NS_TYPES.map((t) => [`NS_${t}`, fs.readlinkSync(`/proc/self/ns/${t}`)]));
const PROBE = `
echo "uid=$(id -u) gid=$(id -g) groups=$(id -G) pid=$([ $$ = 1 ] && echo 1 || echo not-1) host=$(hostname) cwd=$(pwd)"
for t in ${NS_TYPES.join(' ')}; do
  [ "$(readlink /proc/self/ns/$t)" = "$(eval echo \\$NS_$t)" ] && echo "$t same" || echo "$t new"
done
echo "uid_map: $(cat /proc/self/uid_map | tr -s ' ')"
echo "gid_map: $(cat /proc/self/gid_map | tr -s ' ')"
echo "propagation of /: $(awk '$5 == "/" { p = "private"; for (i = 7; $i != "-"; i++) { sub(/:.*/, "", $i); p = $i } print p }' /proc/self/mountinfo)"
echo "pid 1: $(cat /proc/1/comm 2>/dev/null)"
echo "offsets: $(tr -s ' ' < /proc/self/timens_offsets 2>/dev/null | tr '\\n' ' ')"
echo "ipc: $(ls /proc/sysvipc >/dev/null && ipcs -q | wc -l)"
`;

const sh = (cmd: string, args: string[]) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, ...ours }, timeout: 20000, cwd: os.tmpdir() });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
};
const nsjs = (...args: string[]) => sh(process.execPath, [bin, ...args]);
const mountedAt = (file: string) => fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === file);

let before: Snapshot;
let dir: string;
beforeEach(() => {
  before = snapshot();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsjs-cli-'));
});
afterEach(async () => {
  for (const f of fs.readdirSync(dir)) if (mountedAt(path.join(dir, f))) spawnSync('umount', [path.join(dir, f)]);
  fs.rmSync(dir, { recursive: true, force: true });
  await expectNoLeaks(before);
});

describe('nsjs run and unshare as root: same sandbox', () => {
  test.each([
    [['-m']],
    [['-u']],
    [['-i']],
    [['-n']],
    [['-C']],
    [['-pf', '--mount-proc']],
    [['-T', '--monotonic', '-5', '--boottime=7']],
    [['-m', '--propagation', 'slave']],
    [['-m', '--propagation=shared']],
    [['-S', '1', '-G', '2']],
  ])('%j', (options) => {
    const expected = sh('unshare', [...options, 'sh', '-c', PROBE]);
    expect(expected.status).toBe(0);
    expect(nsjs('run', ...options, 'sh', '-c', PROBE)).toEqual(expected);
  });
});

// util-linux 2.38 writes ranges only through newuidmap(1) (not installed
// here) and reads only OUTER,INNER,COUNT: no oracle, so the maps are checked.
test('--map-users, --map-groups (both syntaxes) and -r with a range: the uid_map unshare would write', () => {
  const maps = 'cat /proc/self/uid_map /proc/self/gid_map | tr -s " "';
  // unshare's command keeps host uid 0 here (65534 inside, yet the owner of
  // root's files): nsjs runs it as 0 inside, host 100000 (issue 23 item 1).
  expect(nsjs('run', '--map-users=0:100000:65536', '--map-groups=100000,0,65536', 'sh', '-c', `id -u; ${maps}`).stdout).toBe(
    '0\n 0 100000 65536\n 0 100000 65536\n',
  );
  expect(nsjs('run', '-r', '--map-users=0:100000:65536', '--map-groups=0:100000:65536', 'sh', '-c', `id -u; ${maps}`).stdout).toBe(
    '0\n 0 0 1\n 1 100000 65535\n 0 0 1\n 1 100000 65535\n',
  );
});

describe('--TYPE=FILE keeps the namespace, as unshare does (on a file that exists: unshare does not make it)', () => {
  const touch = (...files: string[]) => files.forEach((f) => fs.writeFileSync(f, ''));
  test('--uts=FILE: nsenter --uts=FILE sees the hostname set inside', () => {
    const file = path.join(dir, 'uts');
    touch(file);
    expect(nsjs('run', `--uts=${file}`, 'sh', '-c', 'hostname kept-by-nsjs; sleep 0.3')).toMatchObject({ status: 0, stderr: '' });
    expect(mountedAt(file)).toBe(true);
    expect(sh('nsenter', [`--uts=${file}`, 'hostname']).stdout).toBe('kept-by-nsjs\n');
  });
  test('--mount=FILE on a private mount (here /tmp is one)', () => {
    const file = path.join(dir, 'mnt');
    touch(file);
    const r = nsjs('run', `--mount=${file}`, '--tmpfs', '/mnt', 'sh', '-c', 'echo inside > /mnt/flag; sleep 0.3');
    expect(r).toMatchObject({ status: 0, stderr: '' });
    expect(sh('nsenter', [`--mount=${file}`, 'cat', '/mnt/flag']).stdout).toBe('inside\n');
  });
  test('--net=FILE and --ipc=FILE together', () => {
    const net = path.join(dir, 'net');
    const ipc = path.join(dir, 'ipc');
    touch(net, ipc);
    expect(nsjs('run', `--net=${net}`, `--ipc=${ipc}`, 'sleep', '0.3')).toMatchObject({ status: 0, stderr: '' });
    const inode = fs.statSync(net).ino;
    // No process is left in it; nsenter still enters it.
    expect(sh('nsenter', [`--net=${net}`, 'sh', '-c', 'readlink /proc/self/ns/net']).stdout).toBe(`net:[${inode}]\n`);
  });
  test('a bad FILE: one line, status 1, the command killed, nothing left mounted', () => {
    // A directory: binding the nsfs file onto it fails (ENOTDIR). Never an
    // existing file such as /proc/version: as root that bind succeeds and
    // covers the host's file (util-linux does the same).
    const r = nsjs('run', `--uts=${dir}`, '-u', 'sleep', '5');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^nsjs: cannot keep the uts namespace at .*: ENOTDIR: .*\n$/);
    const file = path.join(dir, 'missing-dir', 'uts');
    expect(nsjs('run', `--uts=${file}`, 'sleep', '5').stderr).toMatch(/^nsjs: cannot keep the uts namespace at .*ENOENT/);
    // a file that does not exist: ENOENT, as unshare (mount ... failed: No such file or directory)
    expect(nsjs('run', `--uts=${path.join(dir, 'absent')}`, 'true').stderr).toMatch(/^nsjs: cannot keep the uts namespace at .*ENOENT/);
    expect(sh('unshare', [`--uts=${path.join(dir, 'absent')}`, 'true']).status).toBe(1);
  });
});

describe('nsjs exec and nsenter', () => {
  let fixture: ChildProcess;
  beforeEach(async () => {
    fixture = spawn('unshare', ['-u', '-n', '-pf', '--mount-proc', 'sh', '-c', 'hostname fixture; echo ready; exec sleep 30'], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise((resolve) => fixture.stdout!.once('data', resolve));
  });
  afterEach(async () => {
    fixture.stdout!.destroy();
    fixture.kill('SIGKILL');
    await new Promise((resolve) => (fixture.exitCode !== null || fixture.signalCode !== null ? resolve(null) : fixture.once('exit', resolve)));
  });
  // unshare -f's child (the sleep) holds the namespaces.
  const target = () => String(Number(fs.readFileSync(`/proc/${fixture.pid}/task/${fixture.pid}/children`, 'utf8').trim().split(' ')[0]));
  test.each([[['-u']], [['-u', '-n']], [['-a']], [['-m', '-p', '-u']]])('%j', (flags) => {
    const t = target();
    const expected = sh('nsenter', ['-t', t, ...flags, 'sh', '-c', PROBE]);
    expect(expected.status).toBe(0);
    expect(nsjs('exec', '-t', t, ...flags, 'sh', '-c', PROBE)).toEqual(expected);
  });
  test('--uts=FILE', () => {
    const file = `/proc/${target()}/ns/uts`;
    expect(nsjs('exec', `--uts=${file}`, 'hostname')).toEqual(sh('nsenter', [`--uts=${file}`, 'hostname']));
  });
});

test('--veth HOSTADDR,ADDR: a pair to the host, TCP across it, gone after', async () => {
  const script = 'ip -o -4 addr show eth0 | tr -s " " | cut -d" " -f4; read port; exec 3<>/dev/tcp/169.254.60.1/$port && echo reached';
  const child = spawn(process.execPath, [bin, 'run', '--veth', '169.254.60.1/30,169.254.60.2/30', 'bash', '-c', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = readline.createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  // The host end has its address once the sandbox runs: listen on it then.
  expect((await lines.next()).value).toBe('169.254.60.2/30');
  const server = netmod.createServer((socket) => socket.destroy()).listen(0, '169.254.60.1');
  await new Promise((r) => server.once('listening', r));
  child.stdin!.end(`${(server.address() as netmod.AddressInfo).port}\n`);
  expect((await lines.next()).value).toBe('reached');
  const [code] = (await once(child, 'close')) as [number];
  server.close();
  expect(code).toBe(0);
  // The host end goes with the sandbox's namespace, in the kernel's cleanup worker; afterEach checks it is gone.
  for (let i = 0; i < 100 && snapshot().links.length !== before.links.length; i++) await new Promise((r) => setTimeout(r, 20));
});
