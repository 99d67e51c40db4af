#!/usr/bin/env node
// `npm run build:ts`: dist/cjs, types/ and the ESM wrapper from lib/, into
// emptied folders. tsc only adds and overwrites, so a file that lib/ no
// longer has (lib/net.ts, before it became lib/net/) would stay in dist/ and
// shadow the folder that replaced it (require('./net') takes net.js first).
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
for (const dir of ['dist', 'types']) rmSync(dir, { recursive: true, force: true });
for (const [cmd, args] of [[require.resolve('typescript/bin/tsc'), ['-p', 'tsconfig.build.json']], ['scripts/build-esm.mjs', []], ['scripts/build-oci.mjs', []]]) {
  const r = spawnSync(process.execPath, [cmd, ...args], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
