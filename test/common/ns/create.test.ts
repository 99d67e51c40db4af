// Namespace.create(): namespaces that outlive their processes, as root and
// as an ordinary user (persisting them as root: test/root/ns/create.test.ts).
// Each test checks for leaks.
import * as fs from 'node:fs';
import * as os from 'node:os';

import { Namespace, NsError, runIsolated } from '../../../lib';
import { expectNoLeaks, snapshot, type Snapshot } from '../../helpers/leaks';
import { root } from '../../helpers/privilege';

let before: Snapshot;
beforeEach(() => {
  before = snapshot();
});
afterEach(async () => {
  await expectNoLeaks(before);
});

describe('Namespace.create', () => {
  test('every type, held by the returned fd after its helper has gone', async () => {
    for (const type of ['cgroup', 'ipc', 'mnt', 'net', 'pid', 'time', 'user', 'uts'] as const) {
      const ns = Namespace.create(type);
      try {
        expect(ns.type).toBe(type);
        expect(String(ns)).not.toBe(fs.readlinkSync(`/proc/self/ns/${type}`));
        if (!root && type !== 'user') {
          using owner = ns.owner();
          expect(owner.ownerUid()).toBe(process.getuid!());
        }
      } finally {
        ns.close();
      }
    }
  });

  test('a created net namespace can be joined: it has only lo', async () => {
    const ns = Namespace.create('net');
    try {
      const join = root ? [ns] : [ns.owner(), ns];
      const r = await runIsolated('sh', ['-c', 'tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " "; readlink /proc/self/ns/net'], { join });
      expect(r).toMatchObject({ code: 0, stdout: `lo\n${ns}\n` });
      if (!root) join[0].close();
    } finally {
      ns.close();
    }
  });

  test('bad arguments', () => {
    expect(() => Namespace.create('foo' as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => Namespace.create('uts', { name: 'x' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringMatching(/options\.name/) }));
    expect(() => Namespace.create('net', { name: 'a/b' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => Namespace.create('net', { persistAt: 'x\0' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
  });

  if (!root) {
    test('persisting needs privilege: EPERM with a hint, no file left', () => {
      const file = `${os.tmpdir()}/nsjs-persist-${process.pid}`;
      let err: unknown;
      try {
        Namespace.create('uts', { persistAt: file });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(NsError);
      expect(err).toMatchObject({ code: 'EPERM', syscall: 'mount', hint: expect.stringMatching(/CAP_SYS_ADMIN/) });
      expect(fs.existsSync(file)).toBe(false);
    });
  }
});
