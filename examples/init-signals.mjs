// A PID-1 init in a new pid namespace: it forwards signals to the command and
// reaps orphans. Without `init`, the command would be pid 1, and the kernel
// drops every signal pid 1 has no handler for: this SIGTERM would be lost.
import { spawnIsolated } from 'nsjs';

const proc = await spawnIsolated('sh', ['-c', 'sleep 100 & echo "pid $$, child $!"; wait'], {
  namespaces: ['user', 'pid'],
  user: 'root',
  init: true, // nsjs-init is pid 1, sh is pid 2
  stdio: ['ignore', 'inherit', 'inherit'],
});
setTimeout(() => proc.kill('SIGTERM'), 300); // to nsjs-init, which forwards it to sh
console.log('exit:', await proc.wait()); // { code: null, signal: 'SIGTERM' }: sh's own status
