// In a new user namespace the command holds CAP_SYS_ADMIN over the mounts
// nsjs made for it, and the kernel locks none of them (they were made in its
// own mount namespace). A hostile one would remount a read-only bind of a
// host directory read-write and write there, or unmount a mask: the default
// seccomp profile refuses the mount calls. The same program with them
// allowed shows the attack is real here.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { runIsolated, type SpawnOptions } from '../../../lib';
import { expectNoLeaks, snapshot } from '../../helpers/leaks';

const MOUNT_CALLS = ['mount', 'umount', 'umount2', 'mount_setattr', 'move_mount', 'open_tree', 'fsopen', 'fsconfig', 'fsmount', 'fspick', 'pivot_root'];

// $D: the host directory, bound read-only onto itself, its file masked.
const ATTACK = `
  for how in "-o remount,bind,rw $D" "-o remount,rw $D"; do mount $how 2>/dev/null && echo "mounted $how"; done
  umount "$D/secret" 2>/dev/null && echo unmasked
  echo y > "$D/new" 2>/dev/null && echo wrote
  cat "$D/secret" 2>/dev/null | wc -c`;

async function attack(dir: string, extra: SpawnOptions): Promise<string> {
  const r = await runIsolated('sh', ['-c', ATTACK], {
    namespaces: ['user', 'mnt', 'pid'],
    user: 'root',
    env: { PATH: '/usr/bin:/bin:/usr/sbin:/sbin', D: dir },
    mounts: [
      { type: 'proc', target: '/proc' },
      { type: 'bind', source: dir, target: dir, readonly: true },
      { type: 'mask', target: path.join(dir, 'secret') },
    ],
    ...extra,
  });
  return r.stdout;
}

test('a command that is root in its own user namespace cannot remount, unmount or write through a read-only bind under the default profile', async () => {
  const before = snapshot();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsjs-locked-'));
  try {
    fs.writeFileSync(path.join(dir, 'secret'), 'hidden');
    expect(await attack(dir, {})).toBe('0\n');
    expect(fs.readdirSync(dir)).toEqual(['secret']);

    // The control: the same program with the mount calls allowed gets through.
    const open = await attack(dir, { seccomp: { allow: MOUNT_CALLS } });
    expect(open).toMatch(/^mounted -o remount,bind,rw /m);
    expect(open).toMatch(/^unmasked$/m);
    expect(open).toMatch(/^wrote$/m);
    expect(fs.readdirSync(dir).sort()).toEqual(['new', 'secret']);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  await expectNoLeaks(before);
});
