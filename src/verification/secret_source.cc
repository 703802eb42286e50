#include "src/verification/secret_source.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <system_error>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "src/logging/log.h"

namespace paymento::bridge {
namespace {

std::string GetEnvironment(absl::string_view variable) {
  const char* value = std::getenv(std::string(variable).c_str());
  return value == nullptr ? "" : value;
}

// Names the secret for an error message: "webhook" for
// PAYMENTO_WEBHOOK_SECRET, "ipn" for PAYMENTO_IPN_SECRET.
std::string SecretKind(absl::string_view variable) {
  absl::string_view kind = variable;
  if (!absl::ConsumePrefix(&kind, "PAYMENTO_") ||
      !absl::ConsumeSuffix(&kind, "_SECRET") || kind.empty()) {
    return "";
  }
  return absl::StrReplaceAll(absl::AsciiStrToLower(kind), {{"_", " "}});
}

absl::StatusOr<std::string> ReadSecretFile(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    int error = errno;
    return absl::FailedPreconditionError(
        absl::StrCat("cannot read secret file ", path, ": ",
                     std::generic_category().message(error)));
  }
  std::string contents(SecretSource::kMaxFileBytes + 1, '\0');
  size_t length = std::fread(contents.data(), 1, contents.size(), file);
  bool failed = std::ferror(file) != 0;
  std::fclose(file);

  if (failed) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot read secret file ", path));
  }
  if (length > SecretSource::kMaxFileBytes) {
    return absl::FailedPreconditionError(
        absl::StrCat("secret file ", path, " is larger than ",
                     SecretSource::kMaxFileBytes, " bytes"));
  }
  contents.resize(length);
  return contents;
}

bool HasOuterWhitespace(absl::string_view value) {
  return absl::ascii_isspace(static_cast<unsigned char>(value.front())) ||
         absl::ascii_isspace(static_cast<unsigned char>(value.back()));
}

// Warns about secrets that start or end with whitespace. Paymento uses every
// byte of the secret, so the whitespace is kept, but it is more often a
// copy-and-paste slip than intended.
void WarnAboutWhitespace(const SecretSet& secrets, absl::string_view origin) {
  for (const Secret& secret : secrets.secrets()) {
    if (!HasOuterWhitespace(secret.value)) continue;
    logging::Warn(
        "secret starts or ends with whitespace, which is used as part of "
        "the secret",
        {{"source", std::string(origin)}, {"fingerprint", secret.fingerprint}});
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<SecretSource>> SecretSource::FromEnvironment(
    absl::string_view variable, bool required) {
  std::string file_variable = absl::StrCat(variable, "_FILE");
  std::string value = GetEnvironment(variable);
  std::string path = GetEnvironment(file_variable);
  if (!value.empty() && !path.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "both ", variable, " and ", file_variable, " are set: set only one"));
  }
  if (!path.empty()) return FromFileNamedBy(file_variable, path);

  auto secrets = std::make_shared<const SecretSet>(SplitSecretList(value));
  if (!value.empty() && secrets->empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(variable,
                     " is set but contains no secret: set it to one "
                     "or more comma-separated secrets"));
  }
  if (secrets->empty() && required) {
    std::string kind = SecretKind(variable);
    return absl::FailedPreconditionError(
        absl::StrCat("no ", kind, kind.empty() ? "" : " ", "secret: set ",
                     variable, " or ", file_variable));
  }
  WarnAboutWhitespace(*secrets, variable);
  return std::make_unique<SecretSource>(std::move(secrets));
}

absl::StatusOr<std::unique_ptr<SecretSource>> SecretSource::FromValues(
    std::vector<std::string> values) {
  auto secrets = std::make_shared<const SecretSet>(std::move(values));
  if (secrets->empty()) {
    return absl::InvalidArgumentError("no secret given: pass at least one");
  }
  return std::make_unique<SecretSource>(std::move(secrets));
}

absl::StatusOr<std::unique_ptr<SecretSource>> SecretSource::FromFile(
    std::string path) {
  return FromFileNamedBy("", std::move(path));
}

absl::StatusOr<std::unique_ptr<SecretSource>> SecretSource::FromFileNamedBy(
    std::string file_variable, std::string path) {
  // Start-up errors name the variable, so the operator sees which one to fix.
  std::string prefix =
      file_variable.empty() ? "" : absl::StrCat(file_variable, ": ");
  absl::StatusOr<std::string> contents = ReadSecretFile(path);
  if (!contents.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat(prefix, contents.status().message()));
  }

  auto secrets = std::make_shared<const SecretSet>(SplitSecretFile(*contents));
  if (secrets->empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(prefix, "secret file ", path,
                     " contains no secret: write one secret per line"));
  }
  WarnAboutWhitespace(*secrets, path);
  // The constructor is private, so std::make_unique cannot call it.
  return std::unique_ptr<SecretSource>(
      new SecretSource(std::move(file_variable), std::move(path),
                       *std::move(contents), std::move(secrets)));
}

