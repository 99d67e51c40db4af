// One project per room of privilege: `unit` needs no kernel features,
// `common` runs both as root and as an ordinary user, `root` needs root,
// `rootless` runs as an ordinary user (CI: uid 65534). scripts/test.mjs picks
// the projects that fit who is running.
const os = require('node:os');
const path = require('node:path');

const transform = { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] };
const project = (name) => ({
  displayName: name,
  testEnvironment: 'node',
  testMatch: [`<rootDir>/test/${name}/**/*.test.ts`],
  transform,
});

// Hardening projects, run by their own scripts rather than `npm test`:
// `faults` (npm run test:faults) needs the fault-injection build, which its
// setup file selects.
const faults = {
  ...project('faults'),
  setupFiles: ['<rootDir>/test/faults/setup.js'],
};
// `soak` (npm run test:soak): 10,000 spawns in one process, then fds,
// children, mounts, links and RSS against the start; under a minute.
// `fuzz` (npm run test:fuzz): 100,000 generated option objects through
// checkOptions, 2,000 valid and 2,000 invalid ones also spawned, getters,
// Proxies and Object.prototype keys among them; about 45 s.
// Each sets its own test timeout.
const soak = project('soak');
const fuzz = project('fuzz');

module.exports = {
  cacheDirectory: path.join(os.tmpdir(), `nsjs-jest-${process.getuid()}`),
  testTimeout: 30000,
  projects: [...['unit', 'common', 'root', 'rootless'].map(project), faults, soak, fuzz],
};
