#!/usr/bin/env node
// `npm run test:sanitize`: the jest suite against the AddressSanitizer +
// UndefinedBehaviorSanitizer build of the addon (build-variants/sanitize,
// CMakeLists.txt NSJS_VARIANT=sanitize), built first if missing or older
// than its sources. Root runs unit, common and root (in band), anyone else
// unit, common and rootless; and the faults project, whose fault injection
// the sanitize build has too, so every error path of a spawn runs
// instrumented, and the soak (10,000 mixed spawns, 16 at a time: the
// async paths under load; under a minute with ASan too). Fails on any test
// failure and on any sanitizer report. Extra arguments go to every jest run
// (`npm run test:sanitize -- -t mount`), which then passes with no tests.
//
// Node is not instrumented; the addon is, and ASan refuses to load unless
// its runtime comes before libc. Not LD_PRELOAD: that reaches every command
// the tests run (their env defaults to ours), and procps (pgrep, ps) hangs
// with libasan preloaded, sh's `kill -SEGV $$` becomes an ASan report. So
// the suite runs on a copy of this node, build-variants/sanitize/node, with
// libasan as its first DT_NEEDED (patchelf --add-needed): every node that
// process.execPath starts (jest workers, the CLI and examples the tests run)
// has the runtime, and no other program does.
//
// Where reports go: every sanitized process (node, and the nsjs child
// between clone and execve) writes its report to a file of its own in a
// fresh directory, named by program and pid (log_path, log_exe_name), and
// this script fails if any file appears. A file rather than stderr because
// the child may already have installed the command's stdio (a pipe a test
// reads, /dev/null) when it finds a bug. Should a child have lost sight of
// the directory (it mounted over /tmp, pivot_root), ASan writes "Can't open
// file" to its stderr and the child dies: jest's output is also searched for
// sanitizer messages. (UBSan, a runtime of its own with gcc, wrote a child's
// message to stderr and only its SUMMARY line to the file when tried: the
// file is enough to fail the run.) A child that is pid 1 of a new pid namespace writes
// report.node.1, as may another: the file may hold the last one only.
//
// A report in a vfork-style child (CLONE_VM) is made with the parent's
// memory, so with the parent's sanitizer runtime state: its report lock and
// "already dying" flag stay set, and the parent's own next report may hang
// rather than die. Hence a time limit on each jest run (NSJS_SANITIZE_TIMEOUT,
// seconds, default 600; the root suite takes about 7 minutes on 2 cores in
// one piece).
//
// As root the suite runs in band (one file's mount would look like another's
// leak), which leaves a core idle for most of 7 minutes. So it is cut into
// lanes (NSJS_SANITIZE_SHARDS, default: one per CPU, at most 4), run at
// once, each in band inside a private mount and network namespace of its
// own (unshare, lo up), where no lane sees another's mounts or links;
// cgroups are named by pid, so the leak checks stay exact. The unit project
// runs alone before them (its package test rebuilds dist/). The lanes share
// the files of common, root, faults and soak by their measured time
// (scripts/sanitize-sequencer.cjs, jest --shard with a sequencer of ours:
// jest's own splits by a hash of the path, which left 309 s beside 240 s).
// Each run's output is printed whole when it ends, not interleaved, with
// its time. NSJS_SANITIZE_DURATIONS=FILE writes the times of this run's
// files there, in the form scripts/sanitize-durations.json has (remake that
// file so when the suite has changed much).
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

import { stale } from './stale.mjs';

const require = createRequire(import.meta.url);
const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const variant = path.join(root, 'build-variants', 'sanitize');
const addon = path.join(variant, 'nsjs.node');
const extra = process.argv.slice(2);
const timeout = Number(process.env.NSJS_SANITIZE_TIMEOUT ?? 600) * 1000; // per jest run

// 1. The build, when missing or older than anything it is made from.
const sources = ['src-native', 'CMakeLists.txt'].map((p) => path.join(root, p));
if (stale(addon, sources)) {
  console.log('test:sanitize: building build-variants/sanitize (npm run build:sanitize)');
  const b = spawnSync('npm', ['run', 'build:sanitize'], { cwd: root, stdio: 'inherit' });
  if (b.status !== 0) process.exit(b.status ?? 1);
}

