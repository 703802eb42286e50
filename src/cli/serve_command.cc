// `paymento-bridge serve`: runs the service until SIGTERM or SIGINT.
#include <signal.h>

#include <iostream>

#include "src/cli/commands.h"
#include "src/cli/service.h"
#include "src/config/serve_config.h"
#include "src/logging/log.h"

namespace paymento::bridge {
namespace {

// Blocks SIGTERM and SIGINT in this thread before any other thread starts,
// so every thread inherits the mask and only sigwait receives them.
sigset_t BlockTerminationSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

int WaitForSignal(const sigset_t& signals) {
  int received = 0;
  sigwait(&signals, &received);
  return received;
}

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
                 "(enables gateway callbacks)\n\nflags:\n"
              << config->usage;
    return 0;
  }
  logging::Configure(config->log_format, config->log_level);

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
  service.Shutdown();
  return 0;
}

}  // namespace paymento::bridge
