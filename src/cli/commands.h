// The subcommands of the paymento-bridge binary. Each takes the arguments
// after its name and returns the process exit code: 0 on success, 1 when
// the work failed, 2 on a usage or configuration error.
#ifndef PAYMENTO_BRIDGE_SRC_CLI_COMMANDS_H_
#define PAYMENTO_BRIDGE_SRC_CLI_COMMANDS_H_

#include <string>
#include <vector>

namespace paymento::bridge {

int RunServe(const std::vector<std::string>& args);
int RunSendTest(const std::vector<std::string>& args);
int RunTail(const std::vector<std::string>& args);
int RunGet(const std::vector<std::string>& args);
int RunList(const std::vector<std::string>& args);
int RunBackup(const std::vector<std::string>& args);
int RunMigrate(const std::vector<std::string>& args);

}  // namespace paymento::bridge

#endif  // PAYMENTO_BRIDGE_SRC_CLI_COMMANDS_H_
