// The network option unprivileged: lo works inside, a veth to the host does not.
import { runIsolated, spawnIsolated } from '../../../lib';
import { expectNoLeaks, snapshot, type Snapshot } from '../../helpers/leaks';

let before: Snapshot;
beforeEach(() => {
  before = snapshot();
});
afterEach(async () => {
  await expectNoLeaks(before);
});

test('a veth to the host is EPERM with a hint, leaving nothing', async () => {
  await expect(
    spawnIsolated('true', [], { namespaces: ['user', 'net'], network: { veth: { hostAddress: '169.254.50.1/30' } } }),
  ).rejects.toMatchObject({ code: 'EPERM', syscall: 'netlink', step: expect.stringMatching(/^RTM_NEWLINK veth nsjs/), hint: expect.stringMatching(/CAP_NET_ADMIN/) });
});

test('loopback is up: a server and client inside talk over 127.0.0.1', async () => {
  const script = 'node -e "const n=require(\'net\');const s=n.createServer(c=>c.end(\'pong\')).listen(0,\'127.0.0.1\',()=>n.connect(s.address().port,\'127.0.0.1\').on(\'data\',d=>{console.log(String(d));process.exit(0)}))"';
  const r = await runIsolated('sh', ['-c', script], { namespaces: ['user', 'net'] });
  expect(r).toMatchObject({ code: 0, stdout: 'pong\n' });
});
