#!/usr/bin/env node
// `npm run test:valgrind`: scripts/valgrind/loop.cjs (200 spawns of every
// kind, NSJS_VALGRIND_SPAWNS to change) in node under valgrind's memcheck,
// with the test build of the addon (build-variants/test, -g, fault
// injection), built first if stale, as is dist/. Passes when memcheck finds
// no invalid access, no uninitialised value used, no bad free and no
// definitely lost block, in node and in the children between clone and
// execve, and every spawn of the loop did what it should.
//
// How valgrind sees a spawn, and what it cannot see:
//  - clone3 is answered ENOSYS by valgrind (3.19 to 3.24 at least), so nsjs
//    takes its clone(2) fallback: the clone3 path and its asm trampoline
//    never run here (the sanitizer suite covers them).
//  - valgrind turns a vfork-style clone (CLONE_VM|CLONE_VFORK) into a fork:
//    the child runs under memcheck, on a copy of our memory, up to execve;
//    after it, --trace-children=no lets the command run natively.
//  - valgrind 3.19 answers ENOSYS to pidfd_open, pidfd_send_signal and
//    mount_setattr without trying them, and no spawn would get past the
//    clone. scripts/valgrind/syscalls.c, preloaded into node, runs those
//    three natively (their arguments unchecked); it also spares the
//    children their exit-time leak check and registers the child's stack
//    (see there).
//  - one log for every process (--log-fd): children that are pid 1 of a new
//    pid namespace all log as ==1==, one after the other.
//
// What fails the run: node's own exit status from valgrind (--error-exitcode:
// errors, suppressions applied, definite leaks included) and any error
// report of a child (leak reports of children are not made, see above).
// Suppressions: scripts/valgrind/nsjs.supp, each explained there.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

import { stale } from './stale.mjs';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const rel = (...p) => path.join(root, ...p);
const ERROR_EXIT = 99;

function npm(script) {
  console.log(`test:valgrind: npm run ${script}`);
  const r = spawnSync('npm', ['run', script], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

if (spawnSync('valgrind', ['--version']).status !== 0) {
  console.error('test:valgrind: valgrind is not installed (Debian: apt-get install valgrind)');
  process.exit(1);
}

// 1. What the loop loads: the test build of the addon, dist/, the shim.
if (stale(rel('build-variants/test/nsjs.node'), [rel('src-native'), rel('CMakeLists.txt')])) npm('build:test');
if (stale(rel('dist/cjs/index.js'), [rel('lib')])) npm('build:ts');
const shim = rel('build-variants/valgrind/syscalls.so');
if (stale(shim, [rel('scripts/valgrind/syscalls.c')])) {
  fs.mkdirSync(path.dirname(shim), { recursive: true });
  const cc = spawnSync('cc', ['-O2', '-g', '-Wall', '-Wextra', '-Werror', '-shared', '-fPIC', '-o', shim, rel('scripts/valgrind/syscalls.c'), '-ldl'], { stdio: 'inherit' });
  if (cc.status !== 0) process.exit(cc.status ?? 1);
}

// 2. The run, its log in one file for every process.
const logFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'nsjs-valgrind-')), 'memcheck.log');
const log = fs.openSync(logFile, 'a');
const args = [
  '--tool=memcheck',
  '--trace-children=no',
  '--leak-check=full',
  '--show-leak-kinds=definite',
  '--errors-for-leak-kinds=definite',
  `--error-exitcode=${ERROR_EXIT}`,
  '--num-callers=30',
  `--suppressions=${rel('scripts/valgrind/nsjs.supp')}`,
  '--log-fd=3',
  process.execPath,
  rel('scripts/valgrind/loop.cjs'),
];
const started = Date.now();
console.log(`test:valgrind: valgrind ${args.join(' ')}`);
const child = spawn('valgrind', args, {
  cwd: root,
  stdio: ['ignore', 'inherit', 'inherit', log],
  env: { ...process.env, NSJS_TEST_ADDON: 'test', LD_PRELOAD: [shim, process.env.LD_PRELOAD].filter(Boolean).join(' ') },
});
const [code, signal] = await new Promise((resolve) => child.on('close', (c, s) => resolve([c, s])));
fs.closeSync(log);
const seconds = Math.round((Date.now() - started) / 1000);

// 3. The verdict. Lines are "==PID== text"; node is the pid we started.
const lines = fs.readFileSync(logFile, 'utf8').split('\n');
const byPid = new Map();
for (const line of lines) {
  const m = /^==(\d+)== ?(.*)$/.exec(line);
  if (!m) continue;
  const pid = Number(m[1]);
  if (!byPid.has(pid)) byPid.set(pid, []);
  byPid.get(pid).push(m[2]);
}
// An error report starts at an unindented line and runs to the blank line.
const ERROR_START = /^(Invalid (read|write|free)|Conditional jump|Use of uninitialised|Syscall param|Mismatched free|Source and destination overlap|Argument .* of function|Jump to the invalid|Process terminating|[\d,]+ (\([\d,]+ direct, [\d,]+ indirect\) )?bytes in [\d,]+ blocks are definitely lost)/;
function reports(text) {
  const out = [];
  let cur = null;
  for (const l of text) {
    if (cur && l === '') {
      out.push(cur.join('\n'));
      cur = null;
    } else if (cur) cur.push(l);
    else if (ERROR_START.test(l)) cur = [l];
  }
  if (cur) out.push(cur.join('\n'));
  return out;
}
const nodeReports = reports(byPid.get(child.pid) ?? []);
const childReports = [...byPid].filter(([pid]) => pid !== child.pid).flatMap(([pid, text]) => reports(text).map((r) => `pid ${pid} (a child before execve):\n${r}`));
const summary = (byPid.get(child.pid) ?? []).find((l) => l.startsWith('ERROR SUMMARY:'));

console.log('\n==== test:valgrind summary ====');
// Whether a report has a frame of ours, for the reader (both kinds fail).
const ours = (r) => (/nsjs::|\/nsjs\.node\)|src-native\//.test(r) ? ' (nsjs frames)' : ' (no nsjs frame)');
for (const r of [...nodeReports.map((r) => `node${ours(r)}:\n${r}`), ...childReports]) console.log(`---- memcheck ----\n${r}\n`);
const ok = code === 0 && childReports.length === 0;
console.log(`node under memcheck: ${code === 0 ? 'exit 0' : code === ERROR_EXIT ? 'memcheck errors' : `FAILED (${signal ?? `exit ${code}`})`}; ${summary ?? 'no error summary'}`);
console.log(`children before execve: ${byPid.size - 1} log(s), ${childReports.length} error report(s)`);
console.log(`log: ${logFile}${ok ? '' : ' (kept)'}`);
console.log(`time: ${seconds}s`);
if (ok) fs.rmSync(path.dirname(logFile), { recursive: true, force: true });
process.exit(ok ? 0 : 1);
