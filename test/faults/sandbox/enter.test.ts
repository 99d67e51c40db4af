// The first child of a sandbox command (src-native/sandbox/enter.cc
// EnterChildMain, raw system calls only, beside the pool thread that cloned
// it) fails as itself at each of its ops, with an errno or dying of a
// signal, and leaves nothing: the cgroup joins (root: a cgroup) and the
// exec of nsjs-init --enter. The ops after that run in nsjs-init, which the
// fault build does not reach: there a spawn runs as usual. That is the way
// in without a pid namespace; with one, the command goes to the sandbox's
// gate, and our only step is the message to it.
import { Sandbox, type NsError } from '../../../lib';
import { native } from '../../../lib/core/native';
import { children, expectNoLeaks, snapshot } from '../../helpers/leaks';

const root = process.getuid!() === 0;

test('every op of the first child fails as itself and leaves nothing', async () => {
  expect(native().faultInjection).toBe(true);
  const before = snapshot();
  await walk();
  // The sandbox closed: no fd, child, mount or cgroup of any attempt is left.
  await expectNoLeaks(before);
});

async function walk(): Promise<void> {
  await using sb = await Sandbox.create({ namespaces: ['user', 'mnt'], user: 'root', ...(root ? { cgroup: { pids: { max: 16 } } } : {}) });
  const seen: string[] = [];
  for (let n = 0; n < 8; n++) {
    for (const [fault, code, signal] of [[`op:${n}:EACCES`, 'EACCES', undefined], [`op:${n}:SIGSEGV`, 'EINTR', 'SIGSEGV']] as const) {
      process.env.NSJS_TEST_FAULT_AT = fault;
      const r = await sb.run('true').then(
        () => undefined,
        (e: NsError) => e,
      );
      delete process.env.NSJS_TEST_FAULT_AT;
      // The command's way in reaped, whatever became of it (the spawn reaps before it settles).
      expect({ fault, children: children().filter((k) => k.pid !== sb.pid) }).toEqual({ fault, children: [] });
      if (!r) {
        // Past the first child: nsjs-init's ops, out of the fault build's reach.
        expect(seen.at(-1)).toBe('exec nsjs-init --enter');
        expect(root ? seen.length : 1).toBeGreaterThan(root ? 1 : 0);
        return;
      }
      expect({ fault, code: r.code, signal: r.signal }).toEqual({ fault, code, signal });
      if (!signal) seen.push(r.step!);
      else expect(r.step).toBe(seen.at(-1));
    }
  }
  throw new Error(`no op past the first child in 8: ${seen.join(', ')}`);
}

test('the message to the gate fails as itself, and the next command starts', async () => {
  const before = snapshot();
  {
    await using sb = await Sandbox.create({ namespaces: ['user', 'pid', 'mnt'], user: 'root', mounts: [{ type: 'proc', target: '/proc' }] });
    process.env.NSJS_TEST_FAULT_AT = 'parent:sendmsg gate:EIO';
    const r = await sb.run('true').catch((e: NsError) => e);
    delete process.env.NSJS_TEST_FAULT_AT;
    expect(r).toMatchObject({ code: 'EIO', syscall: 'sendmsg', step: 'enter the sandbox through its gate' });
    expect(await sb.run('true')).toMatchObject({ code: 0 });
  }
  await expectNoLeaks(before);
});
