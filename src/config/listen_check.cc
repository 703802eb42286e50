#include "src/config/listen_check.h"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace paymento::bridge {
namespace {

// Returns "host:port", with brackets around an IPv6 host.
std::string AddressText(absl::string_view host, int port) {
  if (absl::StrContains(host, ':')) return absl::StrCat("[", host, "]:", port);
  return absl::StrCat(host, ":", port);
}

}  // namespace

absl::Status CheckListenAddress(absl::string_view what, absl::string_view host,
                                int port) {
  std::string prefix = absl::StrCat("cannot listen for ", what, " on ",
                                    AddressText(host, port), ": ");
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* addresses = nullptr;
  std::string host_text(host);
  std::string port_text = absl::StrCat(port);
  int resolved = getaddrinfo(host_text.empty() ? nullptr : host_text.c_str(),
                             port_text.c_str(), &hints, &addresses);
  if (resolved != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        prefix, "cannot resolve \"", host, "\": ", gai_strerror(resolved)));
  }
  // "localhost" can give two addresses. The listeners take the first
  // that binds, and the first error names the cause.
  int error = 0;
  for (addrinfo* candidate = addresses; candidate != nullptr;
       candidate = candidate->ai_next) {
    int fd = socket(candidate->ai_family, candidate->ai_socktype | SOCK_CLOEXEC,
                    candidate->ai_protocol);
    int failure = 0;
    if (fd < 0) {
      failure = errno;
    } else {
      int enabled = 1;
      setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &enabled, sizeof(enabled));
      if (bind(fd, candidate->ai_addr, candidate->ai_addrlen) != 0) {
        failure = errno;
      }
      close(fd);
    }
    if (failure == 0) {
      error = 0;
      break;
    }
    if (error == 0) error = failure;
  }
  freeaddrinfo(addresses);

  switch (error) {
    case 0:
      return absl::OkStatus();
    case EADDRINUSE:
      return absl::UnavailableError(absl::StrCat(
          prefix, "port ", port,
          " is in use; stop the process that holds it or choose another "
          "port"));
    case EADDRNOTAVAIL:
      return absl::InvalidArgumentError(absl::StrCat(
          prefix, host,
          " is not an address of this machine; use one of its addresses, "
          "0.0.0.0 for all of them, or 127.0.0.1"));
    case EACCES:
      return absl::FailedPreconditionError(absl::StrCat(
          prefix, "port ", port,
          " needs root or the CAP_NET_BIND_SERVICE capability; use a port "
          "from 1024 up"));
    default:
      return absl::UnavailableError(absl::StrCat(prefix, std::strerror(error)));
  }
}

absl::Status ListenFailure(absl::string_view what, absl::string_view host,
                           int port) {
  absl::Status cause = CheckListenAddress(what, host, port);
  if (!cause.ok()) return cause;
  return absl::UnavailableError(absl::StrCat(
      "cannot listen for ", what, " on ", AddressText(host, port),
      ": the bind failed, but the address is free now; start again"));
}

}  // namespace paymento::bridge
