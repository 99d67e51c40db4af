// A second Node process running this tree's lib/ from source, for what the
// jest worker cannot do itself: die by SIGKILL, hold fds without O_CLOEXEC,
// live in another user or mount namespace. lib/ is transpiled on require (as
// ts-jest does for the tests), so the child tests this tree rather than
// whatever dist/ was last built.
import * as path from 'node:path';

export const ROOT = path.resolve(__dirname, '../..');

/**
 * Source for `node -e`: installs the TypeScript loader and binds `nsjs` to
 * lib/index.ts, then runs `body`.
 */
export function withLib(body: string): string {
  return `
    const ts = require(${JSON.stringify(require.resolve('typescript'))});
    require.extensions['.ts'] = (m, file) => m._compile(
      ts.transpileModule(require('fs').readFileSync(file, 'utf8'), { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 } }).outputText,
      file);
    const nsjs = require(${JSON.stringify(path.join(ROOT, 'lib/index.ts'))});
    ${body}
  `;
}
