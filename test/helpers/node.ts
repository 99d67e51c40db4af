// A second Node process running this tree's lib/ from source, for what the
// jest worker cannot do itself: die by SIGKILL, hold fds without O_CLOEXEC,
// live in another user or mount namespace. lib/ is transpiled (as ts-jest
// does for the tests), so the child tests this tree rather than whatever
// dist/ was last built.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const ROOT = path.resolve(__dirname, '../..');

const LIB = path.join(ROOT, 'lib');
// As the child's hook once called it for each file it required.
const COMPILER_OPTIONS = { module: 'CommonJS', target: 'ES2022' } as const;

function sources(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? sources(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []))
    .sort();
}

let transpiled: string | undefined;

/**
 * lib/ transpiled once per content, beside jest's own cache (jest.config.js),
 * for every child of every test file (and for packageCopy's dist/cjs/): loading TypeScript and transpiling
 * lib/ in each child cost it about 3 s of CPU (4.5 s on the sanitizers'
 * node). Named by a hash of lib/'s sources, TypeScript's version and the
 * options, so an edit of lib/ makes a new one; made under a name of its
 * own and renamed into place, so a worker beside never reads half of it.
 */
export function transpiledLib(): string {
  if (transpiled) return transpiled;
  const files = sources(LIB);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const tsVersion = (require('typescript/package.json') as { version: string }).version;
  const hash = createHash('sha256').update(`${tsVersion}\0${JSON.stringify(COMPILER_OPTIONS)}\0`);
  for (const f of files) hash.update(`${path.relative(LIB, f)}\0${fs.readFileSync(f, 'utf8')}\0`);
  const dir = path.join(os.tmpdir(), `nsjs-jest-${process.getuid!()}`, `lib-${hash.digest('hex').slice(0, 20)}`);
  if (!fs.existsSync(dir)) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const ts = require('typescript') as typeof import('typescript');
    const compilerOptions = { module: ts.ModuleKind[COMPILER_OPTIONS.module], target: ts.ScriptTarget[COMPILER_OPTIONS.target] };
    const tmp = `${dir}.${process.pid}.tmp`;
    fs.rmSync(tmp, { recursive: true, force: true });
    for (const f of files) {
      const out = path.join(tmp, path.relative(LIB, f).replace(/\.ts$/, '.js'));
      fs.mkdirSync(path.dirname(out), { recursive: true });
      fs.writeFileSync(out, ts.transpileModule(fs.readFileSync(f, 'utf8'), { compilerOptions }).outputText);
    }
    try {
      fs.renameSync(tmp, dir);
    } catch (err) {
      // Another worker renamed its copy first: the same content.
      fs.rmSync(tmp, { recursive: true, force: true });
      if (!fs.existsSync(dir)) throw err;
    }
  }
  transpiled = dir;
  return dir;
}

/**
 * Source for `node -e`: installs a loader of lib/'s transpiled files for
 * lib/'s .ts files (so that __dirname, stacks and the package root are
 * lib/'s own) and binds `nsjs` to lib/index.ts, then runs `body`.
 */
export function withLib(body: string): string {
  return `
    const lib = ${JSON.stringify(LIB)};
    const transpiled = ${JSON.stringify(transpiledLib())};
    require.extensions['.ts'] = (m, file) => m._compile(
      require('fs').readFileSync(require('path').join(transpiled, require('path').relative(lib, file).replace(/\\.ts$/, '.js')), 'utf8'),
      file);
    const nsjs = require(${JSON.stringify(path.join(LIB, 'index.ts'))});
    ${body}
  `;
}
