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
  // test/types/api.ts (uses that must compile, misuse under @ts-expect-error
  // that must not) compiled as a dependent project compiles it, through
  // package.json exports: as ESM and as CJS under nodenext, and under
  // bundler resolution; with skipLibCheck off, so that a declaration that
  // names something stripInternal removed fails here.
  const api = fs.readFileSync(path.join(root, 'test/types/api.ts'), 'utf8');
  it.each([
    ['nodenext', { module: 'nodenext', moduleResolution: 'nodenext' }, ['api.mts', 'api.cts'], ['index.d.mts', 'index.d.ts']],
    ['bundler', { module: 'esnext', moduleResolution: 'bundler' }, ['api.ts'], ['index.d.mts']],
  ])('%s: ESM gets index.d.mts, CJS index.d.ts; the uses compile and the misuse does not', (name, resolution, files, resolved) => {
    const dir = path.join(consumer, name);
    fs.mkdirSync(dir, { recursive: true });
    for (const file of files) fs.writeFileSync(path.join(dir, file), api);
    fs.writeFileSync(
      path.join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { ...resolution, target: 'es2022', strict: true, noEmit: true, skipLibCheck: false, types: ['node'], typeRoots: [path.join(root, 'node_modules/@types')], lib: ['es2022', 'esnext.disposable'] },
        files,
      }),
    );
    const trace = run(process.execPath, [tsc, '-p', path.join(dir, 'tsconfig.json'), '--traceResolution'], dir);
    const targets = [...trace.matchAll(/======== Module name 'nsjs' was successfully resolved to '([^']*)'/g)].map((m) => path.basename(m[1]));
    expect([...new Set(targets)].sort()).toEqual([...resolved].sort());
  }, 120_000);

  it('internals are not in the published declarations', () => {
    const declarations = (dir: string): string[] =>
      fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? declarations(path.join(dir, e.name)) : e.name.endsWith('.d.ts') || e.name.endsWith('.d.mts') ? [path.join(dir, e.name)] : []));
    const text = declarations(path.join(root, 'types')).map((f) => fs.readFileSync(f, 'utf8')).join('\n');
    for (const internal of ['spawnChecked', 'spawnCheckedSync', 'testHooks', 'detach(', 'fromPidfd', 'terminate(', 'snapshotOptions', '@internal']) expect([internal, text.includes(internal)]).toEqual([internal, false]);
    // Whatever trailing underscore a parameter had to dodge a name, the reference shows none.
    expect(text.match(/\b\w+_\??:/g)).toBeNull();
  });
});

// The prebuilt platforms: node-gyp-build loads prebuilds/<platform>-<arch>/,
// and lib/core/native.ts finds nsjs-init beside the addon.
const prebuilt = { 'linux-x64': 62, 'linux-arm64': 183 }; // ELF e_machine: EM_X86_64, EM_AARCH64

