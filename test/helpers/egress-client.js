// A client run inside an egress sandbox (node egress-client.js TASKS_JSON):
// it reaches out only the ways a program there can, through the proxy named
// by its environment (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY) or directly, and
// prints one JSON result per task.
'use strict';
const http = require('node:http');
const net = require('node:net');

const proxy = (name) => new URL(process.env[name]);

function readAll(socket) {
  return new Promise((resolve) => {
    let data = '';
    socket.on('data', (d) => (data += d));
    socket.on('end', () => resolve(data));
    socket.on('error', (e) => resolve(data || `error ${e.code}`));
  });
}

function viaConnect(target) {
  return new Promise((resolve) => {
    const p = proxy('HTTPS_PROXY');
    const req = http.request({ host: p.hostname, port: p.port, method: 'CONNECT', path: target });
    req.on('connect', async (res, socket, head) => {
      if (res.statusCode !== 200) return resolve({ status: res.statusCode, body: String(head) + (await readAll(socket)) });
      socket.write('GET / HTTP/1.0\r\n\r\n');
      const text = await readAll(socket);
      resolve({ status: 200, body: text.slice(text.indexOf('\r\n\r\n') + 4) });
    });
    req.on('error', (e) => resolve({ error: e.code }));
    req.end();
  });
}

function viaHttp(url) {
  return new Promise((resolve) => {
    const p = proxy('HTTP_PROXY');
    const req = http.get({ host: p.hostname, port: p.port, path: url, headers: { host: 'ignored.invalid' } }, async (res) => {
      resolve({ status: res.statusCode, body: await readAll(res) });
    });
    req.on('error', (e) => resolve({ error: e.code }));
  });
}

function viaSocks(host, port) {
  return new Promise((resolve) => {
    const p = proxy('ALL_PROXY');
    if (p.protocol !== 'socks5h:') return resolve({ error: `ALL_PROXY is ${p.protocol}` });
    const s = net.connect(Number(p.port), p.hostname);
    let addr;
    if (net.isIPv4(host)) addr = Buffer.from([1, ...host.split('.').map(Number)]);
    else if (net.isIPv6(host)) {
      const full = new URL(`http://[${host}]`).hostname.slice(1, -1);
      const [a, b = ''] = full.split('::');
      const left = a ? a.split(':') : [];
      const right = b ? b.split(':') : [];
      const groups = full.includes('::') ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right] : left;
      addr = Buffer.concat([Buffer.from([4]), Buffer.from(groups.map((g) => g.padStart(4, '0')).join(''), 'hex')]);
    } else addr = Buffer.concat([Buffer.from([3, host.length]), Buffer.from(host)]);
    const portBuf = Buffer.alloc(2);
    portBuf.writeUInt16BE(port);
    s.write(Buffer.from([5, 1, 0]));
    let buf = Buffer.alloc(0);
    let stage = 0;
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (stage === 0 && buf.length >= 2) {
        buf = buf.subarray(2);
        stage = 1;
        s.write(Buffer.concat([Buffer.from([5, 1, 0]), addr, portBuf]));
      }
      if (stage === 1 && buf.length >= 10) {
        const reply = buf[1];
        buf = buf.subarray(10);
        stage = 2;
        if (reply !== 0) return resolve({ reply });
        s.removeAllListeners('data');
        s.write('GET / HTTP/1.0\r\n\r\n');
        readAll(s).then((text) => {
          text = buf.toString() + text;
          resolve({ reply, body: text.slice(text.indexOf('\r\n\r\n') + 4) });
        });
      }
    });
    s.on('error', (e) => resolve({ error: e.code }));
  });
}

function direct(host, port) {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.on('connect', () => {
      s.destroy();
      resolve({ connected: true });
    });
    s.on('error', (e) => resolve({ error: e.code }));
  });
}

(async () => {
  const out = [];
  for (const t of JSON.parse(process.argv[2])) {
    if (t.kind === 'connect') out.push(await viaConnect(t.target));
    else if (t.kind === 'http') out.push(await viaHttp(t.url));
    else if (t.kind === 'socks') out.push(await viaSocks(t.host, t.port));
    else if (t.kind === 'direct') out.push(await direct(t.host, t.port));
  }
  process.stdout.write(JSON.stringify(out));
})();
