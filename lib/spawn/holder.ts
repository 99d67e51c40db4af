// The process that holds a namespace Namespace.create() makes: nsjs-init
// --hold, spawned on the calling thread in the new namespace (unprivileged,
// inside a new user namespace that maps us to root there), which exits at
// EOF on its stdin once the caller has opened the namespace. Registered into
// ns/ when nsjs is loaded (lib/index.ts imports this file), so that ns/
// never imports spawn/.
import { pid1Binary } from '../core/native';
import type { NamespaceType } from '../core/nstypes';
import { registerHolder } from '../ns/namespace';
import { checkOptions } from './options';
import { spawnCheckedSync } from './spawn';

registerHolder((type) => {
  const rootless = process.geteuid!() !== 0;
  const namespaces: NamespaceType[] = rootless && type !== 'user' ? ['user', type] : [type];
  const holder = spawnCheckedSync(pid1Binary(), ['--hold'], checkOptions({
    namespaces,
    user: namespaces.includes('user') ? (type === 'user' ? 'self' : 'root') : undefined,
    stdio: ['pipe', 'ignore', 'ignore'],
  }));
  // EOF on its stdin lets the helper exit; its Process reaps it.
  return { pid: holder.pid, release: () => holder.stdin!.destroy() };
});
