// Waiting without blocking: a uv_poll_t on the pidfd (it turns readable when
// the process exits), then waitid(P_PIDFD, WNOHANG) on the loop thread. No
// thread is parked per child, no SIGCHLD handler is installed, and only the
// one pid is ever reaped, so Node's child_process keeps working beside us.
#include <sys/wait.h>
#include <uv.h>

#include <cstdint>

#include "../common.h"
#include "../poll_watch.h"
#include "pidfd.h"

namespace nsjs {
namespace {

class PidfdWatch : public PollWatch<PidfdWatch> {
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
      : PollWatch<PidfdWatch>(info, Int(info[0]), info[2], "nsjs.wait"), peek_(info[1].ToBoolean().Value()) {}

  void OnPoll(int status, int /*events*/) {
    int err = status;
    siginfo_t si{};
    bool reaped = false;
    if (err == 0) {
      const int flags = WEXITED | WNOHANG | (peek_ ? WNOWAIT : 0);
      if (waitid(static_cast<idtype_t>(P_PIDFD), fd(), &si, flags) < 0) {
        err = -errno;
        NsjsPidfdInfo pi{};
        pi.mask = NSJS_PIDFD_INFO_EXIT;
        if (err == -ECHILD && ioctl(fd(), NSJS_PIDFD_GET_INFO, &pi) == 0 && (pi.mask & NSJS_PIDFD_INFO_EXIT)) {
          reaped = true;
          si.si_code = WIFEXITED(pi.exit_code) ? CLD_EXITED : CLD_KILLED;
          si.si_status = WIFEXITED(pi.exit_code) ? WEXITSTATUS(pi.exit_code) : WTERMSIG(pi.exit_code);
        }
      } else if (si.si_pid == 0) {
        return;  // not exited after all; keep polling
      }
    }
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    Deliver({Napi::Number::New(env, err), Napi::Number::New(env, si.si_code), Napi::Number::New(env, si.si_status),
             Napi::Boolean::New(env, reaped)});
  }

 private:
  Napi::Value Start(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), StartPoll(info.Env(), UV_READABLE)); }

  Napi::Value DoRef(const Napi::CallbackInfo& info) {
    if (poll()) uv_ref(reinterpret_cast<uv_handle_t*>(poll()));
    return info.Env().Undefined();
  }

  Napi::Value DoUnref(const Napi::CallbackInfo& info) {
    if (poll()) uv_unref(reinterpret_cast<uv_handle_t*>(poll()));
    return info.Env().Undefined();
  }

  // Stops watching without a callback; the caller closes the pidfd after.
  Napi::Value Close(const Napi::CallbackInfo& info) {
    Stop();
    return info.Env().Undefined();
  }

  bool peek_;
};

}  // namespace

void InitWait(Napi::Env env, Napi::Object exports) {
  exports.Set("PidfdWatch", PidfdWatch::Class(env));
}

}  // namespace nsjs
