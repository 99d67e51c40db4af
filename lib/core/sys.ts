/**
 * The raw syscalls: thin, synchronous, typed. Every failure is an {@link NsError}.
 *
 * Node is multi-threaded. `unshare` and `setns` here change the namespaces of
 * the *calling thread only* (the main JS thread), not of the Node process:
 * libuv's pool threads and Node's own threads stay where they were, so a file
 * opened by `fs.readFile` may be looked up in the old mount namespace, a
 * socket made by `net` in the old network namespace, and `CLONE_NEWUSER`
 * fails with `EINVAL` because the kernel refuses it to a multi-threaded
 * process. The high-level API never calls these in the Node process; it does
 * all namespace work in the cloned child. Use these only when you know that.
 * @module
 */
import { check } from './errors';
import { closeFd, native } from './native';
import { signalNumber } from './signals';

export * from './constants';
import { fd, integer, noNul, pathString, pid } from './validate';

/** `unshare(2)` on the calling thread. See the module note on threads. */
export function unshare(flags: number): void {
  check(native().unshare(integer(flags, 'flags')), 'unshare');
}

/** `setns(2)` on the calling thread; `nstype` 0 accepts any type. See the module note on threads. */
export function setns(nsfd: number, nstype = 0): void {
  check(native().setns(fd(nsfd, 'fd'), integer(nstype, 'nstype')), 'setns');
}

/**
 * `ioctl(2)` on an nsfs file: `NS_GET_USERNS` and `NS_GET_PARENT` return a new
 * O_CLOEXEC fd (yours to close), `NS_GET_NSTYPE` the `CLONE_NEW*` value,
 * `NS_GET_OWNER_UID` the uid, `NS_GET_ID` the namespace id (Linux 6.18+;
 * `ENOTTY` before).
 */
export function ioctlNs(nsfd: number, request: number): number {
  return check(native().ioctlNs(fd(nsfd, 'fd'), integer(request, 'request', 0, 0xffffffff)), 'ioctl');
}

/** `mount(2)`; `source`, `fstype` and `data` may be null. */
export function mount(
  source: string | null,
  target: string,
  fstype: string | null,
  flags = 0,
  data: string | null = null,
): void {
  const src = source === null ? null : noNul(source, 'source');
  const type = fstype === null ? null : noNul(fstype, 'fstype');
  const opts = data === null ? null : noNul(data, 'data');
  const tgt = pathString(target, 'target');
  check(native().mount(src, tgt, type, integer(flags, 'flags', 0, 0xffffffff), opts), 'mount', tgt);
}

/** `umount2(2)`. */
export function umount(target: string, flags = 0): void {
  const tgt = pathString(target, 'target');
  check(native().umount(tgt, integer(flags, 'flags')), 'umount2', tgt);
}

/** `pivot_root(2)`. */
export function pivotRoot(newRoot: string, putOld: string): void {
  const root = pathString(newRoot, 'newRoot');
  check(native().pivotRoot(root, pathString(putOld, 'putOld')), 'pivot_root', root);
}

/** `pidfd_open(2)`: a pidfd (always close-on-exec) for `pid`. Yours to close, with {@link close}. */
export function pidfdOpen(target: number, flags = 0): number {
  return check(native().pidfdOpen(pid(target, 'pid'), integer(flags, 'flags')), 'pidfd_open');
}

/**
 * `close(2)`, for the fds these functions return (`pidfdOpen`, `ioctlNs`'s
 * `NS_GET_USERNS`/`NS_GET_PARENT`). Use it rather than `fs.closeSync`: in a
 * worker thread Node's `fs` keeps a table of the fds `fs` opened and warns
 * when it closes any other. An `EINTR` counts as closed (Linux releases the
 * fd first), so a close is never retried.
 */
export function close(descriptor: number): void {
  closeFd(fd(descriptor, 'fd'));
}

/** `pidfd_send_signal(2)`: never signals a recycled pid. */
export function pidfdSendSignal(pidfd: number, signal: NodeJS.Signals | number = 'SIGTERM'): void {
  check(native().pidfdSendSignal(fd(pidfd, 'pidfd'), signalNumber(signal, 'signal')), 'pidfd_send_signal');
}
