// The package as users get it: built with `npm run build:ts`, loaded by name
// through package.json `exports` from real `node` processes (jest's own module
// system would not exercise Node's resolver), and typed through `types`.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const root = path.resolve(__dirname, '../..');
const tsc = require.resolve('typescript/bin/tsc');

function run(cmd: string, args: string[], cwd: string): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status ?? r.signal}\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

const node = (args: string[], cwd = root): string => run(process.execPath, args, cwd);

interface Loaded {
  esmNames: string[];
  cjsNames: string[];
  identical: string[];
  defaultIsCjs: boolean;
  importPath: string;
  requirePath: string;
}

// ESM importing by name, and CJS requiring by name, in one process, so that
// object identity across the two can be compared.
const probe = `
import * as esm from 'nsjs';
import { Namespace } from 'nsjs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
const require = createRequire(import.meta.url);
const cjs = require('nsjs');
const esmNames = Object.keys(esm).filter((n) => n !== 'default').sort();
console.log(JSON.stringify({
  esmNames,
  cjsNames: Object.keys(cjs).sort(),
  identical: esmNames.filter((n) => esm[n] === cjs[n] && (n !== 'Namespace' || Namespace === cjs.Namespace)),
  defaultIsCjs: esm.default === cjs,
  importPath: fileURLToPath(import.meta.resolve('nsjs')),
  requirePath: require.resolve('nsjs'),
}));
`;

let consumer: string;

beforeAll(() => {
  // The published files are build outputs: test the current sources' build.
  run('npm', ['run', '--silent', 'build:ts'], root);
  consumer = fs.mkdtempSync(path.join(os.tmpdir(), 'nsjs-consumer-'));
  fs.mkdirSync(path.join(consumer, 'node_modules'));
  fs.symlinkSync(root, path.join(consumer, 'node_modules', 'nsjs'), 'dir');
}, 180_000);

afterAll(() => {
  if (consumer) fs.rmSync(consumer, { recursive: true, force: true });
});

describe('loading by package name', () => {
  it.each([
    ['inside the package (self-reference)', () => root],
    ['from a dependent package', () => consumer],
  ])('import and require give the same exports %s', (_where, dir) => {
    const out = JSON.parse(node(['--input-type=module', '-e', probe], dir())) as Loaded;
    expect(out.esmNames).toEqual(out.cjsNames);
    expect(out.cjsNames).toEqual(expect.arrayContaining(['Namespace', 'NsError', 'Process', 'sys', 'waitpid']));
    expect(out.identical).toEqual(out.cjsNames);
    expect(out.defaultIsCjs).toBe(true);
    expect(fs.realpathSync(out.importPath)).toBe(path.join(root, 'dist/esm/index.mjs'));
    expect(fs.realpathSync(out.requirePath)).toBe(path.join(root, 'dist/cjs/index.js'));
  });

  it('loads without the native addon until a syscall is made', () => {
    // `import 'nsjs'` must work where the addon cannot load (other platforms,
    // a failed build): loading is deferred to the first call.
    const out = node(['-e', "require('nsjs'); console.log(Object.keys(require.cache).some((f) => f.endsWith('.node')))"], consumer);
    expect(out.trim()).toBe('false');
  });

  it('an error class is the same class in both module systems', () => {
    const script = "const { NsError } = require('nsjs'); import('nsjs').then((m) => console.log(m.NsError === NsError && new m.NsError({ errno: -2, syscall: 'open' }) instanceof NsError))";
    expect(node(['-e', script], consumer).trim()).toBe('true');
  });
});

describe('types', () => {
  it('resolve through exports for ESM and CJS consumers, and reject misuse', () => {
    fs.writeFileSync(
      path.join(consumer, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { module: 'node16', moduleResolution: 'node16', target: 'es2022', strict: true, noEmit: true, types: ['node'], typeRoots: [path.join(root, 'node_modules/@types')], lib: ['es2022', 'esnext.disposable'] },
        files: ['esm.mts', 'cjs.cts'],
      }),
    );
    // A misuse that must fail proves the types resolved: an unresolved module
    // would be an error of its own, not the one expected here.
    fs.writeFileSync(
      path.join(consumer, 'esm.mts'),
      "import { Namespace, type NamespaceType } from 'nsjs';\nconst t: NamespaceType = 'net';\nexport const s: string = Namespace.current(t).toString();\n// @ts-expect-error not a namespace type\nNamespace.current('bogus');\n",
    );
    fs.writeFileSync(
      path.join(consumer, 'cjs.cts'),
      "import nsjs = require('nsjs');\nexport const w: Promise<nsjs.ExitStatus> = nsjs.waitpid(1);\n// @ts-expect-error waitpid needs a pid\nnsjs.waitpid();\n",
    );
    const trace = run(process.execPath, [tsc, '-p', path.join(consumer, 'tsconfig.json'), '--traceResolution'], consumer);
    expect(trace).toMatch(/======== Module name 'nsjs' was successfully resolved to '[^']*\/types\/index\.d\.ts'/);
  }, 60_000);
});

describe('published files', () => {
  it('npm pack ships the builds, types, sources and build files, and no tests', () => {
    const [pack] = JSON.parse(run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], root)) as { files: { path: string }[] }[];
    const files = pack.files.map((f) => f.path);
    expect(files).toEqual(
      expect.arrayContaining([
        'bin/nsjs.js',
        'dist/cjs/index.js',
        'dist/esm/index.mjs',
        'types/index.d.ts',
        'binding.gyp',
        'CMakeLists.txt',
        'src-native/addon.cc',
        'package.json',
        'README.md',
      ]),
    );
    expect(files.filter((f) => f.startsWith('test/') || f.startsWith('.ci/') || f.startsWith('node_modules/'))).toEqual([]);
  }, 60_000);

  it('bin/nsjs.js is an executable node script', () => {
    const bin = path.join(root, 'bin/nsjs.js');
    expect(fs.statSync(bin).mode & 0o111).toBe(0o111);
    expect(fs.readFileSync(bin, 'utf8').split('\n')[0]).toBe('#!/usr/bin/env node');
  });
});

describe('native build files', () => {
  it('CMakeLists.txt builds the sources and defines of binding.gyp', () => {
    // gyp files are Python literals: drop the comments and it is JSON.
    const gypText = fs.readFileSync(path.join(root, 'binding.gyp'), 'utf8').replace(/^\s*#.*$/gm, '');
    const gyp = JSON.parse(gypText) as { targets: { target_name: string; sources: string[]; defines: string[] }[] };
    const target = gyp.targets.find((t) => t.target_name === 'nsjs');
    const cmake = fs.readFileSync(path.join(root, 'CMakeLists.txt'), 'utf8').replace(/#.*$/gm, '');
    const block = (command: string) => /\(([^)]*)\)/.exec(cmake.slice(cmake.indexOf(command)))?.[1].split(/\s+/).filter(Boolean) ?? [];
    expect(block('add_library(nsjs').filter((s) => s.endsWith('.cc')).sort()).toEqual([...(target?.sources ?? [])].sort());
    expect(block('target_compile_definitions(nsjs')).toEqual(expect.arrayContaining(target?.defines ?? ['missing']));
  });
});
