// ns/: namespaces. Namespace, a handle on one through its nsfs fd (this
// file), and Namespace.list() (list.ts, as lsns); options.ts and plan.ts are
// the namespaces a spawn creates and what they start with (uts names, clock
// offsets). Namespace.create() spawns its holder through spawn/holder.ts,
// which registers it here when nsjs loads: ns/ never imports spawn/.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { brandNamespace, isNamespace } from '../core/brand';
import * as C from '../core/constants';
import { NsError, check } from '../core/errors';
import { closeFd, native } from '../core/native';
import { invalidArgValue } from '../core/errors';
import { NAMESPACE_FLAGS, type NamespaceType } from '../core/nstypes';
import { fd as fdArg, knownKeys, namespaceType, pathString, pid as pidArg, plainObject, snapshot } from '../core/validate';
import { listNamespaces, type NamespaceInfo } from './list';

function typeOfFlag(flag: number): NamespaceType | undefined {
  return (Object.keys(NAMESPACE_FLAGS) as NamespaceType[]).find((t) => NAMESPACE_FLAGS[t] === flag);
}

// Forgotten Namespace objects still give their fd back.
const finalizer = new FinalizationRegistry<number>((fd) => {
  try {
    closeFd(fd);
  } catch {
    // already closed by someone who took the fd number
  }
});

const ENOTTY = -25;
const EINVAL = -22;
const ELOOP = -40;
/** include/uapi/asm-generic/fcntl.h; Node's fs.constants lacks it. */
const O_PATH = 0o10000000;

/** Options of {@link Namespace.create}. */
export interface CreateOptions {
  /** Bind-mount the new namespace here (created if missing), so it outlives every process. */
  persistAt?: string;
  /** `net` only: persist at `/run/netns/<name>`, where `ip netns` finds it. */
  name?: string;
}

const NETNS_DIR = '/run/netns';

/**
 * iproute2's convention: /run/netns is a shared bind mount of itself, so a
 * namespace persisted later shows up in every mount namespace that has it.
 */
function prepareNetnsDir(file: string): void {
  fs.mkdirSync(NETNS_DIR, { recursive: true, mode: 0o755 });
  const shared = native().mount('', NETNS_DIR, 'none', C.MS_SHARED | C.MS_REC, null);
  if (shared === EINVAL) {
    // Not a mount point yet: make it one.
    check(native().mount(NETNS_DIR, NETNS_DIR, 'none', C.MS_BIND | C.MS_REC, null), 'mount', NETNS_DIR);
    check(native().mount('', NETNS_DIR, 'none', C.MS_SHARED | C.MS_REC, null), 'mount', NETNS_DIR);
  } else {
    check(shared, 'mount', NETNS_DIR);
  }
  if (fs.existsSync(file)) throw new NsError({ errno: -17, syscall: 'open', path: file, hint: `a network namespace named ${path.basename(file)} exists already` });
}

/**
 * @internal The short-lived process that holds a new namespace of `type`
 * for Namespace.create(): its pid (in the new namespace), and how to let it go.
 */
export type Holder = (type: NamespaceType) => { pid: number; release(): void };

let spawnHolder: Holder | undefined;

/**
 * @internal spawn/holder.ts registers how the holder is spawned when nsjs is
 * loaded, so that this room, a plain nsfs handle, never imports spawn/.
 */
export function registerHolder(holder: Holder): void {
  spawnHolder = holder;
}

/**
 * A namespace held through an nsfs file descriptor (close-on-exec). Identity
 * is `device` + `inode`; `toString()` prints it as `/proc/<pid>/ns` does.
 */
export class Namespace implements Disposable {
  /** The namespace type (`NS_GET_NSTYPE`). */
  readonly type: NamespaceType;
  /** The namespace id shown as `net:[4026531840]`. */
  readonly inode: number;
  /** The nsfs device number. */
  readonly device: number;
  #fd: number;

  private constructor(fd: number, type: NamespaceType) {
    const st = fs.fstatSync(fd);
    this.#fd = fd;
    this.type = type;
    this.inode = st.ino;
    this.device = st.dev;
    finalizer.register(this, fd, this);
    brandNamespace(this);
  }

  /**
   * @internal Whether `value` was made by this class: a brand check, so that
   * neither a Proxy of a Namespace nor `Object.create(Namespace.prototype)`
   * passes where `instanceof` would.
   */
  static isNamespace(value: unknown): value is Namespace {
    return isNamespace(value);
  }

  /** The file descriptor; `-1` after `close()`. */
  get fd(): number {
    return this.#fd;
  }

  /** This process's namespace of `type`. */
  static current(type: NamespaceType): Namespace {
    namespaceType(type, 'type');
    return Namespace.open(`/proc/self/ns/${type}`, type);
  }

