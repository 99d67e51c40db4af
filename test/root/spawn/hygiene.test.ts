// The hygiene of test/common/spawn/hygiene.test.ts where only root can look: a
// veth made by the parent, capabilities kept across a change of uid, and
// no_new_privs against a real setuid binary. Each test checks for leaks.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { runIsolated } from '../../../lib';
import { fdsInside } from '../../helpers/fds';
import { expectNoLeaks, links, snapshot, type Snapshot } from '../../helpers/leaks';

let before: Snapshot;
beforeEach(() => {
  before = snapshot();
});
afterEach(async () => {
  await expectNoLeaks(before);
});

const NOBODY = 65534;

test('a veth pair: the parent makes it over netlink, and the command still sees only 0, 1, 2', async () => {
  const host = `nsjsh${process.pid % 100000}`;
  const r = await fdsInside(
    { namespaces: ['net'], network: { veth: { hostName: host, hostAddress: '169.254.61.1/30', address: '169.254.61.2/30' } } },
    'ip -o -4 addr show eth0 | grep -o "inet [^ ]*"',
  );
  expect(r).toEqual({ out: ['inet 169.254.61.2/30'], fds: [0, 1, 2] });
  // The pair goes with the sandbox's namespace, in the kernel's cleanup worker.
  for (let i = 0; i < 100 && links().includes(host); i++) await new Promise((res) => setTimeout(res, 20));
  expect(links()).not.toContain(host);
});

test('capabilities.keep survives the change to another uid: only those, in every set, and nothing else', async () => {
  const NET_BIND_SERVICE = (1n << 10n).toString(16).padStart(16, '0');
  const none = '0'.padStart(16, '0');
  const caps = async (keep?: string[]) => {
    const r = await runIsolated('sh', ['-c', 'id -u; grep ^Cap /proc/self/status'], { uid: NOBODY, gid: NOBODY, ...(keep ? { capabilities: { keep } } : {}) });
    expect(r.code).toBe(0);
    const [uid, ...sets] = r.stdout.trim().split('\n');
    return { uid, ...Object.fromEntries(sets.map((l) => l.split(/:\s+/))) };
  };
  expect(await caps(['CAP_NET_BIND_SERVICE'])).toEqual({
    uid: String(NOBODY), CapInh: NET_BIND_SERVICE, CapPrm: NET_BIND_SERVICE, CapEff: NET_BIND_SERVICE, CapBnd: NET_BIND_SERVICE, CapAmb: NET_BIND_SERVICE,
  });
  // Without keep, real root's are dropped in every set, the bounding set too.
  expect(await caps()).toEqual({ uid: String(NOBODY), CapInh: none, CapPrm: none, CapEff: none, CapBnd: none, CapAmb: none });
});

test('no_new_privs by default: a setuid-root binary run as nobody stays nobody; with noNewPrivileges: false it becomes root', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsjs-suid-'));
  try {
    fs.chmodSync(dir, 0o755);
    const id = path.join(dir, 'id');
    fs.copyFileSync('/usr/bin/id', id);
    fs.chownSync(id, 0, 0);
    fs.chmodSync(id, 0o4755);
    const euid = (options: object) => runIsolated(id, ['-u'], { uid: NOBODY, gid: NOBODY, ...options });
    expect(await euid({})).toMatchObject({ code: 0, stdout: `${NOBODY}\n` });
    expect(await euid({ noNewPrivileges: false })).toMatchObject({ code: 0, stdout: '0\n' });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
