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

module.exports = {
  cacheDirectory: path.join(os.tmpdir(), `nsjs-jest-${process.getuid()}`),
  testTimeout: 30000,
  projects: ['unit', 'common', 'root', 'rootless'].map(project),
};
