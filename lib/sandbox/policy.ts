// A command's own policy inside a sandbox: narrower than the sandbox's is
// accepted, wider is refused. The sandbox's policy is what every command
// gets again (sandbox.ts); a command may ask for less of it, never more,
// since joining alone would let it keep whatever we hold.
import * as fs from 'node:fs';

import { invalidArgValue } from '../core/errors';
import { plainObject, record } from '../core/validate';
import { landlockBeyond, landlockLayers } from '../policy/landlock';
import { CAPABILITIES, RLIMITS, checkPolicyOptions, type PolicyChecked } from '../policy/options';

/** The policy options a command may narrow; every other policy option is the sandbox's. */
export const NARROWABLE = ['capabilities', 'rlimits', 'noNewPrivileges', 'newSession', 'uid', 'gid', 'groups', 'seccomp', 'landlock'] as const;

/**
 * A command's `seccomp`: only more refusals (`deny`, with `errno` for those
 * that name none), added to the sandbox's own profile, whose base, allow
 * list and errno stay as they are; anything else could lift a refusal and
 * is ERR_INVALID_ARG_VALUE. Returns the profile the command gets.
 */
export function narrowSeccomp(sandbox: unknown, command: unknown): unknown {
  if (typeof command !== 'object' || command === null)
    throw invalidArgValue('options.seccomp', command, "would widen the sandbox's policy: a command may only add refusals ({ deny, errno })");
  const c = plainObject(command, 'options.seccomp');
  for (const key of Object.keys(c))
    if (key !== 'deny' && key !== 'errno' && c[key] !== undefined)
      throw invalidArgValue(`options.seccomp.${key}`, c[key], "would widen the sandbox's policy: a command may only add refusals (deny, errno)");
  if (c.deny === undefined) return sandbox;
  if (!Array.isArray(c.deny)) return command; // checkPolicyOptions names the type
  const own = c.errno === undefined ? c.deny : c.deny.map((d: unknown) => (typeof d === 'string' ? record({ syscall: d, errno: c.errno }) : d));
  const base: Record<string, unknown> = sandbox === undefined || sandbox === 'default' ? record({ base: 'default' }) : sandbox === false ? record({ base: 'none' }) : plainObject(sandbox, 'options.seccomp');
  const deny = Array.isArray(base.deny) ? base.deny : [];
  return record({ ...base, deny: [...deny, ...own] });
}

/**
 * A command's `landlock`: its own ruleset, enforced after the sandbox's as
 * a second layer (the kernel checks both, so it only narrows), or alone in
 * a sandbox without one. checkNarrower refuses rules asking for what the
 * sandbox's do not give. Returns the option the command's spawn gets.
 */
export function narrowLandlock(sandbox: unknown, command: unknown): unknown {
  return sandbox === undefined ? command : landlockLayers(sandbox, command);
}

const CAP_SETGID = CAPABILITIES.indexOf('CAP_SETGID');
const CAP_SETUID = CAPABILITIES.indexOf('CAP_SETUID');

/** What the sandbox's commands hold, to compare a command's own ask with. */
export interface SandboxPolicy {
  checked: PolicyChecked;
  /** The capability bits its commands keep. */
  capabilities: ReadonlySet<number>;
}

/**
 * The capabilities a sandbox's commands keep: `capabilities.keep` as given;
 * without it, the namespaced set where the sandbox has a user namespace of
 * its own, and none as real root (policy/plan.ts capabilityMask).
 */
export function sandboxPolicy(checked: PolicyChecked, ownUserNs: boolean): SandboxPolicy {
  const all = CAPABILITIES.map((_, bit) => bit);
  const keep = checked.keepCapabilities ?? (ownUserNs ? all : []);
  return { checked, capabilities: new Set(keep) };
}

/** Our own limits, in RLIMIT order (/proc/self/limits lists them so): what a command inherits where the sandbox sets none. */
function ownLimits(): [number, number][] {
  const lines = fs.readFileSync('/proc/self/limits', 'latin1').split('\n').slice(1);
  const n = (v: string) => (v === 'unlimited' ? -1 : Number(v));
  return lines.filter(Boolean).map((l) => {
    const [soft, hard] = l.slice(26).trim().split(/\s+/);
    return [n(soft), n(hard)];
  });
}

/** a ≤ b, with -1 as unlimited. */
const within = (a: number, b: number) => b === -1 || (a !== -1 && a <= b);

/**
 * Checks the command's policy options `o` (a snapshot's values) against the
 * sandbox's: each one given must ask for no more than the sandbox holds.
 * Throws ERR_INVALID_ARG_VALUE naming the option that would widen it.
 */
export function checkNarrower(o: Readonly<Record<string, unknown>>, sandbox: SandboxPolicy): void {
  const own = record<Record<string, unknown>>({});
  for (const key of NARROWABLE) if (o[key] !== undefined) own[key] = o[key];
  if (Object.keys(own).length === 0) return;
  const s = sandbox.checked;
  const wider = (name: string, value: unknown, why: string) => invalidArgValue(name, value, `would widen the sandbox's policy: ${why}`);
  if (s.landlock && own.landlock !== undefined && (typeof own.landlock !== 'object' || own.landlock === null))
    throw wider('options.landlock', own.landlock, "a command may only add a ruleset of its own to the sandbox's");
  const c = checkPolicyOptions(own);
  (c.keepCapabilities ?? []).forEach((bit, i) => {
    if (!sandbox.capabilities.has(bit)) throw wider(`options.capabilities.keep[${i}]`, CAPABILITIES[bit], 'the sandbox does not keep it');
  });
  if (c.rlimits.length > 0) {
    const ours = ownLimits();
    for (const [resource, soft, hard] of c.rlimits) {
      const name = Object.keys(RLIMITS)[resource];
      const limit = s.rlimits.find(([r]) => r === resource) ?? [resource, ...ours[resource]];
      if (!within(hard, limit[2]) || !within(soft, limit[2]))
        throw wider(`options.rlimits.${name}`, o.rlimits && (o.rlimits as Record<string, unknown>)[name], `above the sandbox's hard limit (${limit[2] === -1 ? 'unlimited' : limit[2]})`);
    }
  }
  if (c.landlock && s.landlock) {
    const beyond = landlockBeyond(own.landlock, c.landlock, s.landlock);
    if (beyond) throw wider(...beyond);
  }
  if (own.noNewPrivileges !== undefined && s.noNewPrivileges && !c.noNewPrivileges)
    throw wider('options.noNewPrivileges', own.noNewPrivileges, 'the sandbox sets no_new_privs');
  if (own.newSession !== undefined && s.newSession && !c.newSession)
    throw wider('options.newSession', own.newSession, "the sandbox's commands never share our session (TIOCSTI)");
  // Another id is no wider where the command could take it itself.
  if (c.uid !== undefined && c.uid !== s.uid && !sandbox.capabilities.has(CAP_SETUID))
    throw wider('options.uid', c.uid, "another uid than the sandbox's, which keeps no CAP_SETUID");
  for (const key of ['gid', 'groups'] as const) {
    if (c[key] === undefined || sandbox.capabilities.has(CAP_SETGID)) continue;
    if (JSON.stringify(c[key]) !== JSON.stringify(s[key])) throw wider(`options.${key}`, c[key], `another ${key} than the sandbox's, which keeps no CAP_SETGID`);
  }
}
