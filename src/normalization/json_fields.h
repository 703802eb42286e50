// Reads fields of Paymento JSON bodies that may be missing, null, or of a type
// other than the documented one, without throwing.
//
// Paymento adds fields and sends numbers where strings are documented, and
// none of that may lose a verified event. So a field documented as a string
// is read as text whatever its type: a string as it is, a missing field or
// null as "", and any other value as its JSON text.
//
// Only non-throwing nlohmann::json calls are used here (is_*, find, end,
// get_ref on a checked type, and dump with the replace error handler).
#ifndef PAYMENTO_BRIDGE_SRC_NORMALIZATION_JSON_FIELDS_H_
#define PAYMENTO_BRIDGE_SRC_NORMALIZATION_JSON_FIELDS_H_

#include <map>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace paymento::bridge {

// Deepest nesting of arrays and objects accepted in a body. Serializing a
// value back to JSON text recurses once per level, so unbounded nesting
// could overflow the stack.
inline constexpr int kMaxJsonDepth = 128;

// Parses `body` as a JSON object. Returns INVALID_ARGUMENT when the body is
// not valid JSON (including invalid UTF-8), nests deeper than
// kMaxJsonDepth, or is not an object at the top level. Messages do not repeat
// the body.
absl::StatusOr<nlohmann::json> ParseJsonObject(absl::string_view body);

// Returns the JSON text of `value`, with any invalid UTF-8 replaced by U+FFFD.
std::string JsonText(const nlohmann::json& value);

// Returns `value` as text: a string as it is, null as "", and any other value
// as its JSON text.
std::string JsonValueAsText(const nlohmann::json& value);

// Returns the member `key` of `object`, or nullptr when `object` is not an
// object or has no such member.
const nlohmann::json* FindMember(const nlohmann::json& object,
                                 absl::string_view key);

// Like FindMember, but when no key matches exactly, returns the first member,
// in key order, whose key equals `key` without regard to ASCII case.
const nlohmann::json* FindMemberIgnoringCase(const nlohmann::json& object,
                                             absl::string_view key);

// Returns the member `key` when it is an object, and nullptr otherwise.
const nlohmann::json* FindObjectMember(const nlohmann::json& object,
                                       absl::string_view key);

// Returns JsonValueAsText of the member `key`, or "" when it is missing.
std::string TextMember(const nlohmann::json& object, absl::string_view key);

// Returns the text of member `key` of `object_text`, exactly as it appears
// there, or nullopt when `object_text` is not an object or has no such
// member. When the key repeats, the last one counts, as in the parsed
// document. `object_text` must be valid JSON, such as a body that
// ParseJsonObject accepted or a member text this returned.
std::optional<absl::string_view> RawMemberText(absl::string_view object_text,
                                               absl::string_view key);

// Returns the texts of all members of `object_text` by decoded key, with the
// same rules as RawMemberText.
std::map<std::string, absl::string_view> RawMemberTexts(
    absl::string_view object_text);

}  // namespace paymento::bridge

#endif  // PAYMENTO_BRIDGE_SRC_NORMALIZATION_JSON_FIELDS_H_
