// FlagParser: "--name=value" and "--name value" command-line flags, each with
// an environment variable fallback (PAYMENTO_BRIDGE_<NAME>), where a flag
// given on the command line wins over its variable.
//
// Secrets are never flags: they come from the environment or files only, so
// they do not show in `ps` output or shell history.
#ifndef PAYMENTO_BRIDGE_SRC_CONFIG_FLAG_PARSER_H_
#define PAYMENTO_BRIDGE_SRC_CONFIG_FLAG_PARSER_H_

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace paymento::bridge {

// Reads an environment variable; tests pass a map instead of the process
// environment.
using EnvironmentLookup =
    std::function<std::optional<std::string>(const std::string& name)>;

EnvironmentLookup ProcessEnvironment();

class FlagParser {
 public:
  explicit FlagParser(EnvironmentLookup environment)
      : environment_(std::move(environment)) {}

  // Declares a flag with its help text and default value.
  void Add(const std::string& name, std::string default_value,
           std::string help);
  // Declares a flag that takes no value, such as --help.
  void AddSwitch(const std::string& name, std::string help);

  // Parses `args`; positional arguments are kept in order. Fails on an
  // unknown flag or a missing value, naming it.
  absl::Status Parse(const std::vector<std::string>& args);

  // The flag's value: command line, then environment, then default.
  const std::string& Get(const std::string& name) const;
  bool IsSet(const std::string& name) const;
  // Returns where the flag's value came from, for an error message:
  // "--max-body-bytes", or "PAYMENTO_BRIDGE_MAX_BODY_BYTES
  // (--max-body-bytes)" when the environment set it.
  std::string Source(const std::string& name) const;
  const std::vector<std::string>& positional() const { return positional_; }

  // "PAYMENTO_BRIDGE_GRPC_LISTEN" for "grpc-listen".
  static std::string VariableFor(absl::string_view name);

  // Help text listing every flag with its variable and default.
  std::string Usage() const;

 private:
  struct Flag {
    std::string value;
    std::string default_value;
    std::string help;
    bool is_switch = false;
    bool set = false;
    // The value came from the environment, not the command line.
    bool from_environment = false;
  };

  EnvironmentLookup environment_;
  std::map<std::string, Flag> flags_;
  std::vector<std::string> order_;
  std::vector<std::string> positional_;
};

}  // namespace paymento::bridge

#endif  // PAYMENTO_BRIDGE_SRC_CONFIG_FLAG_PARSER_H_
