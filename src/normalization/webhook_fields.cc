#include "src/normalization/webhook_fields.h"

#include <cstddef>
#include <cstdint>

#include "src/normalization/json_fields.h"

namespace paymento::bridge {
namespace {

// The maximum length of a number the reader skips. A number without an
// exponent this short is always finite as a double.
constexpr std::ptrdiff_t kMaxPlainNumberLength = 64;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// A cursor over a body. Each method returns false when the body at the
// cursor is not JSON or not in the plain form. The caller then gives up on
// the whole body.
class PlainReader {
 public:
  explicit PlainReader(absl::string_view text)
      : next_(text.data()), end_(text.data() + text.size()) {}

  // Skips whitespace and returns the next byte, or '\0' at the end. A NUL
  // byte in the body reads the same, and no caller expects it.
  char Peek() {
    while (next_ < end_ && (*next_ == ' ' || *next_ == '\n' || *next_ == '\r' ||
                            *next_ == '\t')) {
      ++next_;
    }
    return next_ < end_ ? *next_ : '\0';
  }

  bool AtEnd() {
    Peek();
    return next_ == end_;
  }

  bool Consume(char c) {
    if (Peek() != c) return false;
    ++next_;
    return true;
  }

  bool ConsumeWord(absl::string_view word) {
    Peek();
    if (static_cast<size_t>(end_ - next_) < word.size() ||
        absl::string_view(next_, word.size()) != word) {
      return false;
    }
    next_ += word.size();
    return true;
  }

  // Reads a string into `out` without its quotes and escapes, or skips it
  // when `out` is null.
  bool ReadString(std::string* out) {
    if (!Consume('"')) return false;
    if (out != nullptr) out->clear();
    for (;;) {
      const char* run = next_;
      while (next_ < end_) {
        unsigned char c = static_cast<unsigned char>(*next_);
        if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) break;
        ++next_;
      }
      if (out != nullptr) out->append(run, next_ - run);
      if (next_ == end_) return false;
      char c = *next_++;
      if (c == '"') return true;
      if (c != '\\' || next_ == end_) return false;
      char unescaped;
      switch (*next_++) {
        case '"':
          unescaped = '"';
          break;
        case '\\':
          unescaped = '\\';
          break;
        case '/':
          unescaped = '/';
          break;
        case 'b':
          unescaped = '\b';
          break;
        case 'f':
          unescaped = '\f';
          break;
        case 'n':
          unescaped = '\n';
          break;
        case 'r':
          unescaped = '\r';
          break;
        case 't':
          unescaped = '\t';
          break;
        default:
          return false;
      }
      if (out != nullptr) out->push_back(unescaped);
    }
  }

  // Calls `member(key)` for each member of an object at the cursor; the
  // callback reads or skips the value.
  template <typename Member>
  bool ReadObject(Member&& member) {
    if (!Consume('{')) return false;
    if (Consume('}')) return true;
    std::string key;
    do {
      if (!ReadString(&key) || !Consume(':') || !member(key)) return false;
    } while (Consume(','));
    return Consume('}');
  }

  // Skips a value inside `depth` arrays and objects, as NestsDeeperThan in
  // json_fields.cc counts them.
  bool SkipValue(int depth) {
    switch (Peek()) {
      case '{':
        if (depth + 1 > kMaxJsonDepth) return false;
        return ReadObject(
            [&](absl::string_view) { return SkipValue(depth + 1); });
      case '[':
        return SkipArray(depth + 1);
      case '"':
        return ReadString(nullptr);
      case 't':
        return ConsumeWord("true");
      case 'f':
        return ConsumeWord("false");
      case 'n':
        return ConsumeWord("null");
      default:
        return SkipNumber();
    }
  }

 private:
  bool SkipArray(int depth) {
    if (depth > kMaxJsonDepth || !Consume('[')) return false;
    if (Consume(']')) return true;
    do {
      if (!SkipValue(depth)) return false;
    } while (Consume(','));
    return Consume(']');
  }

  bool SkipNumber() {
    Peek();
    const char* start = next_;
    if (next_ < end_ && *next_ == '-') ++next_;
    if (next_ == end_ || !IsDigit(*next_)) return false;
    if (*next_ == '0') {
      ++next_;
    } else {
      while (next_ < end_ && IsDigit(*next_)) ++next_;
    }
    if (next_ < end_ && *next_ == '.') {
      ++next_;
      if (next_ == end_ || !IsDigit(*next_)) return false;
      while (next_ < end_ && IsDigit(*next_)) ++next_;
    }
    if (next_ < end_ && (*next_ == 'e' || *next_ == 'E')) return false;
    return next_ - start <= kMaxPlainNumberLength;
  }

