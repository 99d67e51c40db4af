// A copy of the package in a temporary directory, laid out as installed
// (package.json, binding.gyp, build/Release/{nsjs.node,nsjs-init}, the test
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
  /** The nsjs-init this copy runs (the test build's when NSJS_TEST_ADDON names one). */
  init: string;
  dispose(): void;
}

export function packageCopy(): PackageCopy {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsjs-pkg-'));
  const copy = (rel: string) => {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.copyFileSync(path.join(ROOT, rel), path.join(dir, rel));
  };
  for (const rel of ['package.json', 'binding.gyp', 'bin/nsjs.js', 'build/Release/nsjs.node', 'build/Release/nsjs-init']) copy(rel);
  const variant = process.env.NSJS_TEST_ADDON;
  if (variant) for (const f of ['nsjs.node', 'nsjs-init']) copy(`build-variants/${variant}/${f}`);
  fs.cpSync(transpiledLib(), path.join(dir, 'dist', 'cjs'), { recursive: true });
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  return {
    dir,
    index: path.join(dir, 'dist', 'cjs', 'index.js'),
    cli: path.join(dir, 'bin', 'nsjs.js'),
    init: path.join(dir, variant ? `build-variants/${variant}` : 'build/Release', 'nsjs-init'),
    dispose: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}
