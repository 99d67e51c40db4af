// Object.prototype is not an option (issue 13, item 9): a key put there —
// noNewPrivileges, propagation, recursive, mounts, user, join,
// capabilities, and those only nsjs's internals read (execFd, errno…) —
// changed what a spawn did. A child Node process (so that the pollution
// cannot reach jest) spawns a probe that prints what its sandbox looks like,
// once clean and once with each key polluted in turn, and reports every
// difference; there must be none. As root the child runs in throw-away
// mount, uts and net namespaces, so that a pollution that did take (a
// shared propagation, a persisted namespace) cannot reach the host.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { expectNoLeaks, snapshot, type Snapshot } from '../../helpers/leaks';
import { withLib } from '../../helpers/node';
import { root } from '../../helpers/privilege';

let before: Snapshot;
beforeEach(() => {
  before = snapshot();
});
afterEach(async () => {
  await expectNoLeaks(before);
});

const NS_TYPES = ['cgroup', 'ipc', 'mnt', 'net', 'pid', 'time', 'user', 'uts'];

// What the sandbox looks like from inside; identical output means an identical sandbox.
const PROBE = `
grep -E '^(NoNewPrivs|Cap[A-Z][a-z]+|Uid|Gid|Groups):' /proc/self/status
echo "host=$(hostname) domain=$(cat /proc/sys/kernel/domainname) cwd=$(pwd) argv0=$(tr '\\0' '\\n' < /proc/$$/cmdline | head -n 1) PWNED=\${PWNED-unset} nofile=$(ulimit -n)"
for t in ${NS_TYPES.join(' ')}; do [ "$(readlink /proc/self/ns/$t)" = "$(eval echo \\$NS_$t)" ] && echo "$t same" || echo "$t new"; done
[ "$(cut -d' ' -f6 /proc/$$/stat)" = "$(cut -d' ' -f1 /proc/$$/stat)" ] && echo "session leader" || echo "session ours"
echo "offsets: $(tr -s ' ' < /proc/self/timens_offsets 2>/dev/null | tr '\\n' ' ')"
echo "shared mounts: $(grep -c ' shared:' /proc/self/mountinfo)"
awk '{ print $5, substr($6, 1, 2) }' /proc/self/mountinfo | sort
ip -o link 2>/dev/null | awk '{ print $2, $9 }'
`;

interface Report {
  /** Per option set: the probe's output without pollution, and each key whose pollution changed it. */
  sets: Record<string, { clean: string; changed: Record<string, string> }>;
  /** Namespace.create('uts') with Object.prototype.persistAt set: whether something appeared there. */
  persistAt: string;
}

