// The capabilities a command keeps by default (issue 13, item 4), as root
// and as an ordinary user: in a new or joined user namespace the set that
// namespace gives (which reaches only what it owns), in our own user
// namespace none at all (test/root/policy/capabilities.test.ts attacks that
// as root); an ordinary user without a user namespace has none to drop and
// spawns as before. Each test checks it leaked nothing.
import * as fs from 'node:fs';

import { runIsolated, type SpawnOptions } from '../../../lib';
import { joinFixture } from '../../helpers/join';
import { expectNoLeaks, snapshot, type Snapshot } from '../../helpers/leaks';

let before: Snapshot;
beforeEach(() => {
  before = snapshot();
});
afterEach(async () => {
  await expectNoLeaks(before);
});

const lastCap = Number(fs.readFileSync('/proc/sys/kernel/cap_last_cap', 'latin1'));
const hex = (mask: bigint) => mask.toString(16).padStart(16, '0');
// A new user namespace starts with every capability in it, whatever our bounding set.
const FULL = hex((1n << BigInt(lastCap + 1)) - 1n);
const NONE = hex(0n);

async function caps(options: SpawnOptions): Promise<Record<string, string>> {
  const r = await runIsolated('sh', ['-c', 'grep ^Cap /proc/self/status'], options);
  expect(r).toMatchObject({ code: 0, stderr: '' });
  return Object.fromEntries(r.stdout.trim().split('\n').map((l) => l.split(/:\s+/)));
}

test('in a new user namespace the command keeps its set there', async () => {
  expect(await caps({ namespaces: ['user', 'mnt', 'pid'], user: 'root' })).toMatchObject({ CapPrm: FULL, CapEff: FULL, CapBnd: FULL });
});

test('in a joined user namespace too', async () => {
  const fixture = await joinFixture();
  try {
    expect(await caps({ join: { pid: fixture.target, types: ['user', 'uts'] }, uid: 0, gid: 0 })).toMatchObject({ CapPrm: FULL, CapEff: FULL, CapBnd: FULL });
  } finally {
    await fixture.dispose();
  }
});

test('in our own user namespace, none; keep asks for some', async () => {
  const kept = hex(1n << 10n); // CAP_NET_BIND_SERVICE
  if (process.getuid!() === 0) {
    expect(await caps({})).toEqual({ CapInh: NONE, CapPrm: NONE, CapEff: NONE, CapBnd: NONE, CapAmb: NONE });
    expect(await caps({ capabilities: { keep: ['net_bind_service'] } })).toEqual({ CapInh: kept, CapPrm: kept, CapEff: kept, CapBnd: kept, CapAmb: kept });
  } else {
    // Nothing to drop: the spawn works and the command has what we have (nothing), the bounding set left as ours (without CAP_SETPCAP it cannot be lowered).
    const ours = fs.readFileSync('/proc/self/status', 'latin1').match(/^CapBnd:\s+(\w+)/m)![1];
    expect(await caps({})).toEqual({ CapInh: NONE, CapPrm: NONE, CapEff: NONE, CapBnd: ours, CapAmb: NONE });
  }
});

test('capabilities.drop takes those out of the set a user namespace keeps, and out of keep', async () => {
  const all = (1n << BigInt(lastCap + 1)) - 1n;
  const withoutAdmin = hex(all & ~(1n << 21n)); // CAP_SYS_ADMIN
  const user = { namespaces: ['user', 'mnt'], user: 'root' } as const;
  expect(await caps({ ...user, capabilities: { drop: ['CAP_SYS_ADMIN'] } })).toMatchObject({ CapPrm: withoutAdmin, CapEff: withoutAdmin, CapBnd: withoutAdmin });
  // The capability is gone for real: mounting, which CAP_SYS_ADMIN over the new mount namespace allows, is refused.
  const mount = (o: SpawnOptions) => runIsolated('sh', ['-c', 'mount -t tmpfs none /mnt 2>&1; echo "status $?"'], o).then((r) => r.stdout.trim().split('\n').pop());
  expect(await mount({ ...user, capabilities: { drop: ['sys_admin'] } })).toBe('status 32');
  expect(await mount(user)).toBe('status 0');
  const kept = hex(1n << 10n);
  expect(await caps({ ...user, capabilities: { keep: ['CAP_NET_BIND_SERVICE', 'CAP_SYS_ADMIN'], drop: ['CAP_SYS_ADMIN'] } })).toMatchObject({ CapPrm: kept, CapBnd: kept });
});

test('a bad capability name in drop is ERR_INVALID_ARG_VALUE naming it', async () => {
  // @ts-expect-error: not a CapabilityName
  const e = await runIsolated('true', [], { capabilities: { drop: ['CAP_BOGUS'] } }).catch((err: Error) => err);
  expect(e).toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining("'options.capabilities.drop[0]'") });
});
