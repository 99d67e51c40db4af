// Real root without a user namespace keeps no capability unless asked
// (issue 13, item 4; bubblewrap's rule). Without the drop, a sandbox with a
// new root and a read-only /usr still reached the host: open_by_handle_at
// on the /usr fd with the handle of its filesystem's root opened the host's
// `/`, and mknod made block devices. Both attacks run here for real, from a
// small C probe, with the defence and (to show they would work) with the one
// capability each needs kept. Each test checks it leaked nothing.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { runIsolated, type SpawnOptions } from '../../../lib';
import { CAPABILITIES } from '../../../lib/policy/options';
import { expectNoLeaks, snapshot, type Snapshot } from '../../helpers/leaks';
import { ERRNO_NAME, cProbe } from '../../helpers/probe';
import { rootfs, usrReadonly } from '../../helpers/rootfs';

let before: Snapshot;
beforeEach(() => {
  before = snapshot();
});
afterEach(async () => {
  await expectNoLeaks(before);
});

const lastCap = Number(fs.readFileSync('/proc/sys/kernel/cap_last_cap', 'latin1'));
const hex = (mask: bigint) => mask.toString(16).padStart(16, '0');
const NONE = hex(0n);
const bit = (n: number) => hex(1n << BigInt(n));
const CAP_NET_ADMIN = 12;

const HANDLES = `${ERRNO_NAME}
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <dirent.h>
// handle PATH: prints the file handle of PATH as "TYPE HEX".
// open MOUNT TYPE HEX: open_by_handle_at with an fd of MOUNT, then lists what it opened.
int main(int argc, char **argv) {
  char buf[sizeof(struct file_handle) + MAX_HANDLE_SZ];
  struct file_handle *h = (struct file_handle *)buf;
  if (argc == 3 && argv[1][0] == 'h') {
    int mount_id;
    h->handle_bytes = MAX_HANDLE_SZ;
    if (name_to_handle_at(AT_FDCWD, argv[2], h, &mount_id, 0) < 0) { printf("name_to_handle_at %s\\n", ERR()); return 1; }
    printf("%d ", h->handle_type);
    for (unsigned i = 0; i < h->handle_bytes; i++) printf("%02x", h->f_handle[i]);
    printf("\\n");
    return 0;
  }
  if (argc != 5) return 2;
  int mfd = open(argv[2], O_RDONLY | O_DIRECTORY);
  if (mfd < 0) { printf("open %s\\n", ERR()); return 0; }
  h->handle_type = atoi(argv[3]);
  h->handle_bytes = 0;
  for (const char *p = argv[4]; p[0] && p[1]; p += 2) { unsigned b; sscanf(p, "%2x", &b); h->f_handle[h->handle_bytes++] = b; }
  int fd = open_by_handle_at(mfd, h, O_RDONLY | O_DIRECTORY);
  if (fd < 0) { printf("open_by_handle_at %s\\n", ERR()); return 0; }
  DIR *d = fdopendir(fd);
  struct dirent *e;
  printf("opened:");
  while ((e = readdir(d))) printf(" %s", e->d_name);
  printf("\\n");
  return 0;
}
`;

/** The top directory of the filesystem that holds `dir` (the host's /, where /usr is on the root fs). */
function filesystemTop(dir: string): string {
  const dev = fs.statSync(dir).dev;
  let top = dir;
  while (top !== '/' && fs.statSync(path.dirname(top)).dev === dev) top = path.dirname(top);
  return top;
}

