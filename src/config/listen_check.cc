#include "src/config/listen_check.h"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace paymento::bridge {
namespace {

std::string FailurePrefix(absl::string_view what,
                          const ListenAddress& address) {
  return absl::StrCat("cannot listen for ", what, " on ", address.ToString(),
                      ": ");
}

// Returns 0 when a socket binds to one of `addresses`, else the errno of
// the first failure. cpp-httplib listens on the first address that binds,
// and "localhost" can resolve to two.
int BindError(const addrinfo* addresses) {
  int first_error = 0;
  for (const addrinfo* candidate = addresses; candidate != nullptr;
       candidate = candidate->ai_next) {
    int fd = socket(candidate->ai_family, candidate->ai_socktype | SOCK_CLOEXEC,
                    candidate->ai_protocol);
    int error = 0;
    if (fd < 0) {
      error = errno;
    } else {
      int enabled = 1;
      setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &enabled, sizeof(enabled));
      if (bind(fd, candidate->ai_addr, candidate->ai_addrlen) != 0) {
        error = errno;
      }
      close(fd);
    }
    if (error == 0) return 0;
    if (first_error == 0) first_error = error;
  }
  return first_error;
}

}  // namespace

absl::Status CheckListenAddress(absl::string_view what,
                                const ListenAddress& address) {
  const std::string prefix = FailurePrefix(what, address);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* addresses = nullptr;
  const std::string port_text = absl::StrCat(address.port);
  int resolved =
      getaddrinfo(address.host.empty() ? nullptr : address.host.c_str(),
                  port_text.c_str(), &hints, &addresses);
  if (resolved != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(prefix, "cannot resolve \"", address.host,
                     "\": ", gai_strerror(resolved)));
  }
  int error = BindError(addresses);
  freeaddrinfo(addresses);

  switch (error) {
    case 0:
      return absl::OkStatus();
    case EADDRINUSE:
      return absl::UnavailableError(absl::StrCat(
          prefix, "port ", address.port,
          " is in use; stop the process that uses it or choose another "
          "port"));
    case EADDRNOTAVAIL:
      return absl::InvalidArgumentError(absl::StrCat(
          prefix, address.host,
          " is not an address of this machine; use one of its addresses, "
          "0.0.0.0 for all of them, or 127.0.0.1"));
    case EACCES:
      return absl::FailedPreconditionError(absl::StrCat(
          prefix, "port ", address.port,
          " needs root or the CAP_NET_BIND_SERVICE capability; use a port "
          "from 1024 up"));
    default:
      return absl::UnavailableError(absl::StrCat(prefix, std::strerror(error)));
  }
}

absl::Status ListenFailure(absl::string_view what,
                           const ListenAddress& address) {
  absl::Status cause = CheckListenAddress(what, address);
  if (!cause.ok()) return cause;
  return absl::UnavailableError(
      absl::StrCat(FailurePrefix(what, address),
                   "the bind failed, but the address is free now; start "
                   "again"));
}

std::thread StartListenLoop(httplib::Server& server) {
  std::thread loop([&server] { server.listen_after_bind(); });
  // The loop marks the server running as its first step, so the deadline
  // only guards against a cpp-httplib that does otherwise.
  absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (!server.is_running() && absl::Now() < deadline) {
    absl::SleepFor(absl::Microseconds(100));
  }
  return loop;
}

}  // namespace paymento::bridge