  const char* next_;
  const char* end_;
};

// Records that a member was read; false when the object named it before.
bool FirstTime(uint32_t& seen, uint32_t member) {
  if ((seen & member) != 0) return false;
  seen |= member;
  return true;
}

// A value read as text: a string, or null as "".
bool ReadText(PlainReader& reader, std::string* out) {
  if (reader.Peek() == 'n') {
    out->clear();
    return reader.ConsumeWord("null");
  }
  return reader.ReadString(out);
}

// A time value counts only as a string; anything else is skipped.
bool ReadTime(PlainReader& reader, int depth, std::optional<std::string>* out) {
  if (reader.Peek() != '"') return reader.SkipValue(depth);
  return reader.ReadString(&out->emplace());
}

// Reads the object at the cursor when there is one, and skips any other
// value, which the document reader treats as a missing section.
template <typename Section>
bool ReadSection(PlainReader& reader, bool* present, Section&& section) {
  if (reader.Peek() != '{') return reader.SkipValue(1);
  *present = true;
  return section();
}

bool ReadEvent(PlainReader& reader, WebhookFields& fields) {
  uint32_t seen = 0;
  return reader.ReadObject([&](absl::string_view key) {
    if (key == "id") {
      return FirstTime(seen, 1u << 0) && reader.ReadString(&fields.event_id);
    }
    if (key == "type") {
      return FirstTime(seen, 1u << 1) && reader.ReadString(&fields.event_type);
    }
    if (key == "createdAt") {
      return FirstTime(seen, 1u << 2) &&
             ReadTime(reader, 2, &fields.created_at);
    }
    if (key == "apiVersion") {
      return FirstTime(seen, 1u << 3) && ReadText(reader, &fields.api_version);
    }
    return reader.SkipValue(2);
  });
}

bool ReadPaymentLink(PlainReader& reader, WebhookFields& fields) {
  struct TextField {
    absl::string_view key;
    std::string* out;
  };
  const TextField texts[] = {
      {"id", &fields.link_id},
      {"title", &fields.link_title},
      {"description", &fields.link_description},
      {"status", &fields.link_status},
      {"type", &fields.link_type},
      {"url", &fields.link_url},
      {"integrationMetadata", &fields.link_integration_metadata},
  };
  uint32_t seen = 0;
  return reader.ReadObject([&](absl::string_view key) {
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); ++i) {
      if (key == texts[i].key) {
        return FirstTime(seen, 1u << i) && ReadText(reader, texts[i].out);
      }
    }
    if (key == "createdAt") {
      return FirstTime(seen, 1u << 8) &&
             ReadTime(reader, 2, &fields.link_created_at);
    }
    if (key == "paidAt") {
      return FirstTime(seen, 1u << 9) &&
             ReadTime(reader, 2, &fields.link_paid_at);
    }
    return reader.SkipValue(2);
  });
}

// Metadata values must be strings; any other value declines the body.
bool ReadMetadata(PlainReader& reader, WebhookFields& fields) {
  return reader.ReadObject([&](absl::string_view key) {
    auto& entry =
        fields.customer_metadata.emplace_back(std::string(key), std::string());
    return reader.ReadString(&entry.second);
  });
}

bool ReadCustomer(PlainReader& reader, WebhookFields& fields) {
  uint32_t seen = 0;
  return reader.ReadObject([&](absl::string_view key) {
    if (key == "email") {
      return FirstTime(seen, 1u << 0) &&
             ReadText(reader, &fields.customer_email);
    }
    if (key == "name") {
      return FirstTime(seen, 1u << 1) &&
             ReadText(reader, &fields.customer_name);
    }
    if (key == "metadata") {
      if (!FirstTime(seen, 1u << 2)) return false;
      if (reader.Peek() != '{') return reader.SkipValue(2);
      return ReadMetadata(reader, fields);
    }
    return reader.SkipValue(2);
  });
}

bool ReadMerchant(PlainReader& reader, WebhookFields& fields) {
  uint32_t seen = 0;
  return reader.ReadObject([&](absl::string_view key) {
    if (key == "id") {
      return FirstTime(seen, 1u << 0) && ReadText(reader, &fields.merchant_id);
    }
    if (key == "name") {
      return FirstTime(seen, 1u << 1) &&
             ReadText(reader, &fields.merchant_name);
    }
    return reader.SkipValue(2);
  });
}

}  // namespace

std::optional<WebhookFields> ReadPlainWebhookFields(absl::string_view body) {
  PlainReader reader(body);
  WebhookFields fields;
  bool has_event = false;
  uint32_t seen = 0;
  bool read = reader.ReadObject([&](absl::string_view key) {
    if (key == "event") {
      return FirstTime(seen, 1u << 0) && ReadSection(reader, &has_event, [&] {
               return ReadEvent(reader, fields);
             });
    }
    if (key == "paymentLink") {
      return FirstTime(seen, 1u << 1) &&
             ReadSection(reader, &fields.has_payment_link,
                         [&] { return ReadPaymentLink(reader, fields); });
    }
    if (key == "customer") {
      return FirstTime(seen, 1u << 2) &&
             ReadSection(reader, &fields.has_customer,
                         [&] { return ReadCustomer(reader, fields); });
    }
    if (key == "merchant") {
      return FirstTime(seen, 1u << 3) &&
             ReadSection(reader, &fields.has_merchant,
                         [&] { return ReadMerchant(reader, fields); });
    }
    return reader.SkipValue(1);
  });
  if (!read || !reader.AtEnd() || !has_event || fields.event_id.empty() ||
      fields.event_type.empty()) {
    return std::nullopt;
  }
  return fields;
}

}  // namespace paymento::bridge
