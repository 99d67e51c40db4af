// Compile-only: nothing here runs. Uses of the public API that must type-check,
// and misuse that must not (each `@ts-expect-error` fails the build if the
// line below it compiles).
import { DEFAULT_SECCOMP_DENY, Namespace, NsError, Process, setSpawnConcurrency, spawnIsolated, sys, waitpid } from 'nsjs';
import type { CapabilityName, ExitStatus, LandlockOptions, SeccompPolicy, NamespaceInfo, NamespaceType, NsErrorDetails, WaitpidOptions } from 'nsjs';

declare function use(...values: unknown[]): void;

export async function namespaces(): Promise<void> {
  const net: Namespace = Namespace.current('net');
  const type: NamespaceType = net.type;
  const id: number = net.inode;
  const dev: number = net.device;
  const fd: number = net.fd;
  const text: string = net.toString();
  const same: boolean = net.equals(Namespace.of(1, 'net'));
  const opened = Namespace.open('/proc/self/ns/uts', 'uts');
  const anyType = Namespace.open('/run/netns/blue');
  const parent: Namespace = Namespace.current('pid').parent();
  const owner: Namespace = net.owner();
  const uid: number = owner.ownerUid();
  const infos: NamespaceInfo[] = await Namespace.list();
  const first = infos[0];
  const count: number = first.nprocs;
  const pids: number[] = first.pids;
  const parentInode: number | undefined = first.parent;
  using disposed = Namespace.current('mnt');
  opened.close();
  use(type, id, dev, fd, text, same, anyType, parent, uid, count, pids, parentInode, disposed);

  // @ts-expect-error not a kernel namespace name
  Namespace.current('network');
  // @ts-expect-error the type is a string, not a CLONE_NEW* flag
  Namespace.current(sys.CLONE_NEWNET);
  // @ts-expect-error a path, not a pid or fd
  Namespace.open(3);
  // @ts-expect-error unknown type in open
  Namespace.open('/proc/self/ns/net', 'netns');
  // @ts-expect-error pid first, then type
  Namespace.of('net', 1);
  // @ts-expect-error made through current/of/open, never constructed
  new Namespace(3, 'net');
  // @ts-expect-error identity is read-only
  net.inode = 1;
  // @ts-expect-error list() is asynchronous
  const notArray: NamespaceInfo[] = Namespace.list();
  use(notArray);
}

export async function processes(pid: number): Promise<void> {
  const p: Process = Process.attach(pid);
  const own: number = p.pid;
  const sent: boolean = p.kill();
  p.kill('SIGKILL');
  p.kill(9);
  const status: ExitStatus = await p.wait();
  const code: number | null = status.code;
  const signal: NodeJS.Signals | null = status.signal;
  const later: ExitStatus | null = p.exitStatus;
  const uts: Namespace = p.namespace('uts');
  await using held = Process.attach(pid);
  use(own, sent, code, signal, later, uts, held);

  // @ts-expect-error not a signal name
  p.kill('SIGFOO');
  // @ts-expect-error signal names are upper case, as in child_process
  p.kill('sigterm');
  // @ts-expect-error attach takes a pid
  Process.attach('1234');
  // @ts-expect-error wait() resolves to an ExitStatus, not a number
  const notNumber: number = await p.wait();
  // @ts-expect-error the pid is read-only
  p.pid = 1;
  // @ts-expect-error not a namespace type
  p.namespace('proc');
  use(notNumber);
}

export async function waiting(pid: number): Promise<void> {
  const status: ExitStatus = await waitpid(pid);
  const options: WaitpidOptions = { signal: AbortSignal.timeout(1000) };
  await waitpid(pid, options);
  use(status);

  // @ts-expect-error the pid is required
  await waitpid();
  // @ts-expect-error a pid is a number
  await waitpid('1234');
  // @ts-expect-error unknown option
  await waitpid(pid, { timeout: 5 });
  // @ts-expect-error signal is an AbortSignal, not a signal name
  await waitpid(pid, { signal: 'SIGTERM' });
}

export function errors(err: unknown): void {
  if (err instanceof NsError) {
    const code: string = err.code;
    const errno: number = err.errno;
    const syscall: string = err.syscall;
    const path: string | undefined = err.path;
    const step: string | undefined = err.step;
    const base: Error = err;
    use(code, errno, syscall, path, step, base);
    // @ts-expect-error errno is a number, as in Node's SystemError
    const text: string = err.errno;
    use(text);
  }
  const details: NsErrorDetails = { errno: -1, syscall: 'mount', path: '/mnt' };
  use(new NsError(details));
  // @ts-expect-error errno and syscall are required
  use(new NsError({ path: '/mnt' }));
}

export function raw(nsfd: number): void {
  sys.unshare(sys.CLONE_NEWUTS | sys.CLONE_NEWIPC);
  sys.setns(nsfd, sys.CLONE_NEWNET);
  sys.setns(nsfd);
  const userns: number = sys.ioctlNs(nsfd, sys.NS_GET_USERNS);
  sys.mount('tmpfs', '/mnt', 'tmpfs', sys.MS_NOSUID | sys.MS_NODEV, 'size=1m');
  sys.mount(null, '/', null, sys.MS_REC | sys.MS_PRIVATE);
  sys.umount('/mnt', sys.MNT_DETACH);
  sys.pivotRoot('/new', '/new/old');
  const pidfd: number = sys.pidfdOpen(1);
  sys.pidfdSendSignal(pidfd, 'SIGTERM');
  sys.pidfdSendSignal(pidfd, 0);
  sys.close(pidfd);
  sys.close(userns);

  // @ts-expect-error flags are numbers, not namespace names
  sys.unshare('net');
  // @ts-expect-error the target is required
  sys.mount('tmpfs');
  // @ts-expect-error not a signal name
  sys.pidfdSendSignal(pidfd, 'SIGNOPE');
  // @ts-expect-error constants are read-only
  sys.CLONE_NEWNET = 0;
}

export function concurrency(): void {
  const previous: number = setSpawnConcurrency(4);
  // @ts-expect-error a number of spawns
  setSpawnConcurrency('4');
  use(previous);
}


export async function policy(): Promise<void> {
  const caps: CapabilityName[] = ['CAP_NET_ADMIN', 'net_raw'];
  const seccomp: SeccompPolicy = { base: 'default', allow: ['ptrace'], deny: ['mkdir', { syscall: 'chdir', errno: 'EACCES' }], errno: 1 };
  const landlock: LandlockOptions = { read: ['/usr'], write: ['/tmp'], connect: [443], require: true };
  use(DEFAULT_SECCOMP_DENY.length);
  use(await spawnIsolated('true', [], { capabilities: { keep: caps, drop: ['CAP_SYS_ADMIN'] }, seccomp, landlock, allowUserNamespaces: true }));
  use(await spawnIsolated('true', [], { seccomp: false }));
  // @ts-expect-error not a capability
  use(await spawnIsolated('true', [], { capabilities: { keep: ['CAP_NET_ADMINN'] } }));
  // @ts-expect-error the short form is lower case only
  use(await spawnIsolated('true', [], { capabilities: { drop: ['Net_Admin'] } }));
  // @ts-expect-error seccomp is 'default', false or a policy
  use(await spawnIsolated('true', [], { seccomp: 'strict' }));
  // @ts-expect-error ports are numbers
  use(await spawnIsolated('true', [], { landlock: { connect: ['443'] } }));
}
