// A root from nothing, as an ordinary user: bwrap's everyday
//   bwrap --ro-bind /usr /usr --symlink usr/lib /lib --tmpfs /tmp --dir /work --proc /proc --dev /dev
// on a fresh tmpfs, so no mount point is ever made on the host's disk; python3 runs inside.
import * as fs from 'node:fs';
import { runIsolated } from 'nsjs';

// /bin, /lib… as this host has them: symlinks into /usr where it is merged, else read-only binds.
const top = ['bin', 'sbin', 'lib', 'lib64'].flatMap((name) => {
  const st = fs.lstatSync(`/${name}`, { throwIfNoEntry: false });
  if (!st) return [];
  if (st.isSymbolicLink()) return [{ type: 'symlink', target: `/${name}`, linkTo: fs.readlinkSync(`/${name}`) }];
  return [{ type: 'bind', source: `/${name}`, target: `/${name}`, readonly: true }];
});

const { stdout } = await runIsolated('python3', ['-c', 'import os; print(open("/etc/motd").read().strip(), sorted(os.listdir("/")), os.ttyname(os.openpty()[1]))'], {
  namespaces: ['user', 'mnt', 'pid'],
  user: 'root', // uid 0 inside = your uid outside (unshare -r)
  root: { type: 'tmpfs' }, // an empty root: what mounts build is all there is
  env: { PATH: '/usr/bin:/bin' },
  mounts: [
    { type: 'bind', source: '/usr', target: '/usr', readonly: true },
    ...top,
    { type: 'tmpfs', target: '/tmp' },
    { type: 'dir', target: '/work', mode: 0o700 },
    { type: 'file', target: '/etc/motd', content: 'hello from nothing\n' },
    { type: 'proc', target: '/proc' },
    { type: 'dev', target: '/dev' }, // with a devpts of its own: ptys work
  ],
});
process.stdout.write(stdout); // hello from nothing ['bin', 'dev', 'etc', 'lib', …, 'work'] /dev/pts/0