// 2. The runtime the addon was linked against, exactly (ldd), and a node
// that loads it first (see the top), remade when either changes.
const ldd = spawnSync('ldd', [addon], { encoding: 'utf8' });
const runtime = (name) => new RegExp(`^\\s*(${name}\\.so\\S*)\\s+=>\\s+(\\S+)`, 'm').exec(ldd.stdout ?? '');
const asan = runtime('libasan');
if (!asan || !runtime('libubsan')) {
  console.error(`test:sanitize: ${addon} does not link libasan and libubsan (ldd says:\n${ldd.stdout}${ldd.stderr})`);
  process.exit(1);
}
const realNode = fs.realpathSync(process.execPath);
const node = path.join(variant, 'node');
if (!fs.existsSync(node) || fs.statSync(node).mtimeMs < Math.max(fs.statSync(realNode).mtimeMs, fs.statSync(asan[2]).mtimeMs)) {
  fs.copyFileSync(realNode, `${node}.tmp`);
  fs.chmodSync(`${node}.tmp`, 0o755);
  const p = spawnSync('patchelf', ['--add-needed', asan[1], `${node}.tmp`], { stdio: 'inherit' });
  if (p.error || p.status !== 0) {
    console.error(`test:sanitize: patchelf failed${p.error ? ` (${p.error.message})` : ''}; install it (Debian: apt-get install patchelf)`);
    process.exit(1);
  }
  fs.renameSync(`${node}.tmp`, node);
}
const first = (spawnSync('ldd', [node], { encoding: 'utf8' }).stdout ?? '').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('linux-vdso'))[0];
if (!first?.startsWith('libasan')) {
  console.error(`test:sanitize: ${node} does not load libasan first (ldd: ${first})`);
  process.exit(1);
}

// 3. Options. Sticky and world-writable like /tmp: children may have
// switched to another uid (user: 'nobody') before they report.
const reports = fs.mkdtempSync(path.join(os.tmpdir(), 'nsjs-sanitize-'));
fs.chmodSync(reports, 0o1777);
const common = [
  'halt_on_error=1', // the first error ends the process...
  'abort_on_error=1', // ...by SIGABRT, so that a dead child is told from exit 1
  `log_path=${reports}/report`,
  'log_exe_name=1',
  'print_summary=1',
];
const asanOptions = [
  ...common,
  // LeakSanitizer off. Node does not free its heap, V8's isolate or the
  // platform at exit by design, and jest ends workers with process.exit: a
  // leak check at exit reports thousands of blocks that are Node's, and LSan
  // suppressions cannot say "only blocks allocated by the addon". Leaks of the
  // addon are valgrind's job (npm run test:valgrind), over a spawn loop whose
  // leak check is restricted to nsjs frames.
  'detect_leaks=0',
  // The vfork-style child runs on a stack of our own (mmap) with the cloning
  // thread's TLS, hence that thread's ASan state: a fake stack for
  // use-after-return checks would be shared with the suspended parent thread.
  // Off (also gcc's default), so that the child's frames live on its stack.
  'detect_stack_use_after_return=0',
  // Node (V8's WebAssembly trap handler) installs its own SIGSEGV handler,
  // which hands faults that are not its own to the previous one: ASan's.
  'handle_segv=1',
  'handle_sigbus=1',
  'handle_sigfpe=1',
  'allow_user_segv_handler=1',
];
const ubsanOptions = [...common, 'print_stacktrace=1', 'report_error_type=1'];
// The options reach every program the tests run, and mean nothing to those
// without the runtime.
const env = {
  ...process.env,
  NSJS_TEST_ADDON: 'sanitize',
  ASAN_OPTIONS: asanOptions.join(':'),
  UBSAN_OPTIONS: ubsanOptions.join(':'),
};

// 4. The suites, with a time limit (see the top).
const isRoot = process.getuid() === 0;
const jest = require.resolve('jest/bin/jest');
const shards = isRoot ? Math.max(1, Math.min(4, Number(process.env.NSJS_SANITIZE_SHARDS ?? os.availableParallelism()))) : 1;
// As root, each run alone in its own mount and network namespace (see the top).
const isolated = (argv) => (isRoot ? ['unshare', ['--mount', '--propagation', 'private', '--net', '--', 'sh', '-c', 'ip link set lo up && exec "$0" "$@"', ...argv]] : [argv[0], argv.slice(1)]);
const children = new Set();
const stopAll = (sig) => {
  for (const child of children) {
    try {
      process.kill(-child.pid, sig);
    } catch {
      // already gone
    }
  }
};
process.once('SIGINT', () => {
  stopAll('SIGINT');
  process.exit(130);
});
function run(label, args, { alone }) {
  return new Promise((resolve) => {
    console.log(`\ntest:sanitize: ${label}: jest ${args.join(' ')}`);
    const began = Date.now();
    const [cmd, argv] = isolated([node, jest, ...args]);
    // A process group of its own, so that the time limit ends jest's workers too.
    const child = spawn(cmd, argv, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    children.add(child);
    let output = '';
    const tee = (to) => (chunk) => {
      output += chunk;
      if (alone) to.write(chunk);
    };
    child.stdout.on('data', tee(process.stdout));
    child.stderr.on('data', tee(process.stderr));
    const timer = setTimeout(() => {
      console.error(`test:sanitize: ${label}: no end after ${timeout / 1000}s, killing jest`);
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }, timeout);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      if (!alone) console.log(`\n---- test:sanitize: ${label} (${code === 0 ? 'passed' : 'FAILED'}, ${Math.round((Date.now() - began) / 1000)}s) ----\n${output}`);
      resolve({ label, code, signal, output, seconds: Math.round((Date.now() - began) / 1000) });
    });
  });
}
/** The runs side by side; alone (output live) when there is one. */
const together = (runs) => Promise.all(runs.map(([label, args]) => run(label, args, { alone: runs.length === 1 })));

