// Run a command in the namespaces of a running container, by its pid (as
// `nsenter -t PID -a`): usage: node join-container.mjs PID [command...]
import { runIsolated } from 'nsjs';

const [pid, ...command] = process.argv.slice(2);
if (!pid) throw new Error('usage: node join-container.mjs PID [command...]');
const [cmd, ...args] = command.length ? command : ['hostname'];
// Every namespace of the target that differs from ours, entered atomically with setns(pidfd).
const { code, stdout, stderr } = await runIsolated(cmd, args, { join: { pid: Number(pid) }, reject: false });
process.stdout.write(stdout);
process.stderr.write(stderr);
process.exitCode = code;