  /** Another process's namespace of `type` (needs ptrace access to it). */
  static of(pid: number, type: NamespaceType): Namespace {
    pidArg(pid, 'pid');
    namespaceType(type, 'type');
    return Namespace.open(`/proc/${pid}/ns/${type}`, type);
  }

  /**
   * Any nsfs file: `/proc/1/ns/net`, a bind mount such as `/run/netns/blue`.
   * The type is read with `NS_GET_NSTYPE`; when `type` is given, a namespace
   * of another type is refused with `EINVAL`. A file that is not a namespace
   * fails with `ENOTTY`.
   */
  static open(file: string, type?: NamespaceType): Namespace {
    pathString(file, 'path');
    if (type !== undefined) namespaceType(type, 'type');
    const fd = check(native().openNs(file), 'open', file);
    const r = native().ioctlNs(fd, C.NS_GET_NSTYPE);
    const actual = r >= 0 ? typeOfFlag(r) : undefined;
    if (!actual || (type !== undefined && actual !== type)) {
      closeFd(fd);
      if (r === ENOTTY) throw new NsError({ errno: r, syscall: 'ioctl', path: file, hint: `${file} is not a namespace file (an nsfs file such as /proc/<pid>/ns/<type>)` });
      if (r < 0) throw new NsError({ errno: r, syscall: 'ioctl', path: file });
      throw new NsError({ errno: EINVAL, syscall: 'open', path: file, hint: `${file} is a ${actual ?? r} namespace, not ${type}` });
    }
    return new Namespace(fd, actual);
  }

  /**
   * Wraps an nsfs fd you own (for example from `sys.ioctlNs`); the Namespace
   * takes it over. Not one `fs` opened: the Namespace closes it with close(2)
   * behind `fs`'s back, and in a worker_thread `fs` keeps a table of its own fds.
   */
  static fromFd(fd: number): Namespace {
    fdArg(fd, 'fd');
    const type = typeOfFlag(check(native().ioctlNs(fd, C.NS_GET_NSTYPE), 'ioctl', undefined, (code) =>
      code === 'ENOTTY' ? `fd ${fd} is not a namespace` : undefined,
    ));
    if (!type) throw new NsError({ errno: EINVAL, syscall: 'ioctl', hint: `fd ${fd} is a namespace of a type nsjs does not know` });
    return new Namespace(fd, type);
  }

  /**
   * A new namespace of `type`, held by the returned fd and, with `persistAt`
   * (or for `net`, `{ name }` → `/run/netns/<name>`, as `ip netns add`),
   * by a bind mount that outlives every process; `Namespace.unpersist(path)`
   * undoes it. A short-lived helper (nsjs-init --hold) is made in the new
   * namespace and exits once the fd is open. Unprivileged, the namespace is
   * owned by a new user namespace mapping you to root there (see
   * `owner()`), and persisting is refused (the bind mount needs
   * CAP_SYS_ADMIN in our mount namespace). A `mnt` namespace can be
   * persisted only on a mount with private propagation (as `unshare
   * --mount=FILE`). A `pid` namespace outlives its helper but, its init gone,
   * accepts no new process.
   */
  static create(type: NamespaceType, given: CreateOptions = {}): Namespace {
    namespaceType(type, 'type');
    // Read once, own keys only: a getter or Object.prototype.persistAt must not choose where the bind mount goes.
    const options = plainObject(snapshot(given, 'options'), 'options') as CreateOptions;
    knownKeys(options as Record<string, unknown>, ['persistAt', 'name'], 'options');
    let target: string | undefined;
    if (options.persistAt !== undefined) target = pathString(options.persistAt, 'options.persistAt');
    if (options.name !== undefined) {
      if (type !== 'net') throw invalidArgValue('options.name', options.name, "is for net namespaces only (/run/netns/<name>); use options.persistAt");
      if (target !== undefined) throw invalidArgValue('options.name', options.name, 'and options.persistAt exclude each other');
      pathString(options.name, 'options.name');
      if (options.name.includes('/') || options.name === '.' || options.name === '..' || options.name.length > 255)
        throw invalidArgValue('options.name', options.name, 'must be a file name (no /, not . or ..)');
      target = path.join(NETNS_DIR, options.name);
    }
    if (!spawnHolder) throw new Error('nsjs: Namespace.create() has no holder to spawn (spawn/holder.ts registers it when nsjs is loaded)');
    const holder = spawnHolder(type);
    let ns: Namespace | undefined;
    try {
      ns = Namespace.of(holder.pid, type);
      if (options.name !== undefined) prepareNetnsDir(target!);
      if (target !== undefined) ns.persist(target, options.name !== undefined);
      return ns;
    } catch (err) {
      ns?.close();
      throw err;
    } finally {
      holder.release();
    }
  }