const started = Date.now();
const results = [];
const band = isRoot ? ['--runInBand'] : [];
if (extra.length) extra.unshift('--passWithNoTests');
// Each run's results as jest's JSON, for the file times.
const timings = process.env.NSJS_SANITIZE_DURATIONS ? fs.mkdtempSync(path.join(os.tmpdir(), 'nsjs-sanitize-times-')) : undefined;
const json = (label) => (timings ? ['--json', `--outputFile=${path.join(timings, `${label.replace(/\W+/g, '-')}.json`)}`] : []);
const runs = async (list) => results.push(...(await together(list.map(([label, args]) => [label, [...args, ...json(label)]]))));
if (shards === 1) {
  await runs([['suite', ['--selectProjects', 'unit', 'common', isRoot ? 'root' : 'rootless', ...band, ...extra]]]);
  await runs([['faults', ['--selectProjects', 'faults', ...band, ...extra]]]);
  await runs([['soak', ['--selectProjects', 'soak', '--runInBand', ...extra]]]);
} else {
  // The unit project first and alone: its package test rebuilds dist/,
  // which the CLI tests of a lane beside it would find half made.
  await runs([['unit', ['--selectProjects', 'unit', ...band, ...extra]]]);
  const lane = ['--selectProjects', 'common', isRoot ? 'root' : 'rootless', 'faults', 'soak', '--runInBand', `--testSequencer=${path.join(root, 'scripts', 'sanitize-sequencer.cjs')}`, ...extra];
  await runs(Array.from({ length: shards }, (_, i) => [`lane ${i + 1}/${shards}`, [...lane, `--shard=${i + 1}/${shards}`]]));
}
if (timings) {
  const seconds = {};
  // A run killed at its time limit wrote none.
  for (const f of fs.readdirSync(timings)) {
    for (const t of JSON.parse(fs.readFileSync(path.join(timings, f), 'utf8')).testResults) seconds[path.relative(root, t.name)] = Math.round((t.endTime - t.startTime) / 100) / 10;
  }
  const sorted = Object.fromEntries(Object.entries(seconds).sort(([a], [b]) => (a < b ? -1 : 1)));
  fs.writeFileSync(process.env.NSJS_SANITIZE_DURATIONS, `${JSON.stringify({ measured: `npm run test:sanitize as ${isRoot ? 'root' : `uid ${process.getuid()}`}, ${shards} lanes, load ${os.loadavg()[0].toFixed(1)}`, seconds: sorted }, null, 2)}\n`);
  fs.rmSync(timings, { recursive: true, force: true });
}

// 5. The verdict: test results, report files, sanitizer lines in the output.
const marker = /ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: (Address|UndefinedBehavior)Sanitizer|ERROR: Can't open file: .*nsjs-sanitize-/;
let failed = false;
console.log('\n==== test:sanitize summary ====');
for (const r of results) {
  const ok = r.code === 0;
  failed ||= !ok;
  console.log(`${r.label}: ${ok ? 'passed' : `FAILED (${r.signal ?? `exit ${r.code}`})`} in ${r.seconds}s`);
  const lines = r.output.split('\n').filter((l) => marker.test(l));
  if (lines.length) {
    failed = true;
    console.log(`${r.label}: sanitizer messages in jest's output:\n  ${lines.slice(0, 20).join('\n  ')}`);
  }
}
const files = fs.readdirSync(reports).sort();
for (const f of files) {
  failed = true;
  console.log(`\n---- sanitizer report ${f} ----\n${fs.readFileSync(path.join(reports, f), 'utf8')}`);
}
console.log(`sanitizer reports: ${files.length === 0 ? 'none' : `${files.length} (kept in ${reports})`}`);
if (files.length === 0) fs.rmSync(reports, { recursive: true, force: true });
console.log(`time: ${Math.round((Date.now() - started) / 1000)}s`);
process.exit(failed ? 1 : 0);
