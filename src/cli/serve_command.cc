// `paymento-bridge serve`: runs the service until SIGTERM or SIGINT.
#include <google/protobuf/stubs/logging.h>
#include <grpc/support/log.h>
#include <signal.h>

#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "src/cli/commands.h"
#include "src/cli/service.h"
#include "src/config/serve_config.h"
#include "src/logging/log.h"

namespace paymento::bridge {
namespace {

// Blocks SIGTERM and SIGINT in this thread before any other thread starts,
// so every thread inherits the mask and only sigwait receives them, and
// ignores SIGPIPE.
sigset_t BlockTerminationSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  // OpenSSL writes HTTPS responses with write(), which raises SIGPIPE when
  // the client has gone; the failed write is handled instead.
  signal(SIGPIPE, SIG_IGN);
  return signals;
}

int WaitForSignal(const sigset_t& signals) {
  int received = 0;
  sigwait(&signals, &received);
  return received;
}

// Writes gRPC core's own log lines through the service's logger, so that
// every line has the configured format. Errors become warnings, because the
// service logs its own error line for each failure that stops it.
void LogGrpcCore(gpr_log_func_args* args) {
  logging::Fields fields = {
      {"source", absl::StrCat(args->file, ":", args->line)},
      {"detail", args->message}};
  if (args->severity == GPR_LOG_SEVERITY_ERROR) {
    logging::Warn("grpc core error", fields);
  } else {
    logging::Debug("grpc core", fields);
  }
}

// Routes protobuf's own messages into the service's log, so that every line
// has the configured format. The usual one is a request string that is not
// valid UTF-8, and its client gets an error status, so errors become
// warnings.
void LogProtobuf(google::protobuf::LogLevel level, const char* filename,
                 int line, const std::string& message) {
  logging::Fields fields = {{"source", absl::StrCat(filename, ":", line)},
                            {"detail", message}};
  if (level == google::protobuf::LOGLEVEL_FATAL) {
    logging::Error("protobuf fatal error", fields);
    logging::Flush();
  } else if (level == google::protobuf::LOGLEVEL_ERROR) {
    logging::Warn("protobuf error", fields);
  } else {
    logging::Debug("protobuf", fields);
  }
}

// Ends the process with status 1 when a graceful shutdown takes longer than
// --shutdown-timeout, for example because a request never finishes. Every
// webhook answered 200 is committed already, so exiting loses nothing.
class ShutdownWatchdog {
 public:
  explicit ShutdownWatchdog(absl::Duration timeout)
      : thread_([this, timeout] { Watch(timeout); }) {}
  ~ShutdownWatchdog() {
    finished_.Notify();
    thread_.join();
  }

 private:
  void Watch(absl::Duration timeout) {
    if (finished_.WaitForNotificationWithTimeout(timeout)) return;
    logging::Error("shutdown timed out, exiting",
                   {{"shutdown_timeout", absl::FormatDuration(timeout)}});
    // _Exit skips the exit-time flush of the buffered access lines.
    logging::Flush();
    std::_Exit(1);
  }

  absl::Notification finished_;
  std::thread thread_;
};

}  // namespace

int RunServe(const std::vector<std::string>& args) {
  sigset_t signals = BlockTerminationSignals();
  absl::StatusOr<ServeConfig> config =
      ParseServeConfig(args, ProcessEnvironment());
  if (!config.ok()) {
    std::cerr << "paymento-bridge serve: " << config.status().message()
              << "\n";
    return 2;
  }
  if (config->help) {
    std::cout << "usage: paymento-bridge serve [flags]\n\n"
              << "Secrets come from the environment only:\n"
              << "  PAYMENTO_WEBHOOK_SECRET or PAYMENTO_WEBHOOK_SECRET_FILE "
                 "(required)\n"
              << "  PAYMENTO_IPN_SECRET or PAYMENTO_IPN_SECRET_FILE "
                 "(enables gateway callbacks)\n"
              << "  PAYMENTO_BRIDGE_GRPC_TOKEN or PAYMENTO_BRIDGE_GRPC_TOKEN_FILE "
                 "(bearer token of gRPC clients)\n"
              << "  PAYMENTO_BRIDGE_ADMIN_TOKEN or "
                 "PAYMENTO_BRIDGE_ADMIN_TOKEN_FILE (bearer token of gRPC "
                 "administration)\n\nflags:\n"
              << config->usage;
    return 0;
  }
  logging::Configure(config->log_format, config->log_level);
  // Debian builds Abseil without NDEBUG, so every absl::Mutex acquisition
  // would run the lock-order check meant for debug builds, which takes a
  // process-wide spin lock. The unit tests keep the check.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  gpr_set_log_function(LogGrpcCore);
  google::protobuf::SetLogHandler(LogProtobuf);

  Service service(*config);
  absl::Status started = service.Start();
  if (!started.ok()) {
    logging::Error("start-up failed",
                   {{"error", std::string(started.message())}});
    service.Shutdown();
    bool configuration = started.code() == absl::StatusCode::kInvalidArgument ||
                         started.code() ==
                             absl::StatusCode::kFailedPrecondition;
    return configuration ? 2 : 1;
  }
  int received = WaitForSignal(signals);
  logging::Info("signal received",
                {{"signal", received == SIGTERM ? "SIGTERM" : "SIGINT"}});
  ShutdownWatchdog watchdog(config->shutdown_timeout);
  service.Shutdown();
  logging::Flush();
  return 0;
}

}  // namespace paymento::bridge
