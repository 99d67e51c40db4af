// Unprivileged, the kernel refuses a non-recursive bind of a directory with
// mounts below it (they are locked to it, or the bind would uncover what
// they hide): the error says so and names the way out (issue 16 item 4).
import { NsError, spawnIsolated } from '../../../lib';
import { expectNoLeaks, snapshot } from '../../helpers/leaks';

test('a recursive: false bind of / is refused with EINVAL and a hint naming the locked mounts', async () => {
  const before = snapshot();
  const err = (await spawnIsolated('true', [], { namespaces: ['user', 'mnt'], user: 'root', mounts: [{ type: 'bind', source: '/', target: '/mnt', recursive: false }] }).catch((e: unknown) => e)) as NsError;
  expect(err).toBeInstanceOf(NsError);
  expect(err).toMatchObject({ code: 'EINVAL', syscall: 'open_tree', step: 'mount /mnt', hint: expect.stringMatching(/refuses a recursive: false bind of \/, which has mounts below it .*recursive: true/) });
  await expectNoLeaks(before);
});
