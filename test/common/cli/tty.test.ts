// nsjs run -t (issue 21 item 5): with a terminal as stdin, the program gets
// a pty of its own (a new session), sized as ours and relayed to it; without
// one, -t changes nothing. script(1) gives the run a terminal.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const root = path.resolve(__dirname, '..', '..', '..');
const bin = path.join(root, 'bin', 'nsjs.js');

beforeAll(() => {
  if (!fs.existsSync(path.join(root, 'dist', 'cjs', 'cli', 'main.js'))) throw new Error('dist/cjs/cli/main.js is missing: run `npm run build:ts` first');
});

const inTerminal = (command: string) =>
  spawnSync('script', ['-qec', `stty cols 101 rows 33; ${command}`, '/dev/null'], { encoding: 'utf8', timeout: 20000, cwd: os.tmpdir(), stdio: ['ignore', 'pipe', 'pipe'] });
const nsjs = `${process.execPath} ${bin}`;
const probe = `sh -c 'tty; stty size; ps -o sid= -p $$; echo $$; exit 4'`;

test('-t: a pty of its own, in a session of its own, the size of ours, the exit status its own', () => {
  const r = inTerminal(`${nsjs} run -t -Ur -pf --mount-proc -m --dev /dev ${probe}; echo status=$?`);
  // script(1) types a NUL once its stdin is at its end, which the program's terminal echoes as ^@.
  const lines = r.stdout.replace(/\^@|\0/g, '').split(/\r*\n/).map((l) => l.trim());
  expect(lines.slice(0, 5)).toEqual(['/dev/pts/0', '33 101', '1', '1', 'status=4']);
});

test('without -t the program shares our terminal (unshare)', () => {
  const r = inTerminal(`${nsjs} run -Ur sh -c 'tty; stty size'`);
  const lines = r.stdout.split(/\r*\n/);
  expect(lines[0]).toMatch(/^\/dev\/pts\/\d+$/);
  expect(lines[1]).toBe('33 101');
});

test('-t when stdin is no terminal changes nothing', () => {
  const r = spawnSync(process.execPath, [bin, 'run', '-t', '-Ur', 'sh', '-c', 'tty; echo done'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  expect(r.stdout).toBe('not a tty\ndone\n');
  expect(r.status).toBe(0);
});