describe('published files', () => {
  it('npm pack ships LICENSE, the builds, types, sources, build files and both prebuilds, and no tests or benches', () => {
    const [pack] = JSON.parse(run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], root)) as { files: { path: string; mode: number }[] }[];
    const files = pack.files.map((f) => f.path);
    const prebuilds = Object.keys(prebuilt).flatMap((dir) => [`prebuilds/${dir}/nsjs.glibc.node`, `prebuilds/${dir}/nsjs-init`, `prebuilds/${dir}/nsjs-pid1`]);
    expect(files).toEqual(
      expect.arrayContaining([
        'LICENSE',
        'bin/nsjs.js',
        'dist/cjs/index.js',
        'dist/esm/index.mjs',
        'types/index.d.ts',
        'types/index.d.mts',
        'binding.gyp',
        'CMakeLists.txt',
        'src-native/addon.cc',
        'package.json',
        'README.md',
        ...prebuilds,
      ]),
    );
    // init: true execs nsjs-pid1, a sandbox command nsjs-init: they must unpack executable.
    for (const f of pack.files.filter((f) => /\/nsjs-(init|pid1)$/.test(f.path))) expect([f.path, f.mode & 0o111]).toEqual([f.path, 0o111]);
    const unwanted = /^(test|bench|\.ci|scripts|examples|node_modules|build|build-variants|coverage|docs)\/|\.tgz$/;
    expect(files.filter((f) => unwanted.test(f))).toEqual([]);
  }, 60_000);

  it.each(Object.entries(prebuilt))('prebuilds/%s holds an addon and a static nsjs-init and nsjs-pid1 for that architecture', (dir, machine) => {
    // Read from the ELF header and program headers: a cross build that fell
    // back to the host compiler, or an nsjs-init that needs a dynamic loader
    // (it runs inside mount namespaces that may hide libc), fails here.
    const elf = (file: string) => {
      const b = fs.readFileSync(path.join(root, 'prebuilds', dir, file));
      expect(b.subarray(0, 4).toString('latin1')).toBe('\x7fELF');
      const phoff = Number(b.readBigUInt64LE(32));
      const interp = Array.from({ length: b.readUInt16LE(56) }, (_, i) => b.readUInt32LE(phoff + i * b.readUInt16LE(54))).includes(3); // PT_INTERP
      return { class64: b[4] === 2, machine: b.readUInt16LE(18), interp };
    };
    expect(elf('nsjs.glibc.node')).toEqual({ class64: true, machine, interp: false });
    expect(elf('nsjs-init')).toEqual({ class64: true, machine, interp: false });
    expect(elf('nsjs-pid1')).toEqual({ class64: true, machine, interp: false });
  });

  it('package.json says what a registry page and a consumer install need', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
    expect(pkg.license).toBe('MIT');
    expect(fs.readFileSync(path.join(root, 'LICENSE'), 'utf8')).toMatch(/^MIT License\n\nCopyright \(c\) \d{4} /);
    expect(pkg.repository).toEqual({ type: 'git', url: expect.stringMatching(/^git\+https:\/\/.+\.git$/) });
    const home = pkg.repository.url.replace(/^git\+/, '').replace(/\.git$/, '');
    expect([pkg.homepage, pkg.bugs]).toEqual([`${home}#readme`, { url: `${home}/issues` }]);
    expect(pkg.engines).toEqual({ node: '>=18' });
    // dist/ and types/ are built when packed (and for a git dependency), not
    // by every install: `prepare` would also run for a tarball or git
    // install, where npm 11 asks for approval of it as an install script.
    expect(pkg.scripts.prepare).toBeUndefined();
    expect(pkg.scripts.prepack).toBe('npm run build:ts');
    // The only install script: a no-op where a prebuild loads, the compile
    // fallback elsewhere.
    expect([pkg.scripts.preinstall, pkg.scripts.install, pkg.scripts.postinstall]).toEqual([undefined, 'node-gyp-build', undefined]);
  });

  it('npm pack output is ignored by git', () => {
    // safe.directory: whoever owns the checkout, as npm test may run as another user.
    expect(run('git', ['-c', 'safe.directory=*', 'check-ignore', 'nsjs-0.1.0.tgz'], root).trim()).toBe('nsjs-0.1.0.tgz');
  });

  it('bin/nsjs.js is an executable node script', () => {
    const bin = path.join(root, 'bin/nsjs.js');
    expect(fs.statSync(bin).mode & 0o111).toBe(0o111);
    expect(fs.readFileSync(bin, 'utf8').split('\n')[0]).toBe('#!/usr/bin/env node');
  });
});

