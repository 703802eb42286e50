// BridgeProcess: runs the real paymento-bridge binary for integration tests,
// on free loopback ports with its own temporary data directory, and stops
// it with a signal.
#ifndef PAYMENTO_BRIDGE_TESTS_TESTING_BRIDGE_PROCESS_H_
#define PAYMENTO_BRIDGE_TESTS_TESTING_BRIDGE_PROCESS_H_

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace paymento::bridge::test_support {

// Returns a TCP port on 127.0.0.1 that was free a moment ago.
int FreePort();

// Creates a new empty directory under $TMPDIR (default /tmp). It is deleted
// with its contents when the test process exits normally, unless the
// environment variable PAYMENTO_BRIDGE_TEST_KEEP_TEMP is set to a value
// other than 0. A process killed by a signal, as on a CTest timeout, leaves
// its directories behind, and the first call in a later test process
// removes them.
std::string MakeTempDirectory();

// Removes the directories under `base` that MakeTempDirectory made in test
// processes that no longer run.
void RemoveOrphanedTempDirectories(const std::string& base);

struct BridgeOptions {
  std::string data_directory;
  // The --store URL; empty means the SQLite file events.db in
  // data_directory.
  std::string store_url;
  std::map<std::string, std::string> environment;
  std::vector<std::string> extra_args;
};

class BridgeProcess {
 public:
  explicit BridgeProcess(BridgeOptions options);
  ~BridgeProcess();

  // Starts the binary and waits until /readyz returns 200.
  absl::Status Start(absl::Duration timeout = absl::Seconds(20));
  // Sends `signal` and waits for the exit; returns the exit status as
  // waitpid reports it.
  int Stop(int signal, absl::Duration timeout = absl::Seconds(20));
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

  std::string webhook_url() const;
  std::string http_base() const;
  std::string grpc_address() const;
  std::string admin_base() const;
  int http_port() const { return http_port_; }
  int admin_port() const { return admin_port_; }
  const std::string& store_path() const { return store_path_; }
  // Everything the process wrote to stdout and stderr so far.
  std::string Output() const;
  // Waits up to `timeout` for the output to contain `text`. Access lines
  // reach the output up to logging::kFlushInterval after their request.
  bool WaitForOutput(absl::string_view text,
                     absl::Duration timeout = absl::Seconds(5)) const;

 private:
  BridgeOptions options_;
  std::string store_path_;
  std::string log_path_;
  int http_port_ = 0;
  int grpc_port_ = 0;
  int admin_port_ = 0;
  pid_t pid_ = -1;
};

// Runs the binary with `args` and `environment`, waits for it to exit, and
// returns its exit code; its output goes to `output`.
int RunBridgeCommand(const std::vector<std::string>& args,
                     const std::map<std::string, std::string>& environment,
                     std::string* output,
                     absl::Duration timeout = absl::Seconds(30));

// The path of the binary under test, from the PAYMENTO_BRIDGE_BINARY
// compile definition.
std::string BridgeBinary();

}  // namespace paymento::bridge::test_support

#endif  // PAYMENTO_BRIDGE_TESTS_TESTING_BRIDGE_PROCESS_H_
