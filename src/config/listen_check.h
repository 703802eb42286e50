// Explains why a listener cannot bind its address, so that a start-up
// failure names the cause instead of listing the possible ones.
#ifndef PAYMENTO_BRIDGE_SRC_CONFIG_LISTEN_CHECK_H_
#define PAYMENTO_BRIDGE_SRC_CONFIG_LISTEN_CHECK_H_

#include <httplib.h>

#include <thread>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "src/config/serve_config.h"

namespace paymento::bridge {

// Binds a TCP socket to `address` with SO_REUSEADDR, as the listeners do,
// and closes it. Returns OK when the bind succeeds, or an error that names
// the cause: the port in use (Unavailable), an address not on this machine
// (InvalidArgument), or a port below 1024 without the privilege to bind it
// (FailedPrecondition). `what` names the listener in the message.
absl::Status CheckListenAddress(absl::string_view what,
                                const ListenAddress& address);

// Returns the error of a listener whose bind to `address` failed: the
// cause CheckListenAddress finds, or Unavailable when the address can be
// bound again by then.
absl::Status ListenFailure(absl::string_view what,
                           const ListenAddress& address);

// Runs the listen loop of `server`, already bound, on a new thread, and
// returns the thread once the loop has started. cpp-httplib's stop() does
// nothing before then, so a stop right after the start would not end it.
std::thread StartListenLoop(httplib::Server& server);

}  // namespace paymento::bridge

#endif  // PAYMENTO_BRIDGE_SRC_CONFIG_LISTEN_CHECK_H_
