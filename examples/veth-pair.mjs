// Two network namespaces joined by a veth pair, a TCP server in one and a
// client in the other, driven from this Node process. Unprivileged: both
// namespaces belong to one user namespace of ours.
import { once } from 'node:events';
import { net, spawnIsolated } from 'nsjs';

const hold = { stdio: 'ignore' }; // `sleep` only keeps each namespace alive
const a = await spawnIsolated('sleep', ['60'], { ...hold, namespaces: ['user', 'net'], user: 'root' });
const b = await spawnIsolated('sleep', ['60'], { ...hold, join: [a.namespace('user')], namespaces: ['net'] });
const [netA, netB] = [a.namespace('net'), b.namespace('net')];
net.createVeth({ namespace: netA, name: 'veth-a', address: '169.254.10.1/30' }, { namespace: netB, name: 'veth-b', address: '169.254.10.2/30' });

const server = await net.listen(netA, { host: '169.254.10.1' }, (socket) => socket.end(`hello from ${netA}\n`));
const client = await net.connect(netB, { host: '169.254.10.1', port: server.address().port });
client.on('data', (data) => process.stdout.write(`${netB} received: ${data}`));
await once(client, 'close');

server.close();
for (const p of [a, b]) p.kill('SIGKILL'), await p.wait(); // the veth pair goes with its namespaces
