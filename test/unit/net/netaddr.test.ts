// Address arguments of the networking helpers are checked before any
// socket or netlink request: these run without privileges, in our own net
// namespace, and nothing reaches the kernel.
import { Namespace, net } from '../../../lib';

// Found by the options fuzz: isIP takes an IPv6 zone index ('fe80::1%eth0'),
// which inet_pton in the addon refuses (EINVAL) or a scope id would drop.
describe('an IPv6 zone index is refused, naming the argument', () => {
  let ns: Namespace;
  beforeAll(() => {
    ns = Namespace.current('net');
  });
  afterAll(() => ns.close());

  const zoned = expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringMatching(/zone index/) });

  test.each(['fe80::1%lo', 'fe80::1%1', '2001:db8::1%eth0'])('%s', async (host) => {
    await expect(net.connect(ns, { host, port: 80 })).rejects.toThrow(expect.objectContaining({ message: expect.stringMatching(/'options\.host'/) }));
    await expect(net.connect(ns, { host, port: 80 })).rejects.toThrow(zoned);
    await expect(net.listen(ns, { host })).rejects.toThrow(expect.objectContaining({ message: expect.stringMatching(/'options\.host'/) }));
    await expect(net.listen(ns, { host })).rejects.toThrow(zoned);
    expect(() => net.addRoute(ns, { via: host, dev: 'lo' })).toThrow(expect.objectContaining({ message: expect.stringMatching(/'route\.via'/) }));
    expect(() => net.addRoute(ns, { via: host, dev: 'lo' })).toThrow(zoned);
    expect(() => net.addRoute(ns, { to: `${host}/64`, dev: 'lo' })).toThrow(expect.objectContaining({ message: expect.stringMatching(/'route\.to'/) }));
    expect(() => net.addRoute(ns, { to: `${host}/64`, dev: 'lo' })).toThrow(zoned);
    expect(() => net.addAddress(ns, 'lo', `${host}/64`)).toThrow(zoned);
    expect(() => net.createVeth({ namespace: ns, address: `${host}/64` }, { namespace: ns })).toThrow(
      expect.objectContaining({ message: expect.stringMatching(/'a\.address'/) }),
    );
  });
});
