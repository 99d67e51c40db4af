// idmap: true as an ordinary user: the kernel idmaps only for a process
// privileged over the filesystem's user namespace (the host's, for a disk);
// the spawn fails at that step, with the way out, and leaves nothing.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { NsError, spawnIsolated } from '../../../lib';
import { expectNoLeaks, snapshot } from '../../helpers/leaks';

test('an idmapped bind of a host directory is refused (EPERM at open_tree) with a hint, nothing started', async () => {
  const before = snapshot();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsjs-idmap-'));
  try {
    const err = (await spawnIsolated('true', [], { namespaces: ['user', 'mnt'], user: 'root', mounts: [{ type: 'bind', source: dir, target: '/mnt', idmap: true }] }).catch((e: unknown) => e)) as NsError;
    expect(err).toBeInstanceOf(NsError);
    expect(err).toMatchObject({ code: 'EPERM', syscall: 'open_tree', step: `mount /mnt: idmap ${dir}`, path: dir, hint: expect.stringMatching(/as an ordinary user the kernel refuses it.*needs root; nothing was started/) });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  await expectNoLeaks(before);
});
