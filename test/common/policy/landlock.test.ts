// Landlock (issue 15 item 3), attacked from inside as root and as an
// ordinary user: with `landlock` set, reading and writing outside `read` ∪
// `write` fail with EACCES, `execute` narrows what runs, `connect`/`bind`
// restrict TCP ports, and the paths are the sandbox's own (after root).
// Each attack also runs without `landlock`, where it gets through.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { runIsolated, type SpawnOptions } from '../../../lib';
import { landlockAbi } from '../../../lib/policy/landlock';
import { expectNoLeaks, snapshot, type Snapshot } from '../../helpers/leaks';
import { withUser } from '../../helpers/privilege';

let before: Snapshot;
let dir: string;
beforeEach(() => {
  before = snapshot();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsjs-landlock-'));
  fs.chmodSync(dir, 0o755);
  fs.mkdirSync(path.join(dir, 'rw'), { mode: 0o777 });
  fs.mkdirSync(path.join(dir, 'other'), { mode: 0o777 });
  fs.writeFileSync(path.join(dir, 'other', 'secret'), 'secret\n', { mode: 0o644 });
});
afterEach(async () => {
  fs.rmSync(dir, { recursive: true, force: true });
  await expectNoLeaks(before);
});

// What sh, coreutils and python3 need to start.
const SYSTEM = ['/usr', '/lib', '/lib64', '/bin', '/etc', '/proc'];
const sh = (script: string, options: SpawnOptions) => runIsolated('sh', ['-c', script], options).then((r) => r.stdout);

const have = landlockAbi();
// A rule of ABI n cannot be asked of a kernel with a lower one (this host has 7): such a test shows as skipped there, never as passed.
const needs = (abi: number) => (have >= abi ? test : test.skip);