SecretSource::SecretSource(std::shared_ptr<const SecretSet> secrets)
    : configured_(!secrets->empty()), secrets_(std::move(secrets)) {}

SecretSource::SecretSource(std::string file_variable, std::string file_path,
                           std::string contents,
                           std::shared_ptr<const SecretSet> secrets)
    : configured_(true),
      file_variable_(std::move(file_variable)),
      file_path_(std::move(file_path)),
      secrets_(std::move(secrets)),
      loaded_contents_(std::move(contents)) {}

SecretSource::~SecretSource() { Stop(); }

std::shared_ptr<const SecretSet> SecretSource::Current() const {
  absl::ReaderMutexLock lock(&secrets_mu_);
  return secrets_;
}

absl::Status SecretSource::StartReloading(absl::Duration interval) {
  if (interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid secret reload interval ",
                     absl::FormatDuration(interval), ": must be positive"));
  }
  if (file_path_.empty()) return absl::OkStatus();

  absl::MutexLock lock(&thread_mu_);
  if (started_) {
    return absl::FailedPreconditionError("secret reloading already started");
  }
  started_ = true;
  thread_ = std::thread([this, interval] { ReloadLoop(interval); });
  return absl::OkStatus();
}

void SecretSource::Stop() {
  {
    absl::MutexLock lock(&thread_mu_);
    stopping_ = true;
    stop_requested_.SignalAll();
  }
  if (thread_.joinable()) thread_.join();
}

void SecretSource::ReloadLoop(absl::Duration interval) {
  while (WaitForNextReload(interval)) {
    // Reload() logs every change of state itself.
    Reload().IgnoreError();
  }
}

bool SecretSource::WaitForNextReload(absl::Duration interval) {
  absl::MutexLock lock(&thread_mu_);
  absl::Time deadline = absl::Now() + interval;
  // The loop absorbs spurious wake-ups.
  while (!stopping_ && absl::Now() < deadline) {
    stop_requested_.WaitWithDeadline(&thread_mu_, deadline);
  }
  return !stopping_;
}

absl::Status SecretSource::Reload() {
  if (file_path_.empty()) return absl::OkStatus();
  absl::MutexLock lock(&reload_mu_);

  absl::StatusOr<std::string> contents = ReadSecretFile(file_path_);
  if (!contents.ok()) {
    SetFileStateLocked(FileState::kUnreadable, contents.status());
    return contents.status();
  }
  if (*contents == loaded_contents_) {
    SetFileStateLocked(FileState::kLoaded, absl::OkStatus());
    return absl::OkStatus();
  }

  auto secrets = std::make_shared<const SecretSet>(SplitSecretFile(*contents));
  if (secrets->empty()) {
    absl::Status reason = absl::FailedPreconditionError(
        absl::StrCat("secret file ", file_path_, " contains no secret"));
    SetFileStateLocked(FileState::kNoSecret, reason);
    return reason;
  }

  WarnAboutWhitespace(*secrets, file_path_);
  logging::Fields fields = FileFields();
  fields.emplace_back("fingerprints", secrets->FingerprintList());
  {
    absl::MutexLock secrets_lock(&secrets_mu_);
    secrets_ = std::move(secrets);
  }
  loaded_contents_ = *std::move(contents);
  file_state_ = FileState::kLoaded;
  logging::Info("secrets reloaded", fields);
  return absl::OkStatus();
}

void SecretSource::SetFileStateLocked(FileState state,
                                      const absl::Status& reason) {
  if (state == file_state_) return;
  file_state_ = state;

  logging::Fields fields = FileFields();
  fields.emplace_back("fingerprints", Current()->FingerprintList());
  if (state == FileState::kLoaded) {
    logging::Info("secret file is readable again, secrets unchanged", fields);
    return;
  }
  fields.emplace_back("error", std::string(reason.message()));
  logging::Error("secret reload failed, keeping the previous secrets", fields);
}

logging::Fields SecretSource::FileFields() const {
  logging::Fields fields;
  if (!file_variable_.empty()) fields.emplace_back("variable", file_variable_);
  fields.emplace_back("path", file_path_);
  return fields;
}

}  // namespace paymento::bridge
