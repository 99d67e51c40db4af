// Throw-away net namespaces for network tests: each is held by a `sleep`
// started under unshare(1) (a fixture, not library code), so it dies with
// that process and never touches the machine's own interfaces.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';

import { Namespace } from '../../lib';

export interface NetnsFixture {
  pid: number;
  ns: Namespace;
  /** Runs `ip -j ARGS` inside the namespace (as an oracle) and parses its JSON. */
  ip(...args: string[]): any;
  /** Closes the Namespace, kills the holder and waits until it has exited. */
  dispose(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * `unshareArgs` e.g. ['-n'] as root, ['-U', '-r', '-n'] rootless.
 * `userOf`: made inside the user namespace of that fixture's pid (nsenter -U),
 * so that a rootless holder administers this namespace too.
 */
export async function netnsFixture(unshareArgs: string[] = ['-n'], userOf?: number): Promise<NetnsFixture> {
  const ours = fs.readlinkSync('/proc/self/ns/net');
  const enter = userOf === undefined ? [] : ['nsenter', '-t', String(userOf), '-U', '--preserve-credentials'];
  const argv = [...enter, 'unshare', ...unshareArgs, 'sleep', '120'];
  const child: ChildProcess = spawn(argv[0], argv.slice(1), { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const pid = child.pid!;
  // unshare(1) makes the namespace and then execs sleep: wait for the first.
  for (let i = 0; ; i++) {
    let link = ours;
    try {
      link = fs.readlinkSync(`/proc/${pid}/ns/net`);
    } catch {
      // not there yet, or already gone
    }
    if (link !== ours && fs.readFileSync(`/proc/${pid}/comm`, 'latin1').trim() === 'sleep') break;
    if (i > 500) throw new Error('net namespace fixture did not start');
    await sleep(2);
  }
  const ns = Namespace.of(pid, 'net');
  const userFlag = unshareArgs.includes('-U') || userOf !== undefined ? ['-U', '--preserve-credentials'] : [];
  return {
    pid,
    ns,
    ip: (...args: string[]) =>
      JSON.parse(execFileSync('nsenter', ['-t', String(pid), ...userFlag, '-n', 'ip', '-j', ...args], { encoding: 'utf8' }) || '[]'),
    async dispose() {
      ns.close();
      child.kill('SIGKILL');
      await exited;
    },
  };
}
