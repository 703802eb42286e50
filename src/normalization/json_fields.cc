#include "src/normalization/json_fields.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

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

// A cursor over JSON text known to be valid, which steps over values
// without building them.
class RawJsonCursor {
 public:
  explicit RawJsonCursor(absl::string_view text) : text_(text) {}

  char Peek() const { return position_ < text_.size() ? text_[position_] : 0; }
  void Advance() { ++position_; }
  void SkipWhitespace() {
    while (position_ < text_.size() &&
           absl::StrContains(" \t\r\n", text_[position_])) {
      ++position_;
    }
  }
  // Steps over one value and returns its text.
  absl::string_view Value() {
    size_t start = position_;
    if (Peek() == '"') {
      SkipString();
    } else if (Peek() == '{' || Peek() == '[') {
      SkipContainer();
    } else {
      // A number or a literal runs to the next delimiter.
      while (position_ < text_.size() &&
             !absl::StrContains(",]} \t\r\n", text_[position_])) {
        ++position_;
      }
    }
    return text_.substr(start, position_ - start);
  }

 private:
  void SkipString() {
    ++position_;
    while (position_ < text_.size()) {
      char c = text_[position_++];
      if (c == '\\') {
        ++position_;
      } else if (c == '"') {
        return;
      }
    }
  }
  void SkipContainer() {
    int depth = 0;
    while (position_ < text_.size()) {
      char c = text_[position_];
      if (c == '"') {
        SkipString();
        continue;
      }
      ++position_;
      if (c == '{' || c == '[') {
        ++depth;
      } else if ((c == '}' || c == ']') && --depth == 0) {
        return;
      }
    }
  }

  absl::string_view text_;
  size_t position_ = 0;
};

// Returns the key that the string token `quoted` spells.
std::string DecodeKey(absl::string_view quoted) {
  if (!absl::StrContains(quoted, '\\')) {
    return std::string(quoted.substr(1, quoted.size() - 2));
  }
  nlohmann::json key = nlohmann::json::parse(
      quoted.begin(), quoted.end(), /*cb=*/nullptr, /*allow_exceptions=*/false);
  return key.is_string() ? key.get_ref<const std::string&>() : std::string();
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

std::map<std::string, absl::string_view> RawMemberTexts(
    absl::string_view object_text) {
  std::map<std::string, absl::string_view> members;
  // The parser skips a UTF-8 byte order mark before the document.
  absl::ConsumePrefix(&object_text, "\xEF\xBB\xBF");
  RawJsonCursor cursor(object_text);
  cursor.SkipWhitespace();
  if (cursor.Peek() != '{') return members;
  cursor.Advance();
  for (;;) {
    cursor.SkipWhitespace();
    if (cursor.Peek() != '"') break;
    std::string key = DecodeKey(cursor.Value());
    cursor.SkipWhitespace();
    cursor.Advance();  // The colon.
    cursor.SkipWhitespace();
    members[std::move(key)] = cursor.Value();
    cursor.SkipWhitespace();
    if (cursor.Peek() == ',') cursor.Advance();
  }
  return members;
}

std::optional<absl::string_view> RawMemberText(absl::string_view object_text,
                                               absl::string_view key) {
  std::map<std::string, absl::string_view> members =
      RawMemberTexts(object_text);
  auto found = members.find(std::string(key));
  if (found == members.end()) return std::nullopt;
  return found->second;
}

}  // namespace paymento::bridge
