#!/usr/bin/env node
// `npm run prebuild [-- --arch arm64] [--out DIR]`: the prebuilt addons that
// an install loads where they fit (node-gyp-build picks
// prebuilds/linux-<arch>/nsjs.glibc.node), each with the nsjs-pid1 that
// init: true execs, nsjs-init (sandbox commands, nsjs-oci's init) and
// nsjs-oci's native front beside it. x64 and arm64
// against glibc by default: the host's natively, the other cross-compiled
// (Debian's g++-aarch64-linux-gnu or g++-x86-64-linux-gnu). Run it after the last change to src-native/ or
// binding.gyp and commit prebuilds/; `npm run test:consumer` then checks
// both (arm64 under qemu-user).
//
// node-gyp builds only into build/, so each build replaces the last: the
// host's goes last and build/ ends as a build for this machine. --out DIR
// writes DIR/prebuilds/ instead of the package's (CI checks a fresh cross
// build that way without touching the committed ones).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
// Debian's cross toolchains by target; the host's own tools need no prefix.
const triples = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu' };

const { values } = parseArgs({ options: { arch: { type: 'string', default: 'x64,arm64' }, out: { type: 'string', default: root } } });
const host = process.arch;
const archs = values.arch.split(',').filter(Boolean);
const unknown = archs.filter((a) => !(a in triples));
if (process.platform !== 'linux' || unknown.length > 0) {
  console.error(`prebuild: Linux x64 and arm64 only (asked for ${unknown.join(', ') || process.platform})`);
  process.exit(1);
}
// The host's last, so that build/ is left holding a build that loads here.
archs.sort((a, b) => Number(a === host) - Number(b === host));

function run(cmd, args, env) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
  if (r.error) throw r.error;
  if (r.status !== 0) process.exit(r.status ?? 1);
}

for (const arch of archs) {
  const tool = (name) => (arch === host ? name : `${triples[arch]}-${name}`);
  const cross = arch === host ? {} : { CC: tool('gcc'), CXX: tool('g++') };
  if (arch !== host && spawnSync(cross.CXX, ['--version'], { stdio: 'ignore' }).error) {
    console.error(`prebuild: ${cross.CXX} is missing (Debian: apt-get install g++-${triples[arch].replace(/_/g, '-')})`);
    process.exit(1);
  }
  console.log(`\nprebuild: linux-${arch}${arch === host ? '' : ` with ${cross.CXX}`}`);
  // --napi: one build for every Node with Node-API 8; --tag-libc: glibc, so
  // that node-gyp-build on musl (Alpine) passes it over and compiles instead.
  run(process.execPath, [require.resolve('prebuildify/bin.js'), '--napi', '--strip', '--tag-libc', '--arch', arch, '--strip-bin', tool('strip'), '--out', values.out], cross);
  // prebuildify ships only the .node file. nsjs-init is static, so it runs on
  // any Linux of its architecture, glibc or musl.
  const dir = path.join(values.out, 'prebuilds', `linux-${arch}`);
  // nsjs-oci, the OCI runtime's native front, is static too; nsjs-pid1 has no libc at all.
  for (const exe of ['nsjs-init', 'nsjs-oci', 'nsjs-pid1']) {
    const out = path.join(dir, exe);
    run(tool('strip'), ['-o', out, path.join(root, 'build', 'Release', exe)]);
    fs.chmodSync(out, 0o755);
  }
  for (const f of fs.readdirSync(dir)) console.log(`prebuild: ${path.join(dir, f)} (${fs.statSync(path.join(dir, f)).size} bytes)`);
}
if (!archs.includes(host)) {
  // build/ holds another architecture's addon, which would shadow the prebuild.
  fs.rmSync(path.join(root, 'build'), { recursive: true, force: true });
  console.log('prebuild: build/ removed (it held a cross build); npm run build:native makes one for this machine');
}
