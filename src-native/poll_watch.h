// A uv_poll_t on one fd that calls a JS function once: the base of
// PidfdWatch (spawn/wait.cc) and ConnectWatch (net/net.cc).
//
// Teardown. Node ends an environment (the main thread at exit, a worker when
// it stops) in Environment::RunCleanup: it closes its own handles and spins
// the loop (CleanupHandles) with JS already disallowed, *then* runs the
// cleanup hooks (one of them frees the napi_env and finalizes every
// ObjectWrap), then spins the loop again. So a poll that fires in the first
// spin must not call into JS (napi refuses with napi_pending_exception and no
// exception pending: the event is dropped, as Node drops its own), and one
// still open when the hooks run is closed by ours: the loop never calls into
// a freed object, and a worker's loop closes with no handle of ours left
// (node's CheckedUvLoopClose aborts on one).
#pragma once

#include <napi.h>
#include <uv.h>

#include <initializer_list>
#include <memory>

namespace nsjs {

template <typename T>
class PollWatch : public Napi::ObjectWrap<T> {
 protected:
  PollWatch(const Napi::CallbackInfo& info, int fd, const Napi::Value& callback, const char* resource)
      : Napi::ObjectWrap<T>(info),
        fd_(fd),
        callback_(Napi::Persistent(callback.As<Napi::Function>())),
        context_(std::make_unique<Napi::AsyncContext>(info.Env(), resource)) {}

  // 0, or a libuv error (-errno on Linux).
  int StartPoll(Napi::Env env, int events) {
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok) return -EINVAL;
    if (napi_add_env_cleanup_hook(env, Cleanup, this) != napi_ok) return -ENOMEM;
    auto* handle = new uv_poll_t;
    int r = uv_poll_init(loop, handle, fd_);
    if (r < 0) {
      delete handle;
      napi_remove_env_cleanup_hook(env, Cleanup, this);
      return r;
    }
    handle->data = this;
    r = uv_poll_start(handle, events, OnEvent);
    if (r < 0) {
      uv_close(reinterpret_cast<uv_handle_t*>(handle), OnClosed);
      napi_remove_env_cleanup_hook(env, Cleanup, this);
      return r;
    }
    poll_ = handle;
    this->Ref();  // the JS object must outlive the active handle
    return 0;
  }

  // Stops watching without a callback; safe to call more than once.
  void Stop() {
    if (!poll_) return;
    uv_poll_stop(poll_);  // drops the fd from epoll now, not at close time
    uv_close(reinterpret_cast<uv_handle_t*>(poll_), OnClosed);
    poll_ = nullptr;
    napi_remove_env_cleanup_hook(this->Env(), Cleanup, this);
    this->Unref();
  }

  uv_poll_t* poll() const { return poll_; }
  int fd() const { return fd_; }

  // Stops, then calls the callback with args, once. A callback that throws
  // is an uncaught exception, as for Node's own callbacks.
  void Deliver(std::initializer_list<napi_value> args) {
    Napi::Env env = this->Env();
    Napi::Object self = this->Value();  // alive through the call though Stop() unrefs it
    Stop();
    napi_value ignored;
    const napi_status s = napi_make_callback(env, *context_, self, callback_.Value(), args.size(), args.begin(), &ignored);
    bool pending = false;
    if (s != napi_ok && napi_is_exception_pending(env, &pending) == napi_ok && pending) {
      napi_value e;
      if (napi_get_and_clear_last_exception(env, &e) == napi_ok) napi_fatal_exception(env, e);
    }
  }

 private:
  static void OnEvent(uv_poll_t* handle, int status, int events) {
    static_cast<T*>(handle->data)->OnPoll(status, events);
  }
  static void OnClosed(uv_handle_t* handle) { delete reinterpret_cast<uv_poll_t*>(handle); }

  // The environment is going: no callback any more, no reference kept.
  static void Cleanup(void* arg) {
    auto* self = static_cast<PollWatch*>(arg);
    self->Stop();
    self->callback_.Reset();
    self->context_.reset();
  }

  int fd_;
  uv_poll_t* poll_ = nullptr;
  Napi::FunctionReference callback_;
  std::unique_ptr<Napi::AsyncContext> context_;
};

}  // namespace nsjs