describe('native build files', () => {
  interface GypFlags {
    cflags?: string[];
    cflags_cc?: string[];
    'cflags!'?: string[];
    'cflags_cc!'?: string[];
    conditions?: [string, GypFlags][];
  }
  interface GypTarget extends GypFlags {
    target_name: string;
    sources: string[];
    defines?: string[];
    dependencies?: string[];
  }
  // gyp files are Python literals: drop the comments and it is JSON.
  const gypText = () => fs.readFileSync(path.join(root, 'binding.gyp'), 'utf8').replace(/^\s*#.*$/gm, '');
  // With the targets of the top-level conditions (nsjs-pid1: x64 and arm64).
  const gyp = () => {
    const g = JSON.parse(gypText()) as { target_defaults?: GypFlags; targets: GypTarget[]; conditions?: [string, { targets: GypTarget[] }][] };
    return { ...g, targets: [...g.targets, ...(g.conditions ?? []).flatMap(([, c]) => c.targets)] };
  };
  const cmake = () => fs.readFileSync(path.join(root, 'CMakeLists.txt'), 'utf8').replace(/#.*$/gm, '');
  const block = (text: string, command: string) => /\(([^)]*)\)/.exec(text.slice(text.indexOf(command)))?.[1].split(/\s+/).filter(Boolean) ?? [];

  it('CMakeLists.txt builds the sources and defines of binding.gyp', () => {
    const targets = gyp().targets;
    const target = (name: string) => targets.find((t) => t.target_name === name);
    const text = cmake();
    const defines = block(text, 'set(NSJS_DEFINES').slice(1);
    const sources = (command: string) => block(text, command).filter((s) => s.endsWith('.cc'));
    // The addon is its own sources and the child's half, which nsjs-init links too.
    expect(target('nsjs')?.dependencies).toEqual(['nsjs-child']);
    expect(target('nsjs-init')?.dependencies).toEqual(['nsjs-child']);
    expect(sources('add_library(nsjs SHARED').sort()).toEqual([...(target('nsjs')?.sources ?? [])].sort());
    expect(sources('add_library(nsjs-child OBJECT').sort()).toEqual([...(target('nsjs-child')?.sources ?? [])].sort());
    expect(sources('add_executable(nsjs-pid1').sort()).toEqual([...(target('nsjs-pid1')?.sources ?? ['missing'])].sort());
    expect(block(text, 'add_library(nsjs SHARED')).toContain('$<TARGET_OBJECTS:nsjs-child>');
    expect(block(text, 'target_compile_definitions(nsjs PRIVATE')).toEqual(['nsjs', 'PRIVATE', '${NSJS_DEFINES}']);
    expect(block(text, 'target_compile_definitions(nsjs-child PRIVATE')).toEqual(['nsjs-child', 'PRIVATE', '${NSJS_DEFINES}']);
    // Both compile the child's objects as the addon's own: one set of defines.
    expect(defines).toEqual(expect.arrayContaining(target('nsjs')?.defines ?? ['missing']));
    expect([...(target('nsjs-child')?.defines ?? [])].sort()).toEqual([...defines].sort());
  });

  it('CMakeLists.txt compiles each target with the flags binding.gyp gives it', () => {
    // gyp merges target_defaults into each target, then a "!" list filters
    // the merged list: a flag named there is gone even where a target adds it.
    const { target_defaults: defaults = {}, targets } = gyp();
    const flags = (t: GypFlags) => {
      const all = [defaults, t].flatMap((f) => [...(f.cflags ?? []), ...(f.cflags_cc ?? [])]);
      const dropped = new Set([defaults, t].flatMap((f) => [...(f['cflags!'] ?? []), ...(f['cflags_cc!'] ?? [])]));
      // CMake says -std=c++17 as CMAKE_CXX_STANDARD 17 without extensions.
      return [...new Set(all.filter((f) => !dropped.has(f) && f !== '-std=c++17'))].sort();
    };
    const text = cmake();
    const warnings = block(text, 'set(NSJS_WARNINGS').slice(1);
    for (const t of targets) {
      const options = block(text, `target_compile_options(${t.target_name} PRIVATE`).slice(2);
      expect([t.target_name, options.flatMap((o) => (o === '${NSJS_WARNINGS}' ? warnings : [o])).sort()]).toEqual([t.target_name, flags(t)]);
    }
  });

  it('warnings are errors only where our CI asks for it (NSJS_WERROR), never in a user\'s build', () => {
    // A user's compiler or headers, newer than ours, must not fail the
    // compile fallback on a warning; .ci/run builds with NSJS_WERROR=1.
    const { variables, target_defaults: defaults = {}, targets } = gyp() as ReturnType<typeof gyp> & { variables: Record<string, string> };
    for (const f of [defaults, ...targets]) expect([...(f.cflags ?? []), ...(f.cflags_cc ?? [])]).not.toContain('-Werror');
    expect(variables['nsjs_werror%']).toContain('process.env.NSJS_WERROR');
    expect(defaults.conditions).toEqual([['nsjs_werror==1', { cflags: ['-Werror'] }]]);
    const text = cmake();
    expect(text.match(/-Werror\b/g)).toHaveLength(1);
    expect(text).toMatch(/option\(NSJS_WERROR "[^"]*" OFF\)/);
    expect(text).toMatch(/\nif\(NSJS_WERROR OR "\$ENV\{NSJS_WERROR\}" STREQUAL "1"\)\n\s*list\(APPEND NSJS_WARNINGS -Werror\)\nendif\(\)/);
    expect(fs.readFileSync(path.join(root, '.ci', 'run'), 'utf8')).toMatch(/^export NSJS_WERROR=1$/m);
  });
});
