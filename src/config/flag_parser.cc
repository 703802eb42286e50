#include "src/config/flag_parser.h"

#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace paymento::bridge {

EnvironmentLookup ProcessEnvironment() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

void FlagParser::Add(const std::string& name, std::string default_value,
                     std::string help) {
  Flag flag;
  flag.default_value = default_value;
  flag.value = std::move(default_value);
  flag.help = std::move(help);
  flags_[name] = std::move(flag);
  order_.push_back(name);
}

void FlagParser::AddSwitch(const std::string& name, std::string help) {
  Flag flag;
  flag.help = std::move(help);
  flag.is_switch = true;
  flags_[name] = std::move(flag);
  order_.push_back(name);
}

std::string FlagParser::VariableFor(absl::string_view name) {
  return absl::StrCat("PAYMENTO_BRIDGE_",
                      absl::AsciiStrToUpper(absl::StrReplaceAll(
                          name, {{"-", "_"}})));
}

absl::Status FlagParser::Parse(const std::vector<std::string>& args) {
  for (auto& [name, flag] : flags_) {
    if (flag.is_switch) continue;
    std::optional<std::string> value = environment_(VariableFor(name));
    if (value.has_value()) {
      flag.value = *value;
      flag.set = true;
      flag.from_environment = true;
    }
  }
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (!absl::StartsWith(arg, "--") || arg == "--") {
      positional_.push_back(arg);
      continue;
    }
    std::string name = arg.substr(2);
    std::optional<std::string> value;
    size_t equals = name.find('=');
    if (equals != std::string::npos) {
      value = name.substr(equals + 1);
      name = name.substr(0, equals);
    }
    auto found = flags_.find(name);
    if (found == flags_.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown flag --", name, ": see --help"));
    }
    Flag& flag = found->second;
    if (flag.is_switch) {
      if (value.has_value()) {
        return absl::InvalidArgumentError(
            absl::StrCat("flag --", name, " takes no value"));
      }
      flag.set = true;
      continue;
    }
    if (!value.has_value()) {
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(
            absl::StrCat("missing value for --", name));
      }
      value = args[++i];
    }
    flag.value = *value;
    flag.set = true;
    flag.from_environment = false;
  }
  return absl::OkStatus();
}

const std::string& FlagParser::Get(const std::string& name) const {
  return flags_.at(name).value;
}

bool FlagParser::IsSet(const std::string& name) const {
  return flags_.at(name).set;
}

std::string FlagParser::Source(const std::string& name) const {
  auto found = flags_.find(name);
  if (found == flags_.end() || !found->second.from_environment) {
    return absl::StrCat("--", name);
  }
  return absl::StrCat(VariableFor(name), " (--", name, ")");
}

std::string FlagParser::Usage() const {
  std::string usage;
  for (const std::string& name : order_) {
    const Flag& flag = flags_.at(name);
    absl::StrAppend(&usage, "  --", name, "\n      ", flag.help, "\n");
    if (flag.is_switch) continue;
    absl::StrAppend(&usage, "      env ", VariableFor(name));
    if (!flag.default_value.empty()) {
      absl::StrAppend(&usage, ", default ", flag.default_value);
    }
    absl::StrAppend(&usage, "\n");
  }
  return usage;
}

}  // namespace paymento::bridge
