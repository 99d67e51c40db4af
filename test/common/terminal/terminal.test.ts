// terminal: a pty as the command's stdio and controlling terminal, opened
// from our /dev/ptmx or, where the command has a devpts of its own, inside
// (issue 21 item 4). As root and as an ordinary user; each test checks that
// nothing leaked, the master included.
import { Sandbox, runIsolated, spawnIsolated, type Process } from '../../../lib';
import { expectNoLeaks, snapshot, type Snapshot } from '../../helpers/leaks';
import { withUser } from '../../helpers/privilege';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let before: Snapshot;
beforeEach(() => {
  before = snapshot();
});
afterEach(async () => {
  await expectNoLeaks(before);
});

const OWN_DEV = { namespaces: withUser(['mnt', 'pid']), mounts: [{ type: 'dev' as const, target: '/dev' }, { type: 'proc' as const, target: '/proc' }] };
const PROBE = 'tty; stty size; test -t 0 && test -t 1 && test -t 2 && echo all-ttys; echo ctty > /dev/tty; ls /dev/pts | tr "\\n" " "';

/** Drives an interactive program: `answer(text, until)` writes and waits for `until` to show. */
function drive(p: Process) {
  let shown = '';
  p.terminal!.on('data', (d: Buffer) => (shown += String(d)));
  const closed = new Promise((r) => p.terminal!.once('close', r));
  const waitFor = async (until: RegExp) => {
    for (let i = 0; i < 250 && !until.test(shown); i++) await sleep(20);
    expect(shown).toMatch(until);
  };
  return { waitFor, closed, shown: () => shown, type: (s: string) => p.terminal!.write(s) };
}

describe('terminal on spawnIsolated', () => {
  test("opened from our /dev/ptmx where the command has our /dev: a pts, the size asked, fds 0-2 and the controlling terminal", async () => {
    const r = await runIsolated('sh', ['-c', PROBE], { namespaces: withUser(['uts']), terminal: { cols: 100, rows: 30 } });
    expect(r).toMatchObject({ code: 0, stderr: '' });
    const [tty, size, all, ctty] = r.stdout.split('\r\n');
    expect(tty).toMatch(/^\/dev\/pts\/\d+$/);
    expect([size, all, ctty]).toEqual(['30 100', 'all-ttys', 'ctty']);
  });

  test('opened inside where the command has a devpts of its own (a dev mount): tty names it there, and it is the only one', async () => {
    const r = await runIsolated('sh', ['-c', PROBE], { ...OWN_DEV, terminal: true });
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toBe('/dev/pts/0\r\n24 80\r\nall-ttys\r\nctty\r\n0 ptmx ');
  });

  test('an interactive sh answers through p.terminal, stty size follows resize(), and its exit status is its own', async () => {
    for (const options of [{ namespaces: withUser(['uts']) }, OWN_DEV]) {
      const p = await spawnIsolated('sh', ['-i'], { ...options, terminal: { cols: 90, rows: 20 }, env: { PS1: '$ ', PATH: process.env.PATH } });
      const t = drive(p);
      await t.waitFor(/\$ $/);
      t.type('echo answer $((6*7))\n');
      await t.waitFor(/answer 42/);
      t.type('stty size\n');
      await t.waitFor(/20 90/);
      p.terminal!.resize(132, 43);
      expect([p.terminal!.cols, p.terminal!.rows]).toEqual([132, 43]);
      t.type('stty size\n');
      await t.waitFor(/43 132/);
      t.type('exit 3\n');
      expect(await p.wait()).toEqual({ code: 3, signal: null });
      await t.closed;
    }
  });

  test('the output is all read before the terminal closes (a command that exits at once)', async () => {
    const r = await runIsolated('seq', ['1', '20000'], { namespaces: withUser(['uts']), terminal: true });
    const lines = r.stdout.split('\r\n');
    expect(lines.length).toBe(20001);
    expect(lines[19999]).toBe('20000');
  });

  test('refused before anything starts: our session with it, a size out of range, an unknown key', async () => {
    await expect(spawnIsolated('true', [], { terminal: true, newSession: false })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringMatching(/options\.newSession/) });
    await expect(spawnIsolated('true', [], { terminal: { cols: 0 } })).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE', name: 'RangeError', message: expect.stringMatching(/options\.terminal\.cols/) });
    await expect(spawnIsolated('true', [], { terminal: { colums: 80 } as never })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringMatching(/options\.terminal\.colums/) });
    const p = await spawnIsolated('cat', [], { terminal: true });
    expect(() => p.terminal!.resize(80, 70000)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    p.kill('SIGKILL');
    await p.wait();
    await new Promise((r) => (p.terminal!.closed ? r(null) : p.terminal!.once('close', r)));
  });
});

describe('terminal in a sandbox', () => {
  test('each command gets its own pty from the sandbox devpts; an interactive sh answers there', async () => {
    await using sb = await Sandbox.create({ namespaces: withUser(['mnt', 'pid', 'uts']), hostname: 'box', mounts: OWN_DEV.mounts });
    const r = await sb.run('sh', ['-c', PROBE], { terminal: { cols: 7, rows: 9 } });
    expect(r.stdout).toBe('/dev/pts/0\r\n9 7\r\nall-ttys\r\nctty\r\n0 ptmx ');
    const p = await sb.spawn('sh', ['-i'], { terminal: true, env: { PS1: '$ ', PATH: process.env.PATH } });
    const t = drive(p);
    await t.waitFor(/\$ $/);
    t.type('hostname; tty\n');
    await t.waitFor(/box\r\n\/dev\/pts\/0\r\n/);
    t.type('exit\n');
    expect(await p.wait()).toEqual({ code: 0, signal: null });
    await t.closed;
  });

  test('and from our /dev/ptmx where the sandbox has our /dev', async () => {
    await using sb = await Sandbox.create({ namespaces: withUser(['uts']) });
    const r = await sb.run('sh', ['-c', 'tty; stty size'], { terminal: true });
    expect(r.stdout).toMatch(/^\/dev\/pts\/\d+\r\n24 80\r\n$/);
  });
});
