// The consumer smoke, ESM half: copied into a project that installed the
// packed nsjs, and run there by scripts/test-consumer.mjs with each Node it
// tests. Prints one line per check; any failure throws (exit status 1).
// `--qemu`: under qemu-user, which cannot make namespaces (see the README's
// "Using nsjs in your project"): what it can run must work, and what it
// cannot must fail the way the README says. `--source-build`: the addon must
// be the one the install script compiled, not a prebuild.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import nsjsDefault, { Namespace, NsError, runIsolated, spawnIsolated } from 'nsjs';

const require = createRequire(import.meta.url);
const qemu = process.argv.includes('--qemu');
const sourceBuild = process.argv.includes('--source-build');
const ok = (what) => console.log(`  ok  ${what}`);

// One package behind both module systems: same functions, same classes.
const cjs = require('nsjs');
assert.equal(runIsolated, cjs.runIsolated);
assert.equal(NsError, cjs.NsError);
assert.equal(nsjsDefault, cjs);
ok('import and require give the same module');

const plain = await runIsolated('sh', ['-c', 'echo $((6 * 7))']);
assert.equal(plain.stdout, '42\n');
ok('runIsolated without namespaces');
const sleeper = await spawnIsolated('sleep', ['10'], { stdio: 'ignore' });
sleeper.kill('SIGTERM');
assert.equal((await sleeper.wait()).signal, 'SIGTERM');
ok('kill() and wait() through the pidfd');
// Under qemu-user too, where CLONE_VFORK runs as a plain fork: the addon
// then reads the child's reports until it has exec'd (parent.cc).
await assert.rejects(spawnIsolated('/no/such/command'), { code: 'ENOENT' });
ok('a failed execve reported from the child');

// The addon came from the prebuild for this platform, or from the build the
// install script made where there is none.
const addon = fs.readFileSync('/proc/self/maps', 'utf8').split('\n').map((l) => l.split(/\s+/)[5]).find((f) => f?.endsWith('.node'));
const expected = sourceBuild ? 'build/Release/nsjs\\.node' : `prebuilds/linux-${process.arch}/nsjs\\.glibc\\.node`;
assert.match(addon ?? 'no .node mapped', new RegExp(`/node_modules/nsjs/${expected}$`));
ok(`addon loaded from ${addon.slice(addon.indexOf('node_modules/'))}`);

if (!qemu) {
  const r = await runIsolated('sh', ['-c', 'id -u; hostname'], { namespaces: ['user', 'uts'], user: 'root', hostname: 'consumer' });
  assert.equal(r.stdout, '0\nconsumer\n');
  ok('runIsolated in a user and uts namespace');
  const init = await runIsolated('sh', ['-c', 'echo $$; cat /proc/1/comm'], { namespaces: ['user', 'pid', 'mnt'], user: 'root', init: true, mounts: [{ type: 'proc', target: '/proc' }] });
  assert.equal(init.stdout, '2\nnsjs-init\n');
  ok(`init: true runs the ${sourceBuild ? 'built' : 'prebuilt'} nsjs-init as pid 1`);
  const bin = spawnSync(process.execPath, [require.resolve('nsjs/package.json').replace(/package\.json$/, 'bin/nsjs.js'), 'run', '-r', 'id', '-u'], { encoding: 'utf8' });
  assert.equal(bin.stdout, '0\n', bin.stderr);
  ok('the nsjs command: nsjs run -r id -u');
} else {
  // qemu-user turns clone into fork and refuses every CLONE_NEW* flag
  // (linux-user/syscall.c do_fork: only thread- or fork-shaped flags).
  await assert.rejects(runIsolated('true', [], { namespaces: ['user'], user: 'root' }), { code: 'EINVAL', syscall: 'clone' });
  ok('as documented, no new namespace under qemu-user (clone: EINVAL)');
  // Nor the NS_GET_* ioctls: qemu-user passes on only the ioctls it knows.
  assert.throws(() => Namespace.current('net'), { code: 'ENOSYS', syscall: 'ioctl' });
  ok('as documented, no nsfs ioctls under qemu-user (ioctl: ENOSYS)');
}
