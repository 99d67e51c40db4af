// As real root without a user namespace, the default drops every capability
// (issue 13), so a hostile program cannot undo a read-only bind, a mask or
// a read-only tmpfs root by remounting: the host directory stays as it was.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { runIsolated } from '../../../lib';
import { expectNoLeaks, snapshot } from '../../helpers/leaks';

test('hostile, real root with the default capabilities: no remount read-write, no unmask, no write through a read-only bind', async () => {
  const before = snapshot();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsjs-ro-'));
  try {
    fs.writeFileSync(path.join(dir, 'f'), 'x');
    const script = `
      for how in "-o remount,bind,rw /data" "-o remount,rw /data" "-o remount,bind,rw /" "--bind /data /data"; do mount $how 2>/dev/null && echo "mounted $how"; done
      umount /data/f 2>/dev/null && echo unmasked; umount -l /data 2>/dev/null && echo unmounted
      echo y > /data/new 2>/dev/null && echo wrote; touch /x 2>/dev/null && echo wrote-root; cat /data/f | wc -c; id -u`;
    const out = await runIsolated('sh', ['-c', script], {
      namespaces: ['mnt', 'pid'],
      env: { PATH: '/usr/bin:/bin:/usr/sbin:/sbin' },
      root: { type: 'tmpfs', readonly: true },
      mounts: [
        { type: 'bind', source: '/usr', target: '/usr', readonly: true },
        ...['bin', 'sbin', 'lib', 'lib64'].filter((l) => fs.lstatSync(`/${l}`, { throwIfNoEntry: false })?.isSymbolicLink()).map((l) => ({ type: 'symlink' as const, target: `/${l}`, linkTo: fs.readlinkSync(`/${l}`) })),
        { type: 'bind', source: dir, target: '/data', readonly: true },
        { type: 'mask', target: '/data/f' },
      ],
    });
    expect(out.stdout).toBe('0\n0\n');
    expect(fs.readdirSync(dir)).toEqual(['f']);
    expect(fs.readFileSync(path.join(dir, 'f'), 'utf8')).toBe('x');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  await expectNoLeaks(before);
});
