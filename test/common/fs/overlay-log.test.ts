// An overlay the kernel refuses: the NsError passes on overlayfs's own
// reason, read from the fs context's log as mount(8) does (issue 16).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { NsError, spawnIsolated } from '../../../lib';
import { expectNoLeaks, snapshot } from '../../helpers/leaks';
import { root, withUser } from '../../helpers/privilege';

test("an upper layer overlayfs cannot stack (procfs): the kernel's words in the hint, nothing started", async () => {
  const before = snapshot();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsjs-ovl-'));
  try {
    fs.mkdirSync(path.join(dir, 'lower'));
    fs.mkdirSync(path.join(dir, 'work'));
    const options = { namespaces: withUser(['mnt']), mounts: [{ type: 'overlay' as const, target: '/mnt', lower: [path.join(dir, 'lower')], upper: '/proc/sys/kernel', work: path.join(dir, 'work') }] };
    const err = (await spawnIsolated('true', [], root ? options : { ...options, user: 'root' as const }).catch((e: unknown) => e)) as NsError;
    expect(err).toBeInstanceOf(NsError);
    expect(err).toMatchObject({ code: 'EINVAL', syscall: 'fsconfig', step: 'mount /mnt: upperdir /proc/sys/kernel', hint: expect.stringMatching(/; the kernel says: overlay: filesystem on \/proc\/sys\/kernel not supported$/) });
    expect(err.message).toContain('the kernel says: overlay: filesystem on /proc/sys/kernel not supported');
    expect(fs.readdirSync(path.join(dir, 'work'))).toEqual([]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  await expectNoLeaks(before);
});
