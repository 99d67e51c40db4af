{
  "variables": {
    # Warnings are errors in our CI builds only (.ci/run sets NSJS_WERROR=1,
    # for gcc and clang): the compile fallback on a user's machine, with a
    # compiler or headers newer than ours, must never fail on a warning.
    # GYP_DEFINES=nsjs_werror=1 sets it too.
    "nsjs_werror%": "<!(node -p \"process.env.NSJS_WERROR === '1' ? 1 : 0\")"
  },
  "target_defaults": {
    # Only common.gypi's GNU dialect is taken out, for ISO C++17. Not its
    # -fno-exceptions: a "!" list filters the merged flags, so it would also
    # drop the -fno-exceptions the targets add back.
    "cflags_cc!": ["-std=gnu++17", "-std=gnu++20"],
    "cflags": ["-Wall", "-Wextra"],
    "conditions": [
      ["nsjs_werror==1", { "cflags": ["-Werror"] }]
    ]
  },
  "targets": [
    {
      "target_name": "nsjs",
      # CMakeLists.txt (cmake-js) builds the same sources with the same
      # defines and flags: keep the two in sync.
      # With nsjs-child's sources (below), linked in from its archive.
      "sources": [
        "src-native/addon.cc",
        "src-native/fd.cc",
        "src-native/ns/ns.cc",
        "src-native/fs/mount.cc",
        "src-native/policy/seccomp.cc",
        "src-native/cgroup/files.cc",
        "src-native/net/net.cc",
        "src-native/spawn/pidfd.cc",
        "src-native/spawn/wait.cc",
        "src-native/spawn/plan.cc",
        "src-native/spawn/parent.cc",
        "src-native/spawn/exe.cc",
        "src-native/features/probe.cc",
        "src-native/terminal/terminal.cc"
      ],
      "dependencies": ["nsjs-child"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      # NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS: while Node tears an
      # environment down (JS disallowed) a failed napi call is dropped
      # instead of node-addon-api's fatal "napi_throw" (src-native/poll_watch.h).
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED",
                  "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
      "cflags_cc": ["-std=c++17", "-fno-exceptions"]
    },
    {
      # The child's half of a spawn, compiled once for the addon and for
      # nsjs-init --enter: its op files, CloneWithStack (spawn/clone.cc) and
      # sandbox/enter.cc. With the addon's defines (addon.gypi gives
      # BUILDING_NODE_EXTENSION to the loadable module alone), and position
      # independent as the addon's own objects; in nsjs-init's static link,
      # --gc-sections drops what it does not call.
      "target_name": "nsjs-child",
      "type": "static_library",
      "sources": [
        "src-native/spawn/child.cc",
        "src-native/spawn/clone.cc",
        "src-native/fs/mounts.cc",
        "src-native/fs/idmap.cc",
        "src-native/policy/caps.cc",
        "src-native/policy/restrict.cc",
        "src-native/cgroup/cgroup.cc",
        "src-native/net/netlink.cc",
        "src-native/terminal/child.cc",
        "src-native/sandbox/enter.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED",
                  "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS", "BUILDING_NODE_EXTENSION"],
      "cflags": ["-fPIC"],
      # RTTI as the addon's own objects (not nsjs-init's -fno-rtti): napi.h's
      # inline vtables come out of every object, and UBSan's vptr check in
      # the sanitizer build fails on a copy without type info.
      "cflags_cc": ["-std=c++17", "-fno-exceptions", "-ffunction-sections", "-fdata-sections"]
    },
    {
      # PID 1 of a pid namespace with init: true. Static, so it maps no
      # shared libraries: its whole footprint is a few hundred KiB.
      "target_name": "nsjs-init",
      "type": "executable",
      # --enter runs the child's half of a spawn plan (nsjs-child). Where
      # nsjs-pid1 is built (below), that runs init: true and --hold instead.
      "sources": ["src-native/init/init.cc"],
      "dependencies": ["nsjs-child"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      # napi.h comes in through spawn/plan.h; nothing of it is called, and
      # --gc-sections drops the inline bodies that would want libnode.
      "cflags_cc": ["-std=c++17", "-fno-exceptions", "-fno-rtti", "-ffunction-sections", "-fdata-sections"],
      "ldflags": ["-static", "-Wl,--gc-sections"]
    },
    {
      # nsjs-oci's native front (src-native/oci/front.cc): start, state,
      # kill and delete without a Node start-up; execs bin/nsjs-oci.js for
      # the rest. Static as nsjs-init, and for the same reason.
      "target_name": "nsjs-oci",
      "type": "executable",
      "sources": ["src-native/oci/front.cc"],
      "cflags_cc": ["-std=c++17", "-fno-exceptions", "-fno-rtti"],
      "ldflags": ["-static"]
    }
  ],
  "conditions": [
    ["target_arch=='x64' or target_arch=='arm64'", {
      "targets": [
        {
          # init: true's PID 1 and --hold on raw system calls (init/fast.cc,
          # init/pid1.cc): freestanding, no libc linked, so that its exec
          # maps a few KiB in one segment of code and one of bss.
          "target_name": "nsjs-pid1",
          "type": "executable",
          "sources": ["src-native/init/fast.cc", "src-native/init/pid1.cc"],
          "cflags": ["-fno-stack-protector", "-fno-asynchronous-unwind-tables"],
          "cflags_cc": ["-std=c++17", "-fno-exceptions", "-fno-rtti", "-ffunction-sections", "-fdata-sections"],
          "ldflags": ["-static", "-nostdlib", "-Wl,--gc-sections", "-Wl,-e,nsjs_init_entry", "-Wl,-z,norelro",
                      "-Wl,-z,noseparate-code", "-Wl,--build-id=none"]
        }
      ]
    }]
  ]
}
