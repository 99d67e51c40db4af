// Landlock on an older kernel (issue 15 item 3): the test build speaks at
// most what testLandlockAbi set (src-native/policy/seccomp.cc LandlockAbiJs),
// so `require: true`'s refusal of a right the ABI lacks, and the best effort
// below it, run here against the kernel's real Landlock. ABI 3 has no TCP
// ports (4) and no device ioctls (5), which every `write` rule asks for.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { NsError, runIsolated, type SpawnOptions } from '../../../lib';
import { native } from '../../../lib/core/native';
import { landlockAbi } from '../../../lib/policy/landlock';
import { expectNoLeaks, snapshot, type Snapshot } from '../../helpers/leaks';
import { withUser } from '../../helpers/privilege';

// Before landlockAbi()'s first call, which caches the answer.
native().testLandlockAbi!(3);

let before: Snapshot;
let dir: string;
beforeEach(() => {
  before = snapshot();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsjs-landlock-abi-'));
  fs.chmodSync(dir, 0o777);
});
afterEach(async () => {
  fs.rmSync(dir, { recursive: true, force: true });
  await expectNoLeaks(before);
});

const SYSTEM = ['/usr', '/lib', '/lib64', '/bin', '/etc', '/proc'];
const sh = (script: string, options: SpawnOptions) => runIsolated('sh', ['-c', script], options).then((r) => r.stdout);
const refused = (options: SpawnOptions) => runIsolated('sh', ['-c', `touch ${dir}/started`], options).then(() => undefined, (e: unknown) => e);

test('the test build speaks ABI 3 here, whatever the kernel has', () => {
  expect(native().faultInjection).toBe(true);
  expect(Math.max(0, native().landlockAbi())).toBe(3);
  expect(landlockAbi()).toBe(3);
});

test('require: true fails before anything starts, naming the ABI a rule needs and the one the kernel has', async () => {
  const write = await refused({ landlock: { read: SYSTEM, write: [dir], require: true } });
  expect(write).toBeInstanceOf(NsError); // EOPNOTSUPP, which Node names ENOTSUP (the same 95 on Linux)
  expect(write).toMatchObject({ code: 'ENOTSUP', syscall: 'landlock_create_ruleset', message: expect.stringContaining('needs Landlock ABI 5 (every write right), and this kernel has ABI 3') });
  const ports = await refused({ landlock: { read: SYSTEM, connect: [1], require: true } });
  expect(ports).toMatchObject({ code: 'ENOTSUP', message: expect.stringContaining('needs Landlock ABI 4 (TCP ports need ABI 4, Linux 6.7), and this kernel has ABI 3') });
  expect(fs.readdirSync(dir)).toEqual([]);
  // What ABI 3 has, require: true runs.
  expect(await sh('echo ok', { landlock: { read: SYSTEM, require: true } })).toBe('ok\n');
});

test('without require, the rights of ABI 3 hold and the rest is left out: writes outside `write` fail, port rules are not enforced', async () => {
  const rw = path.join(dir, 'rw');
  fs.mkdirSync(rw, { mode: 0o777 });
  const files = await sh(`echo a > ${rw}/f && echo wrote; echo b > ${dir}/outside 2>/dev/null || echo refused`, { landlock: { read: SYSTEM, write: [rw] } });
  expect(files).toBe('wrote\nrefused\n');
  expect(fs.readdirSync(dir)).toEqual(['rw']);
  // A connect to a port not listed reaches the (empty) net namespace's kernel: ECONNREFUSED (111), not Landlock's EACCES (13).
  const net = withUser(['net']);
  const py = `python3 -c "import socket
s=socket.socket()
try: s.connect(('127.0.0.1', 2)); print('ok')
except OSError as e: print(e.errno)"`;
  expect(await sh(py, { namespaces: net, ...(net.includes('user') ? { user: 'root' as const } : {}), landlock: { read: SYSTEM, connect: [1] } })).toBe('111\n');
});
