// A process to join, as nsenter's usual target: a user namespace mapping us
// to root and the pid, uts, net and ipc namespaces it owns (unshare -U -r -p
// -u -n -i --fork). A fixture made with util-linux, not with nsjs.
import { spawn, spawnSync } from 'node:child_process';

export interface JoinFixture {
  /** unshare(1) itself: our child, outside the namespaces. */
  pid: number;
  /** The sleep inside (pid 1 of the new pid namespace): the pid to join. */
  target: number;
  /** Kills both and waits until unshare has exited and its pipe is closed. */
  dispose(): Promise<void>;
}

/** `setup` is shell run inside before the sleep starts (e.g. `hostname target`). */
export async function joinFixture(setup = ':'): Promise<JoinFixture> {
  const fixture = spawn('unshare', ['-U', '-r', '-p', '-u', '-n', '-i', '--fork', 'sh', '-c', `${setup}; echo ready; exec sleep 300`], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const closed = new Promise((r) => fixture.once('close', r));
  await new Promise((resolve) => fixture.stdout!.once('data', resolve));
  const target = Number(spawnSync('pgrep', ['-P', String(fixture.pid)], { encoding: 'utf8' }).stdout);
  return {
    pid: fixture.pid!,
    target,
    async dispose() {
      // The sleep holds the stdout pipe too, and as pid 1 of its namespace it
      // outlives unshare: kill it as well, or 'close' waits for it to end.
      process.kill(target, 'SIGKILL');
      fixture.kill('SIGKILL');
      await closed;
    },
  };
}
