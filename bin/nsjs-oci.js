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
// The bundle is one function expression: compiled here with the code cache
// made at build time, as Node's loader would compile a module.
function loadBundle(file) {
  const fs = require('node:fs');
  const vm = require('node:vm');
  let cachedData;
  try {
    cachedData = fs.readFileSync(`${file}.cache`);
  } catch {
    // no cache: compiled from source
  }
  const module = { exports: {} };
  new vm.Script(fs.readFileSync(file, 'utf8'), { filename: file, cachedData }).runInThisContext()(module.exports, require('node:module').createRequire(file), module, file, path.dirname(file));
  return module.exports;
}
let main;
try {
  ({ main } = heavy ? loadBundle(mainPath) : require(mainPath));
} catch (err) {
  process.stderr.write(`nsjs-oci: nsjs is not built (${mainPath}: ${err.message}); run \`npm run build:ts\`\n`);
  process.exit(1);
}
main(argv).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`nsjs-oci: ${err && err.stack ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
