// Entering a sandbox through an exec'd helper (kOpEnter of spawn/plan.h).
//
// Joining a user or time namespace needs a single-threaded mm
// (current_is_single_threaded), so a child that shares Node's memory cannot,
// and a fork-style copy of Node costs its page tables (~0.8 ms at 64 MB RSS
// here). Instead the first child, still vfork-style, execs nsjs-init
// --enter from its sealed memfd: a static executable of a few hundred KiB,
// single-threaded by birth, which reads the rest of the plan from a memfd
// the parent wrote before clone and walks it exactly as the first child
// would have (spawn/child.cc ContinuePlan): the setns on the holder's pidfd,
// the clone of the command (vfork-style, CLONE_PARENT: still our child),
// and every op of the policy. Nothing of the plan is skipped or redone; the
// op indexes in its reports are the plan's own.
#pragma once

#include <string>

#include "../spawn/plan.h"

namespace nsjs {
namespace spawn {

// Parent, before clone: when the plan holds a kOpEnter op, writes the plan
// into a sealed memfd (its fd returned, above min_fd, for the caller to
// close after clone) and lays out the helper's argv and the fds it must
// inherit. 0 when there is no such op; -errno (with *syscall) on failure,
// -EINVAL for a plan EnterChildMain cannot run: a second kOpEnter, or
// another op than a cgroup join before it.
int PrepareEnter(Plan* plan, int min_fd, const char** syscall_name);

// Whether the first child runs beside the thread that cloned it (CLONE_VM
// without CLONE_VFORK): only where EnterChildMain has raw system calls.
#if defined(__x86_64__) || defined(__aarch64__)
constexpr bool kEnterBesideParent = true;
#else
constexpr bool kEnterBesideParent = false;
#endif

// The first child's entry point for a plan with kOpEnter (in place of
// ChildMain): the cgroup joins before it, then the exec of the helper,
// keeping the fds the rest of the plan names. Raw system calls only (see
// enter.cc). Never returns.
int EnterChildMain(void* plan);

// nsjs-init --enter PLANFD: reads the plan and runs it from the op after
// kOpEnter. Never returns: the plan ends in execve or a reported failure.
[[noreturn]] void EnterMain(int plan_fd);

// The gate: a sandbox's way in that is there before the command. A sandbox
// with a pid namespace starts one nsjs-init --gate beside its holder (our
// child, in the sandbox's cgroups, every namespace of the holder joined but
// its pid namespace, which only its children enter); a command's plan whose
// kOpEnter carries kEnterGate goes to it as a message (the plan's memfd and
// every fd the plan names), and it clones the command straight into the
// sandbox with CLONE_PARENT, so that the command is our child: no exec of a
// helper, no setns, no second clone per command.
constexpr uint64_t kEnterGate = 1;  // kOpEnter flags: through the gate whose socket is b64

// Parent: the gate's socket the plan's kOpEnter names, or -1.
int GateOf(const Plan& plan);

// Parent, after PrepareEnter: sends the plan's memfd (the last of
// plan.enter_fds) and the fds it names to the gate. 0 or -errno.
int GateSend(int gate, const Plan& plan);

// nsjs-init --gate MASK: with the request socket on fd 0, fd 1 to say it is
// ready (one byte, then closed) and the holder's pidfd on fd 3, joins the
// namespaces in MASK and serves requests until EOF. Exits with the errno
// of a setns that failed.
[[noreturn]] void GateMain(uint64_t mask);

}  // namespace spawn
}  // namespace nsjs
