// Waiting without blocking: a uv_poll_t on the pidfd (it turns readable when
// the process exits), then waitid(P_PIDFD, WNOHANG) on the loop thread. No
// thread is parked per child, no SIGCHLD handler is installed, and only the
// one pid is ever reaped, so Node's child_process keeps working beside us.
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <uv.h>

#include <cstdint>

#include <memory>

#include "common.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

// PIDFD_GET_INFO (Linux 6.13; PIDFD_INFO_EXIT 6.15). The system header lags
// the kernel: the ioctl and its struct (PIDFD_INFO_SIZE_VER0) are defined here.
struct NsjsPidfdInfo {
  uint64_t mask;
  uint64_t cgroupid;
  uint32_t pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid;
  int32_t exit_code;
};
static_assert(sizeof(NsjsPidfdInfo) == 64, "PIDFD_INFO_SIZE_VER0");
#define NSJS_PIDFD_GET_INFO _IOWR(0xFF, 11, NsjsPidfdInfo)
#define NSJS_PIDFD_INFO_EXIT (1UL << 3)

namespace nsjs {
namespace {

class PidfdWatch : public Napi::ObjectWrap<PidfdWatch> {
 public:
  static Napi::Function Class(Napi::Env env) {
    return DefineClass(env, "PidfdWatch",
                       {InstanceMethod("start", &PidfdWatch::Start),
                        InstanceMethod("ref", &PidfdWatch::DoRef),
                        InstanceMethod("unref", &PidfdWatch::DoUnref),
                        InstanceMethod("close", &PidfdWatch::Close)});
  }

  // (pidfd, peek, callback(errno, si_code, si_status, reaped)). With peek the
  // status is read with WNOWAIT: the process stays a zombie for its real
  // parent. When waitid says ECHILD because someone else (Node's
  // child_process, on the same loop) reaped it first, the status the kernel
  // kept on the pidfd (PIDFD_INFO_EXIT) is passed with reaped = true.
  explicit PidfdWatch(const Napi::CallbackInfo& info)
      : Napi::ObjectWrap<PidfdWatch>(info),
        fd_(Int(info[0])),
        peek_(info[1].ToBoolean().Value()),
        callback_(Napi::Persistent(info[2].As<Napi::Function>())),
        context_(std::make_unique<Napi::AsyncContext>(info.Env(), "nsjs.wait")) {}

 private:
  Napi::Value Start(const Napi::CallbackInfo& info) {
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(info.Env(), &loop) != napi_ok) return Result(info.Env(), -EINVAL);
    auto* handle = new uv_poll_t;
    int r = uv_poll_init(loop, handle, fd_);
    if (r < 0) {
      delete handle;
      return Napi::Number::New(info.Env(), r);  // libuv errors are -errno on Linux
    }
    handle->data = this;
    r = uv_poll_start(handle, UV_READABLE, OnReadable);
    if (r < 0) {
      uv_close(reinterpret_cast<uv_handle_t*>(handle), OnClosed);
      return Napi::Number::New(info.Env(), r);
    }
    poll_ = handle;
    Ref();  // the JS object must outlive the active handle
    return Napi::Number::New(info.Env(), 0);
  }

  Napi::Value DoRef(const Napi::CallbackInfo& info) {
    if (poll_) uv_ref(reinterpret_cast<uv_handle_t*>(poll_));
    return info.Env().Undefined();
  }

  Napi::Value DoUnref(const Napi::CallbackInfo& info) {
    if (poll_) uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
    return info.Env().Undefined();
  }

  // Stops watching without a callback; the caller closes the pidfd after.
  Napi::Value Close(const Napi::CallbackInfo& info) {
    Stop();
    return info.Env().Undefined();
  }

  void Stop() {
    if (!poll_) return;
    uv_close(reinterpret_cast<uv_handle_t*>(poll_), OnClosed);
    poll_ = nullptr;
    Unref();
  }

  static void OnClosed(uv_handle_t* handle) { delete reinterpret_cast<uv_poll_t*>(handle); }

  static void OnReadable(uv_poll_t* handle, int status, int /*events*/) {
    auto* self = static_cast<PidfdWatch*>(handle->data);
    int err = status;
    siginfo_t si{};
    bool reaped = false;
    if (err == 0) {
      const int flags = WEXITED | WNOHANG | (self->peek_ ? WNOWAIT : 0);
      if (waitid(static_cast<idtype_t>(P_PIDFD), self->fd_, &si, flags) < 0) {
        err = -errno;
        NsjsPidfdInfo pi{};
        pi.mask = NSJS_PIDFD_INFO_EXIT;
        if (err == -ECHILD && ioctl(self->fd_, NSJS_PIDFD_GET_INFO, &pi) == 0 && (pi.mask & NSJS_PIDFD_INFO_EXIT)) {
          reaped = true;
          si.si_code = WIFEXITED(pi.exit_code) ? CLD_EXITED : CLD_KILLED;
          si.si_status = WIFEXITED(pi.exit_code) ? WEXITSTATUS(pi.exit_code) : WTERMSIG(pi.exit_code);
        }
      } else if (si.si_pid == 0) {
        return;  // not exited after all; keep polling
      }
    }
    self->Finish(err, si.si_code, si.si_status, reaped);
  }

  void Finish(int err, int code, int status, bool reaped) {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    // Keep the object alive through the callback even though Stop() unrefs it.
    Napi::Object self = Value();
    Stop();
    callback_.MakeCallback(self, {Napi::Number::New(env, err), Napi::Number::New(env, code),
                                  Napi::Number::New(env, status), Napi::Boolean::New(env, reaped)},
                           *context_);
    if (env.IsExceptionPending()) {
      Napi::Error e = env.GetAndClearPendingException();
      napi_fatal_exception(env, e.Value());
    }
  }

  int fd_;
  bool peek_;
  uv_poll_t* poll_ = nullptr;
  Napi::FunctionReference callback_;
  std::unique_ptr<Napi::AsyncContext> context_;
};

}  // namespace

void InitWait(Napi::Env env, Napi::Object exports) {
  exports.Set("PidfdWatch", PidfdWatch::Class(env));
}

}  // namespace nsjs
