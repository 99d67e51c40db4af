// Memory and process limits through a cgroup of the command's own: dd's
// 200 MB buffer is past the 32 MiB limit, so the kernel OOM-kills it, and
// the exit status says so. The cgroup is gone once wait() resolves.
// Unprivileged without a delegated cgroup the spawn fails (EACCES) and says
// what to delegate, rather than run the command without its limits.
import { spawnIsolated } from 'nsjs';

try {
  const proc = await spawnIsolated('dd', ['if=/dev/zero', 'of=/dev/null', 'bs=200M', 'count=1'], {
    cgroup: { memory: { max: '32M' }, pids: { max: 16 } },
    stdio: 'ignore',
  });
  const { signal, oomKilled, usage } = await proc.wait();
  console.log(`${signal}, oomKilled: ${oomKilled}, peak within the limit: ${usage.memoryPeak <= 32 << 20}`);
} catch (err) {
  console.log(`${err.code} at ${err.step}: ${err.hint}`);
}
