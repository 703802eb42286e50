#include "src/normalization/json_fields.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace paymento::bridge {
namespace {

// Returns whether arrays and objects in `body` nest deeper than `max_depth`.
// Brackets inside strings do not count. The body need not be valid JSON:
// the parser checks that afterwards.
bool NestsDeeperThan(absl::string_view body, int max_depth) {
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : body) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return true;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return false;
}

}  // namespace

absl::StatusOr<nlohmann::json> ParseJsonObject(absl::string_view body) {
  if (NestsDeeperThan(body, kMaxJsonDepth)) {
    return absl::InvalidArgumentError(
        absl::StrCat("body nests JSON arrays or objects deeper than ",
                     kMaxJsonDepth, " levels"));
  }
  nlohmann::json parsed = nlohmann::json::parse(
      body.begin(), body.end(), /*cb=*/nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    return absl::InvalidArgumentError("body is not valid JSON");
  }
  if (!parsed.is_object()) {
    return absl::InvalidArgumentError("body is not a JSON object");
  }
  return parsed;
}

std::string JsonText(const nlohmann::json& value) {
  return value.dump(/*indent=*/-1, /*indent_char=*/' ', /*ensure_ascii=*/false,
                    nlohmann::json::error_handler_t::replace);
}

std::string JsonValueAsText(const nlohmann::json& value) {
  if (value.is_string()) return value.get_ref<const std::string&>();
  if (value.is_null()) return "";
  return JsonText(value);
}

const nlohmann::json* FindMember(const nlohmann::json& object,
                                 absl::string_view key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(std::string(key));
  return it == object.end() ? nullptr : &*it;
}

const nlohmann::json* FindMemberIgnoringCase(const nlohmann::json& object,
                                             absl::string_view key) {
  const nlohmann::json* exact = FindMember(object, key);
  if (exact != nullptr || !object.is_object()) return exact;
  for (auto it = object.begin(); it != object.end(); ++it) {
    if (absl::EqualsIgnoreCase(it.key(), key)) return &it.value();
  }
  return nullptr;
}

const nlohmann::json* FindObjectMember(const nlohmann::json& object,
                                       absl::string_view key) {
  const nlohmann::json* member = FindMember(object, key);
  return member != nullptr && member->is_object() ? member : nullptr;
}

std::string TextMember(const nlohmann::json& object, absl::string_view key) {
  const nlohmann::json* member = FindMember(object, key);
  return member == nullptr ? "" : JsonValueAsText(*member);
}

}  // namespace paymento::bridge
