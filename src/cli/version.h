// The version printed at start-up and by the command line.
#ifndef PAYMENTO_BRIDGE_SRC_CLI_VERSION_H_
#define PAYMENTO_BRIDGE_SRC_CLI_VERSION_H_

namespace paymento::bridge {

inline constexpr char kVersion[] = PAYMENTO_BRIDGE_VERSION;

}  // namespace paymento::bridge

#endif  // PAYMENTO_BRIDGE_SRC_CLI_VERSION_H_
