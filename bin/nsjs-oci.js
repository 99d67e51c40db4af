#!/usr/bin/env node
'use strict';
// nsjs-oci, the OCI runtime (lib/cli/oci/main.ts, built to dist/cjs/cli/oci/main.js).
// It exits as soon as main() answers: a parked container init is our child
// and must be left to the caller's subreaper, not waited for.
const path = require('node:path');

// Only create and exec start processes and need the library and its addon
// (main.js, loaded as dist/nsjs-oci.js: it and the modules it requires in
// one file, scripts/build-oci.mjs); the other commands, most of
// containerd's calls, load light.js alone, which costs a fraction of the
// start-up. The command is the first word after the global options (those
// that take a value skipped). The native front (build/Release/nsjs-oci,
// src-native/oci/front.cc) serves start, state, kill and delete without
// starting Node at all and execs this file for the rest: point containerd
// at it.
const withValue = new Set(['--root', '--log', '--log-format', '--criu', '--rootless']);
const argv = process.argv.slice(2);
let i = 0;
while (i < argv.length && argv[i].startsWith('-')) i += withValue.has(argv[i]) ? 2 : 1;
const heavy = argv[i] === 'create' || argv[i] === 'exec';
const mainPath = path.join(__dirname, '..', 'dist', ...(heavy ? ['nsjs-oci.js'] : ['cjs', 'cli', 'oci', 'light.js']));
// The bundle is one function expression: compiled here with a V8 code
// cache, as Node's loader would compile a module. The build's
// (nsjs-oci.js.cache) holds what the bundle's top level compiled; the
// functions a create then compiles lazily (its checks, its plan: ~4 ms of
// CPU) go into a second one, nsjs-oci.js.warm, written by the first create
// or exec that found none or had it refused (another Node, a new build),
// where the package can be written.
let bundle;
function loadBundle(file) {
  const fs = require('node:fs');
  const vm = require('node:vm');
  const read = (f) => {
    try {
      return fs.readFileSync(f);
    } catch {
      return undefined;
    }
  };
  const warm = read(`${file}.warm`);
  const script = new vm.Script(fs.readFileSync(file, 'utf8'), { filename: file, cachedData: warm ?? read(`${file}.cache`) });
  bundle = { file, script, stale: warm === undefined || script.cachedDataRejected === true };
  const module = { exports: {} };
  script.runInThisContext()(module.exports, require('node:module').createRequire(file), module, file, path.dirname(file));
  return module.exports;
}
function saveWarmCache() {
  const fs = require('node:fs');
  const tmp = `${bundle.file}.warm.${process.pid}`;
  try {
    fs.writeFileSync(tmp, bundle.script.createCachedData(), { mode: 0o644 });
    fs.renameSync(tmp, `${bundle.file}.warm`);
  } catch {
    // a read-only package: the build's cache serves
    fs.rmSync(tmp, { force: true });
  }
}
let main;
try {
  ({ main } = heavy ? loadBundle(mainPath) : require(mainPath));
} catch (err) {
  process.stderr.write(`nsjs-oci: nsjs is not built (${mainPath}: ${err.message}); run \`npm run build:ts\`\n`);
  process.exit(1);
}
main(argv).then(
  (code) => {
    if (code === 0 && bundle?.stale) saveWarmCache();
    process.exit(code);
  },
  (err) => {
    process.stderr.write(`nsjs-oci: ${err && err.stack ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
