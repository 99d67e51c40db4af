#!/usr/bin/env node
// `npm run prebuild`, second half: prebuildify ships only the .node file, but
// init: true execs nsjs-init, which lib/native.ts looks for next to the
// prebuild when there is no build/. Copied stripped (it is static: any
// glibc or musl system of this architecture runs it).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const from = path.join('build', 'Release', 'nsjs-init');
const dir = path.join('prebuilds', `${process.platform}-${process.arch}`);
const to = path.join(dir, 'nsjs-init');
if (!fs.existsSync(from)) throw new Error(`${from} is missing: prebuildify should have built it with the addon`);
fs.mkdirSync(dir, { recursive: true });
const r = spawnSync('strip', ['-o', to, from], { stdio: 'inherit' });
if (r.status !== 0) fs.copyFileSync(from, to); // no binutils: unstripped works too
fs.chmodSync(to, 0o755);
console.log(`prebuild-init: ${to} (${fs.statSync(to).size} bytes)`);
