// A sandbox as an ordinary user: new user, mount, pid, uts, ipc and net
// namespaces, root inside (mapped to you outside), a fresh /proc and /tmp.
import { runIsolated } from 'nsjs';

const { code, stdout } = await runIsolated('sh', ['-c', 'echo "uid $(id -u) on $(hostname), pid $$; pid 1 is $(cat /proc/1/comm)"; touch /tmp/scratch'], {
  namespaces: ['user', 'mnt', 'pid', 'uts', 'ipc', 'net'],
  user: 'root', // uid 0 inside = your uid outside (unshare -r)
  hostname: 'sandbox',
  mounts: [{ type: 'proc', target: '/proc' }, { type: 'tmpfs', target: '/tmp' }],
});
process.stdout.write(stdout); // uid 0 on sandbox, pid 1; pid 1 is sh
process.exitCode = code;
