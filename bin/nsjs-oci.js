#!/usr/bin/env node
'use strict';
// nsjs-oci, the OCI runtime (lib/cli/oci/main.ts, built to dist/cjs/cli/oci/main.js).
// It exits as soon as main() answers: a parked container init is our child
// and must be left to the caller's subreaper, not waited for.
const path = require('node:path');

const mainPath = path.join(__dirname, '..', 'dist', 'cjs', 'cli', 'oci', 'main.js');
let main;
try {
  ({ main } = require(mainPath));
} catch (err) {
  process.stderr.write(`nsjs-oci: nsjs is not built (${mainPath}: ${err.message}); run \`npm run build:ts\`\n`);
  process.exit(1);
}
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`nsjs-oci: ${err && err.stack ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