describe('real root in a sandbox with a new root and a read-only /usr', () => {
  let dir: string;
  let sandbox: SpawnOptions;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsjs-caps-'));
    const r = rootfs(dir, ['usr', 'tmp', 'probe', 'proc']);
    sandbox = {
      namespaces: ['mnt', 'pid', 'uts', 'ipc', 'net'],
      root: r,
      mounts: [usrReadonly, { type: 'proc', target: '/proc' }, { type: 'tmpfs', target: '/tmp' }, { type: 'bind', source: path.dirname(cProbe('handles', HANDLES)), target: '/probe', readonly: true }],
    };
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const caps = async (options: SpawnOptions) => {
    const r = await runIsolated('sh', ['-c', 'grep ^Cap /proc/self/status'], { ...sandbox, ...options });
    expect(r).toMatchObject({ code: 0, stderr: '' });
    return Object.fromEntries(r.stdout.trim().split('\n').map((l) => l.split(/:\s+/)));
  };

  test('keeps no capability by default, in any set', async () => {
    expect(await caps({})).toEqual({ CapInh: NONE, CapPrm: NONE, CapEff: NONE, CapBnd: NONE, CapAmb: NONE });
  });

  test('keep: [CAP_NET_ADMIN] keeps exactly that one, in every set', async () => {
    const one = bit(CAP_NET_ADMIN);
    expect(await caps({ capabilities: { keep: ['CAP_NET_ADMIN'] } })).toEqual({ CapInh: one, CapPrm: one, CapEff: one, CapBnd: one, CapAmb: one });
  });

  test("open_by_handle_at with a handle of the host's filesystem cannot open it (with CAP_DAC_READ_SEARCH kept and seccomp: false, it would)", async () => {
    const probe = cProbe('handles', HANDLES);
    const top = filesystemTop('/usr');
    // The handle is taken outside any sandbox (name_to_handle_at is in the default seccomp profile).
    const [type, handle] = (await runIsolated(probe, ['handle', top], { seccomp: false })).stdout.trim().split(' ');
    expect(type).toMatch(/^\d+$/);
    const attack = (options: SpawnOptions) => runIsolated(`/probe/${path.basename(probe)}`, ['open', '/usr', type, handle], { ...sandbox, ...options });
    expect(await attack({})).toMatchObject({ code: 0, stdout: 'open_by_handle_at EPERM\n' });
    expect(await attack({ seccomp: false })).toMatchObject({ code: 0, stdout: 'open_by_handle_at EPERM\n' });
    // The second defence: with the capability kept, the default seccomp profile still refuses the call.
    expect(await attack({ capabilities: { keep: ['CAP_DAC_READ_SEARCH'] } })).toMatchObject({ code: 0, stdout: 'open_by_handle_at EPERM\n' });
    // The attack itself works: with the one capability it needs and no filter, it lists the host's directory.
    const escaped = await attack({ capabilities: { keep: ['CAP_DAC_READ_SEARCH'] }, seccomp: false });
    expect(escaped.stdout).toMatch(/^opened:/);
    expect(escaped.stdout.trim().split(' ').slice(1).sort()).toEqual(['.', '..', ...fs.readdirSync(top)].sort());
  });

  test('mknod of a block device fails (with CAP_MKNOD kept, it would not)', async () => {
    const mknod = (options: SpawnOptions) => runIsolated('sh', ['-c', 'mknod /tmp/disk b 8 0 2>&1 && ls -l /tmp/disk | cut -c1'], { ...sandbox, ...options });
    const r = await mknod({});
    expect(r.code).not.toBe(0);
    expect(r.stdout).toMatch(/Operation not permitted/);
    expect(await mknod({ capabilities: { keep: ['CAP_MKNOD'] } })).toMatchObject({ code: 0, stdout: 'b\n' });
  });

  test('changing uid drops the bounding set too, so a setuid binary run later gains nothing', async () => {
    expect(await caps({ uid: 65534, gid: 65534 })).toEqual({ CapInh: NONE, CapPrm: NONE, CapEff: NONE, CapBnd: NONE, CapAmb: NONE });
  });

  test('every capability listed, for a command that stays uid 0, leaves the sets as they are (nsjs run asks that, as unshare)', async () => {
    const ours = Object.fromEntries(fs.readFileSync('/proc/self/status', 'latin1').split('\n').filter((l) => l.startsWith('Cap')).map((l) => l.split(/:\s+/)));
    expect(await caps({ capabilities: { keep: CAPABILITIES.slice(0, lastCap + 1) } })).toEqual(ours);
  });
});