function polluted(): Report {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsjs-pollution-'));
  fs.chmodSync(dir, 0o755);
  try {
    const target = path.join(dir, 'mnt');
    fs.mkdirSync(target);
    const body = `
      const fs = require('fs');
      const path = require('path');
      const dir = ${JSON.stringify(dir)};
      const root = process.getuid() === 0;
      const withUser = (t) => (root ? t : ['user', ...t]);
      const env = { PATH: process.env.PATH, ...Object.fromEntries(${JSON.stringify(NS_TYPES)}.map((t) => ['NS_' + t, fs.readlinkSync('/proc/self/ns/' + t)])) };
      const sets = {
        plain: { env },
        sandbox: { env, namespaces: withUser(['mnt', 'uts', 'pid', 'net', 'ipc']), mounts: [{ type: 'bind', source: '/sys', target: ${JSON.stringify(target)} }] },
      };
      let n = 0;
      async function probe(options, pollute) {
        const out = path.join(dir, 'out' + n++);
        const fd = fs.openSync(out, 'w');
        let result;
        pollute();
        try {
          const p = await nsjs.spawnIsolated('sh', ['-c', ${JSON.stringify(PROBE)}], { ...options, stdio: ['ignore', fd, fd] });
          const s = await p.wait();
          result = JSON.stringify(s);
        } catch (e) {
          result = 'rejected: ' + e.message;
        } finally {
          for (const k of Object.keys(POLLUTION)) delete Object.prototype[k];
          fs.closeSync(fd);
        }
        return result + '\\n' + fs.readFileSync(out, 'utf8');
      }
      let POLLUTION = {};
      (async () => {
        // A process to join with a host name of its own, and an executable to run instead of sh.
        const helper = await nsjs.spawnIsolated('sleep', ['60'], { namespaces: withUser(['uts']), hostname: 'pwned-join', stdio: 'ignore' });
        const idFd = fs.openSync('/usr/bin/id', 'r');
        const uid = process.getuid(), gid = process.getgid();
        POLLUTION = {
          noNewPrivileges: false, propagation: 'shared', recursive: false, readonly: true,
          mounts: [{ type: 'tmpfs', target: '/tmp' }], root: '/tmp', cwd: '/tmp',
          user: { uidMap: [{ inside: 5, outside: uid, count: 1 }], gidMap: [{ inside: 5, outside: gid, count: 1 }] },
          join: { pid: helper.pid }, pid: helper.pid, types: ['uts'], namespaces: ['uts'],
          capabilities: { keep: ['CAP_SYS_ADMIN'] }, keep: ['CAP_SYS_ADMIN'],
          hostname: 'pwned', domainname: 'pwned', uid: 1234, gid: 1234, groups: [1234],
          init: true, network: { loopback: false }, loopback: false, veth: { hostName: 'pwn0', address: '169.254.9.2/30' },
          newSession: false, dieWithParent: true, env: { PWNED: '1' }, argv0: 'pwned', stdio: 'ignore',
          rlimits: { nofile: [20, 20] }, timeOffsets: { monotonic: 1000 }, signal: AbortSignal.abort(), timeout: 1, killSignal: 'SIGKILL',
          execFd: idFd, uidMap: '0 0 1\\n', gidMap: '0 0 1\\n', setgroups: 'allow', fault: { op: 0, errno: 5 },
          s: ['/tmp'], a: 1, b: 1, flags: 1, b64: 1, addr: '127.0.0.1', errno: -1, op: 0, ours: true, statusFd: 0,
        };
        const sets_ = {};
        for (const [name, options] of Object.entries(sets)) {
          const clean = await probe(options, () => {});
          const changed = {};
          for (const [k, v] of Object.entries(POLLUTION)) {
            const got = await probe(options, () => { Object.prototype[k] = v; });
            if (got !== clean) changed[k] = got;
          }
          sets_[name] = { clean, changed };
        }
        const at = path.join(dir, 'persisted');
        let persistAt;
        try {
          Object.prototype.persistAt = at;
          nsjs.Namespace.create('uts').close();
          persistAt = fs.existsSync(at) ? 'created ' + at : 'nothing';
        } catch (e) {
          persistAt = 'threw ' + e.message;
        } finally {
          delete Object.prototype.persistAt;
        }
        helper.kill('SIGKILL');
        await helper.wait();
        fs.closeSync(idFd);
        process.stdout.write(JSON.stringify({ sets: sets_, persistAt }));
      })().catch((e) => { process.stdout.write(JSON.stringify({ error: e.stack })); });
    `;
    const cmd = root ? ['unshare', '--mount', '--propagation', 'private', '--uts', '--net', '--', process.execPath] : [process.execPath];
    const r = spawnSync(cmd[0], [...cmd.slice(1), '-e', withLib(body)], { encoding: 'utf8', timeout: 120000 });
    const report = JSON.parse(r.stdout || '{}') as Report & { error?: string };
    if (report.error || !report.sets) throw new Error(`the polluted child failed (status ${r.status}, signal ${r.signal}): ${report.error ?? ''} ${r.stderr}`);
    return report;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

let report: Report;
beforeAll(() => {
  report = polluted();
}, 150000);

test.each(['plain', 'sandbox'])('%s: the probe ran cleanly, and no key on Object.prototype changed what it saw', (set) => {
  const { clean, changed } = report.sets[set];
  expect(clean).toMatch(/^\{"code":0,"signal":null\}\n/);
  expect(clean).toMatch(/NoNewPrivs:\s+1/);
  expect(changed).toEqual({});
});

test('Namespace.create ignores Object.prototype.persistAt', () => {
  expect(report.persistAt).toBe('nothing');
});
