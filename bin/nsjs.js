#!/usr/bin/env node
'use strict';
// The command line lives in lib/cli/main.ts (built to dist/cjs/cli/main.js); this shim
// only hands it the arguments and makes its result the exit status, as
// util-linux's unshare/nsenter exit with the command's status.
const fs = require('node:fs');
const path = require('node:path');

const cliPath = path.join(__dirname, '..', 'dist', 'cjs', 'cli', 'main.js');
if (!fs.existsSync(cliPath)) {
  const built = fs.existsSync(path.join(__dirname, '..', 'dist', 'cjs', 'index.js'));
  process.stderr.write(
    built
      ? `nsjs: this build of nsjs has no command line yet (${cliPath} is missing)\n`
      : `nsjs: nsjs is not built (${cliPath} is missing); run \`npm run build:ts\` in ${path.join(__dirname, '..')}\n`,
  );
  process.exit(1);
}

Promise.resolve()
  .then(() => require(cliPath).main(process.argv.slice(2)))
  .then(
    (code) => {
      process.exitCode = typeof code === 'number' ? code : 0;
    },
    (err) => {
      process.stderr.write(`nsjs: ${err && err.stack ? err.stack : String(err)}\n`);
      process.exitCode = 1;
    },
  );
