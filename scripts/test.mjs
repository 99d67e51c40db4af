#!/usr/bin/env node
// `npm test`: the type tests, then the jest projects that fit who runs it —
// root runs unit, common and root (in band); anyone else unit, common and
// rootless.
// Extra arguments go to jest (`npm test -- -t persist`).
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const run = (cmd, args) => {
  const r = spawnSync(process.execPath, [require.resolve(cmd), ...args], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
};

const isRoot = process.getuid() === 0;
// dist/ is what the CLI, example and package tests run: build it from lib/ first.
const built = spawnSync(process.execPath, ['scripts/build-ts.mjs'], { stdio: 'inherit' });
if (built.status !== 0) process.exit(built.status ?? 1);
run('typescript/bin/tsc', ['-p', 'test/types/tsconfig.json']);
// As root, tests make mounts and links in the host's namespaces and check
// after each that nothing leaked: one file at a time, or one file's mount
// would look like another's leak. Unprivileged they cannot touch those.
const band = isRoot ? ['--runInBand'] : [];
run('jest/bin/jest', ['--selectProjects', 'unit', 'common', isRoot ? 'root' : 'rootless', ...band, ...process.argv.slice(2)]);
