// A sandbox with no network but a proxy that reaches one server of ours,
// and a port of ours forwarded to a server inside another sandbox.
// Unprivileged; only loopback addresses. curl finds the proxy in its
// environment (HTTP_PROXY, set by nsjs).
import { once } from 'node:events';
import * as http from 'node:http';
import * as nodeNet from 'node:net';
import { net, runIsolated, spawnIsolated } from 'nsjs';

const api = http.createServer((req, res) => res.end('hello from the allowed server\n')).listen(0, '127.0.0.1');
await once(api, 'listening');
const allowed = `127.0.0.1:${api.address().port}`;
const report = (c) => console.log(`egress ${c.allowed ? 'allowed' : 'refused'}: ${c.protocol} ${c.host}:${c.port}`);
const egress = { namespaces: ['user', 'net'], network: { egress: { allow: [allowed], onConnection: report } } };
for (const url of [`http://${allowed}/`, 'http://127.0.0.1:9/']) process.stdout.write((await runIsolated('curl', ['-s', url], egress)).stdout);
api.close();

// A server inside a sandbox of its own, on its 127.0.0.1:8080, reached at a port of ours.
const inside = "require('net').createServer((s) => s.end('hello from inside\\n')).listen(8080, '127.0.0.1', () => console.log('ready'))";
const box = await spawnIsolated(process.execPath, ['-e', inside], { namespaces: ['user', 'net'], stdio: ['ignore', 'pipe', 'inherit'] });
await once(box.stdout, 'data');
const ns = box.namespace('net');
const forward = await net.forward(ns, { listen: { port: 0 }, to: { host: '127.0.0.1', port: 8080 } });
const client = nodeNet.connect(forward.address().port, '127.0.0.1');
client.on('data', (data) => process.stdout.write(`forwarded: ${data}`));
await once(client, 'close');

await forward.close();
ns.close();
box.kill('SIGKILL');
await box.wait();