describe.each<[string, SpawnOptions]>([
  ['no namespaces', {}],
  ['user+mnt+pid', { namespaces: ['user', 'mnt', 'pid'], user: 'root' }],
])('Landlock: %s', (_name, options) => {
  needs(1)('outside read and write, reading, listing and writing fail with EACCES', async () => {
    const rw = path.join(dir, 'rw');
    const other = path.join(dir, 'other');
    const script = `echo x > ${rw}/f && echo wrote-rw; cat ${rw}/f; cat ${other}/secret 2>&1; ls ${other} 2>&1; echo y 2>&1 > ${other}/new || echo refused-new; rm ${other}/secret 2>&1 || echo refused-rm`;
    const on = await sh(script, { ...options, landlock: { read: SYSTEM, write: [rw] } });
    expect(on).toBe(
      `wrote-rw\nx\ncat: ${other}/secret: Permission denied\nls: cannot open directory '${other}': Permission denied\n` +
        `sh: 1: cannot create ${other}/new: Permission denied\nrefused-new\n` +
        `rm: cannot remove '${other}/secret': Permission denied\nrefused-rm\n`,
    );
    expect(fs.readdirSync(other)).toEqual(['secret']);
    // The same program without landlock reads and writes there.
    fs.rmSync(path.join(rw, 'f'));
    const off = await sh(script, options);
    expect(off).toBe(`wrote-rw\nx\nsecret\nsecret\n`);
    expect(fs.readdirSync(other).sort()).toEqual(['new']);
  });

  needs(1)('read alone allows no write; a path that does not exist is skipped', async () => {
    const out = await sh(`cat ${dir}/other/secret; echo z > ${dir}/other/secret 2>&1 || echo refused`, {
      ...options,
      landlock: { read: [...SYSTEM, dir, '/nsjs-no-such-path'] },
    });
    expect(out).toBe('secret\nrefused\n');
    expect(fs.readFileSync(path.join(dir, 'other', 'secret'), 'utf8')).toBe('secret\n');
  });

  needs(1)('execute narrows execution to its paths', async () => {
    const out = await sh('echo start; ls / >/dev/null 2>&1 || echo ls-refused', {
      ...options,
      landlock: { read: SYSTEM, write: ['/dev/null'], execute: ['/usr/bin/dash', '/bin/dash', '/usr/lib', '/lib', '/lib64'] },
    });
    expect(out).toBe('start\nls-refused\n');
  });

  needs(4)('connect and bind restrict TCP to the ports listed', async () => {
    const py = (port: number, what: 'connect' | 'bind') =>
      `python3 -c "import socket,sys
s=socket.socket()
try:
  s.${what === 'connect' ? `connect(('127.0.0.1', ${port}))` : `bind(('127.0.0.1', ${port}))`}; print('${what} ${port} ok')
except OSError as e: print('${what} ${port}', e.errno)"`;
    const net = withUser(['net']);
    const o: SpawnOptions = { ...options, namespaces: [...new Set([...(options.namespaces ?? []), ...net])], ...(net.includes('user') || options.user ? { user: 'root' } : {}) };
    const script = [py(1, 'connect'), py(2, 'connect'), py(40001, 'bind'), py(40002, 'bind')].join('; ');
    // In a fresh net namespace nothing listens: a connect the rules let through is refused by the kernel (ECONNREFUSED 111).
    expect(await sh(script, { ...o, landlock: { read: SYSTEM, connect: [1], bind: [40001] } })).toBe('connect 1 111\nconnect 2 13\nbind 40001 ok\nbind 40002 13\n');
    expect(await sh(script, o)).toBe('connect 1 111\nconnect 2 111\nbind 40001 ok\nbind 40002 ok\n');
  });

  needs(1)('bad rules throw before anything starts', async () => {
    const bad = (landlock: unknown) => runIsolated('true', [], { ...options, landlock } as SpawnOptions).then(() => undefined, (e: Error & { code: string }) => e);
    expect(await bad({ read: ['relative'] })).toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining("'options.landlock.read[0]'") });
    expect(await bad({ write: '/tmp' })).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE', message: expect.stringContaining('options.landlock.write') });
    expect(await bad({ connect: [70000] })).toMatchObject({ code: 'ERR_OUT_OF_RANGE', message: expect.stringContaining('options.landlock.connect[0]') });
    expect(await bad({ reed: ['/'] })).toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining("'options.landlock.reed'") });
    // Rules seen before cost a comparison (lib/policy/landlock.ts `recent`): changed in place, or with a key added, they are checked again.
    const reused = { read: [...SYSTEM] };
    await runIsolated('true', [], { ...options, landlock: reused });
    reused.read[1] = 'relative';
    expect(await bad(reused)).toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining("'options.landlock.read[1]'") });
    expect(await bad({ read: SYSTEM, reed: ['/'] })).toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining("'options.landlock.reed'") });
  });

  needs(5)('require: true holds where the kernel has every right asked for', async () => {
    expect(await sh('echo ok', { ...options, landlock: { read: SYSTEM, write: [dir], connect: [1], require: true } })).toBe('ok\n');
  });
});

test('the paths are the sandbox\'s own: after root, a path names the file inside it', async () => {
  if (have < 1) return expect(have).toBe(0);
  // A root of our making: the system bound read-only, /data from our rw, /scratch writable but not listed.
  const root = path.join(dir, 'root');
  const data = path.join(dir, 'rw');
  const system = SYSTEM.filter((p) => fs.existsSync(p));
  for (const p of [...system, '/data', '/scratch']) fs.mkdirSync(path.join(root, p), { recursive: true, mode: 0o777 });
  fs.chmodSync(path.join(root, 'scratch'), 0o777);
  const out = await sh('echo in > /data/f && cat /data/f; echo out > /scratch/f || echo refused', {
    namespaces: withUser(['mnt']),
    ...(withUser([]).length ? { user: 'root' as const } : {}),
    root,
    mounts: [...system.map((p) => ({ type: 'bind' as const, source: p, target: p, readonly: true, recursive: true })), { type: 'bind', source: data, target: '/data' }],
    landlock: { read: SYSTEM, write: ['/data'] },
  });
  expect(out).toBe('in\nrefused\n');
  expect(fs.readFileSync(path.join(data, 'f'), 'utf8')).toBe('in\n');
  // The host's path of the same file is not what the rule named: it stays out of reach.
  expect(fs.readdirSync(path.join(root, 'scratch'))).toEqual([]);
});
