// Compile-only: the mount types are a union discriminated by `type` (issue
// 17 item 10), so each kind takes only its own keys and a typo in a type is
// an error. Every `@ts-expect-error` fails the build if the line below it compiles.
import { spawnIsolated } from 'nsjs';
import type { BindMount, Mount, RawMount, SpawnOptions, TmpfsRoot } from 'nsjs';

declare function use(...values: unknown[]): void;

export function mounts(): void {
  const all: Mount[] = [
    { type: 'proc', target: '/proc' },
    { type: 'tmpfs', target: '/tmp', size: '64m', mode: 0o1777 },
    { type: 'bind', source: '/usr', target: '/usr', readonly: true, recursive: true, optional: true },
    { type: 'dev', target: '/dev' },
    { type: 'overlay', target: '/o', lower: ['/a', '/b'] },
    { type: 'overlay', target: '/o', lower: ['/a'], upper: '/u', work: '/w' },
    { type: 'mqueue', target: '/dev/mqueue' },
    { type: 'sysfs', target: '/sys' },
    { type: 'dir', target: '/work', mode: 0o700 },
    { type: 'file', target: '/etc/hostname', content: 'box\n' },
    { type: 'file', target: '/bin.dat', content: Buffer.from([0, 1]), mode: 0o600 },
    { type: 'symlink', target: '/lib', linkTo: 'usr/lib' },
    { type: 'mask', target: '/proc/kcore' },
    { type: 'raw', fstype: 'ramfs', target: '/r', flags: 0, data: 'mode=700' },
  ];
  const root: TmpfsRoot = { type: 'tmpfs', readonly: true };
  const options: SpawnOptions = { namespaces: ['user', 'mnt'], root, mounts: all };
  const string: SpawnOptions = { namespaces: ['mnt'], root: '/srv/rootfs' };
  const raw: RawMount = { type: 'raw', fstype: 'cgroup2', target: '/sys/fs/cgroup' };
  const bind: BindMount = { type: 'bind', source: '/a', target: '/b' };
  use(options, string, raw, bind, spawnIsolated('true', [], options));

  // @ts-expect-error a bind needs its source
  const noSource: Mount = { type: 'bind', target: '/x' };
  // @ts-expect-error not a mount type (the raw form is type: 'raw')
  const typo: Mount = { type: 'procc', target: '/proc' };
  // @ts-expect-error an overlay needs its lower layers
  const noLower: Mount = { type: 'overlay', target: '/o' };
  // @ts-expect-error a file's content is a string or a Buffer
  const number: Mount = { type: 'file', target: '/f', content: 42 };
  // @ts-expect-error a symlink says where it leads
  const noLink: Mount = { type: 'symlink', target: '/l' };
  // @ts-expect-error the raw form names its fstype
  const noFstype: Mount = { type: 'raw', target: '/r' };
  // @ts-expect-error flags belong to the raw form only
  const flags: Mount = { type: 'tmpfs', target: '/t', flags: 1 };
  // @ts-expect-error a root is a path or a tmpfs
  const ext4: SpawnOptions = { root: { type: 'ext4' } };
  use(noSource, typo, noLower, number, noLink, noFstype, flags, ext4);
}
