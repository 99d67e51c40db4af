// Process.usage(), freeze() and thaw() belong to options.cgroup: without it
// they reject (ERR_INVALID_STATE) rather than answer with figures of nothing.
import { spawnIsolated } from '../../../lib';
import { expectNoLeaks, snapshot } from '../../helpers/leaks';
import { withUser } from '../../helpers/privilege';

test('usage(), freeze(), thaw() without options.cgroup: ERR_INVALID_STATE, naming the option', async () => {
  const before = snapshot();
  const p = await spawnIsolated('sleep', ['5'], { namespaces: withUser(['uts']), stdio: 'ignore' });
  for (const call of [() => p.usage(), () => p.freeze(), () => p.thaw()])
    await expect(call()).rejects.toMatchObject({ code: 'ERR_INVALID_STATE', message: expect.stringMatching(/options\.cgroup/) });
  p.kill('SIGKILL');
  const s = await p.wait();
  expect(s.usage).toBeUndefined();
  await expectNoLeaks(before);
});