  /** Every namespace visible in `/proc`, as lsns(8) lists them. */
  static list(): Promise<NamespaceInfo[]> {
    return listNamespaces();
  }

  /**
   * The parent namespace (`NS_GET_PARENT`; pid and user namespaces only).
   * `EPERM` at the top of our scope, `EINVAL` for other types.
   */
  parent(): Namespace {
    return this.#related(C.NS_GET_PARENT, 'NS_GET_PARENT');
  }

  /** The user namespace that owns this one (`NS_GET_USERNS`). */
  owner(): Namespace {
    return this.#related(C.NS_GET_USERNS, 'NS_GET_USERNS');
  }

  /** The uid (in our user namespace) of the owner of this user namespace; `EINVAL` for other types. */
  ownerUid(): number {
    return check(native().ioctlNs(this.#open(), C.NS_GET_OWNER_UID), 'ioctl');
  }

  /** The kernel's 64-bit namespace id (`NS_GET_ID`, Linux 6.18+; `ENOTTY` before). */
  id(): number {
    return check(native().ioctlNs(this.#open(), C.NS_GET_ID), 'ioctl');
  }

  /** Same namespace: same nsfs device and inode. */
  equals(other: Namespace): boolean {
    if (!(other instanceof Namespace)) return false;
    return this.device === other.device && this.inode === other.inode;
  }

  /** `'net:[4026531840]'`, as the link in `/proc/<pid>/ns/` reads. */
  toString(): string {
    return `${this.type}:[${this.inode}]`;
  }

  /**
   * Bind-mounts the namespace at `file` (created empty if missing), so it
   * outlives every process in it, as `ip netns add` and `unshare --net=FILE`
   * do. Needs CAP_SYS_ADMIN over our mount namespace. With `exclusive`, an
   * existing `file` is an error (`EEXIST`) instead of a mount point. A
   * symbolic link at `file` is refused (`ELOOP`), never followed: whoever
   * can write the directory could otherwise point the bind at any file,
   * and the file opened is the one mounted on (no second look-up).
   */
  persist(file: string, exclusive = false): void {
    pathString(file, 'path');
    const fd = this.#open();
    let created = false;
    try {
      fs.closeSync(fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o444));
      created = true;
    } catch (err) {
      if (exclusive || (err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let target: number | undefined;
    try {
      // O_PATH|O_NOFOLLOW opens a symlink itself rather than failing: fstat tells.
      target = check(native().open(file, O_PATH | fs.constants.O_NOFOLLOW), 'open', file);
      if (fs.fstatSync(target).isSymbolicLink())
        throw new NsError({ errno: ELOOP, syscall: 'open', path: file, hint: `${file} is a symbolic link: a namespace is persisted on the file itself, never where a link points` });
      check(native().mount(`/proc/self/fd/${fd}`, `/proc/self/fd/${target}`, null, C.MS_BIND, null), 'mount', file, (code) =>
        code === 'EINVAL' && this.type === 'mnt'
          ? `a mount namespace can be persisted only on a mount with private propagation (mount --make-private the directory of ${file})`
          : code === 'EPERM'
            ? 'persisting a namespace bind-mounts it, which needs CAP_SYS_ADMIN in our mount namespace (run as root)'
            : undefined,
      );
    } catch (err) {
      if (created) fs.unlinkSync(file);
      throw err;
    } finally {
      if (target !== undefined) closeFd(target);
    }
  }

  /** Undoes `persist`: unmounts `file` (a symbolic link there is not followed) and removes it. */
  static unpersist(file: string): void {
    pathString(file, 'path');
    check(native().umount(file, C.MNT_DETACH | C.UMOUNT_NOFOLLOW), 'umount2', path.resolve(file));
    fs.unlinkSync(file);
  }

  /** Releases the fd. Further calls that need it throw `EBADF`. */
  close(): void {
    if (this.#fd < 0) return;
    finalizer.unregister(this);
    closeFd(this.#fd);
    this.#fd = -1;
  }

  /** `close()`, for `using ns = Namespace.current('net')`. */
  [Symbol.dispose](): void {
    this.close();
  }

  #open(): number {
    if (this.#fd < 0) throw new NsError({ errno: -9, syscall: 'ioctl', hint: 'this Namespace was closed' });
    return this.#fd;
  }

  #related(request: number, name: string): Namespace {
    const fd = check(native().ioctlNs(this.#open(), request), 'ioctl', undefined, (code) =>
      code === 'EPERM'
        ? `${name}: the ${this.type} namespace ${this} has no parent visible from here (top of our scope)`
        : code === 'EINVAL' && request === C.NS_GET_PARENT
          ? `NS_GET_PARENT works only for pid and user namespaces, not ${this.type}`
          : undefined,
    );
    return Namespace.fromFd(fd);
  }
}
