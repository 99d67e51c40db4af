// A copy of the package in a temporary directory, laid out as installed
// (package.json, binding.gyp, build/Release/{nsjs.node,nsjs-init,nsjs-pid1}, the test
// builds of build-variants/ when NSJS_TEST_ADDON names one, dist/cjs/ from
// this tree's lib/, bin/), for Node processes that must not touch the
// checkout's files (an attack on nsjs-init hits the copy) or that start
// often (lib/ transpiled once, as withLib loads it, not in every process).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ROOT, transpiledLib } from './node';

export interface PackageCopy {
  dir: string;
  /** `require()` this for the package's exports. */
  index: string;
  /** The CLI (bin/nsjs.js). */
  cli: string;
  /** What init: true runs in this copy, nsjs-pid1 or nsjs-init (the test build's when NSJS_TEST_ADDON names one). */
  init: string;
  dispose(): void;
}

export function packageCopy(): PackageCopy {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsjs-pkg-'));
  const copy = (rel: string) => {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.copyFileSync(path.join(ROOT, rel), path.join(dir, rel));
  };
  for (const rel of ['package.json', 'binding.gyp', 'bin/nsjs.js']) copy(rel);
  const variant = process.env.NSJS_TEST_ADDON;
  const dirs = [...(variant ? [`build-variants/${variant}`] : []), 'build/Release'];
  const built = (rel: string) => fs.existsSync(path.join(ROOT, rel));
  // nsjs-pid1 only where it is built (x86-64, arm64).
  for (const d of dirs) for (const f of ['nsjs.node', 'nsjs-init', 'nsjs-pid1']) if (f !== 'nsjs-pid1' || built(`${d}/${f}`)) copy(`${d}/${f}`);
  // As lib/core/native.ts's pid1Binary(): nsjs-pid1 where it is built, else nsjs-init.
  const init = [...dirs.map((d) => `${d}/nsjs-pid1`), ...dirs.map((d) => `${d}/nsjs-init`)].find(built)!;
  fs.cpSync(transpiledLib(), path.join(dir, 'dist', 'cjs'), { recursive: true });
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  return {
    dir,
    index: path.join(dir, 'dist', 'cjs', 'index.js'),
    cli: path.join(dir, 'bin', 'nsjs.js'),
    init: path.join(dir, init),
    dispose: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}
