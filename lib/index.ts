// The package's public names (package.json "main" and "types"), re-exported
// from the rooms; the API reference is built from here (typedoc).
export { NsError } from './core/errors';
export type { NsErrorDetails } from './core/errors';
export type { NamespaceType } from './core/nstypes';
import * as sys from './core/sys';
export { sys };
export { Namespace } from './ns/namespace';
export type { CreateOptions } from './ns/namespace';
export type { NamespaceInfo } from './ns/list';
export { Process, waitpid } from './spawn/process';
export type { ExitStatus, ProcessEvents, WaitpidOptions } from './spawn/process';
export { spawnIsolated } from './spawn/spawn';
export { runIsolated } from './spawn/run';
export { setSpawnConcurrency } from './spawn/spawn';
export type { RunError, RunOptions, RunResult } from './spawn/run';
export { Sandbox } from './sandbox/sandbox';
export type { SandboxOptions, SandboxSpawnOptions, SandboxRunOptions } from './sandbox/sandbox';
export type { Terminal } from './terminal/terminal';
export type { SpawnOptions } from './spawn/options';
export type {
  Mount, ProcMount, TmpfsMount, BindMount, DevMount, OverlayMount, MqueueMount, SysfsMount, DirMount, FileMount, SymlinkMount, DeviceMount, MaskMount, RawMount, TmpfsRoot,
} from './fs/options';
export type { IdMap, UserMapping } from './spawn/user';
export type { StdioEntry } from './spawn/stdio';
export type { RlimitName } from './policy/options';
export { CAPABILITIES } from './policy/options';
export type { CapabilityName } from './policy/options';
export type { SeccompPolicy } from './policy/seccomp';
export { DEFAULT_SECCOMP_DENY } from './policy/seccomp';
export type { LandlockOptions } from './policy/landlock';
export type { JoinTarget } from './spawn/join';
export type { NetworkOptions, VethOptions } from './net/options';
export type { CgroupOptions, CgroupSize } from './cgroup/options';
export type { ResourceUsage } from './cgroup/cgroup';
export * as net from './net';
export type { EgressConnection } from './net/egress';
export { features } from './features/features';
// Namespace.create() spawns its holder through spawn/, which registers it
// into ns/ here, where both are loaded: ns/ never imports spawn/.
import './spawn/holder';
export type { FeatureReport, FeatureCheck, NamespaceSupport, KernelFeatures } from './features/report';
export type { SeccompFlags } from './policy/probe';
