// The secrets in force for one kind of request, read from the environment at
// start-up and, when they come from a file, re-read while the service runs.
//
// For a variable name V such as PAYMENTO_WEBHOOK_SECRET:
//   V       contains comma-separated secrets (see SplitSecretList);
//   V_FILE  contains the path of a file with one secret per line (see
//           SplitSecretFile).
// Setting both is an error. A variable set to the empty string counts as
// unset, as it does for most container runtimes.
//
// A secret file is re-read by path at every interval and compared by
// contents, never by inode or modification time. Kubernetes updates a mounted
// Secret by pointing the "..data" symlink at a new directory, and the path
// keeps resolving to the current file. A reload that yields no secret, or a
// file that cannot be read, keeps the previous secrets and logs an error once
// per change of that state.
//
// Usage:
//   absl::StatusOr<std::unique_ptr<SecretSource>> source =
//       SecretSource::FromEnvironment("PAYMENTO_WEBHOOK_SECRET", true);
//   if (!source.ok()) return source.status();
//   (*source)->StartReloading();
//   ...
//   std::shared_ptr<const SecretSet> secrets = (*source)->Current();
//
// Thread safety: Current() and Reload() may be called from any thread.
// StartReloading() and Stop() are called by the owner, not concurrently with
// each other.
#ifndef PAYMENTO_BRIDGE_SRC_VERIFICATION_SECRET_SOURCE_H_
#define PAYMENTO_BRIDGE_SRC_VERIFICATION_SECRET_SOURCE_H_

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "src/logging/log.h"
#include "src/verification/secret_set.h"

namespace paymento::bridge {

class SecretSource {
 public:
  // Largest secret file read, so that a wrong path cannot fill memory.
  static constexpr size_t kMaxFileBytes = 64 * 1024;

  // Reads `variable` or `variable`_FILE as described above.
  //
  // Errors: INVALID_ARGUMENT when both are set; FAILED_PRECONDITION when the
  // file cannot be read, when a set variable or the file contains no secret, or
  // when `required` and neither is set. When neither is set and not
  // `required`, returns a source with an empty set and configured() false.
  static absl::StatusOr<std::unique_ptr<SecretSource>> FromEnvironment(
      absl::string_view variable, bool required);

  // Returns a source with a fixed set. INVALID_ARGUMENT when `values` contains
  // no non-empty secret.
  static absl::StatusOr<std::unique_ptr<SecretSource>> FromValues(
      std::vector<std::string> values);

  // Returns a source that reads the file at `path`, as V_FILE does.
  static absl::StatusOr<std::unique_ptr<SecretSource>> FromFile(
      std::string path);

  // Creates a source with a fixed set, which must not be null. configured()
  // is true when the set is not empty.
  explicit SecretSource(std::shared_ptr<const SecretSet> secrets);

  SecretSource(const SecretSource&) = delete;
  SecretSource& operator=(const SecretSource&) = delete;

  // Stops and joins the reloading thread.
  ~SecretSource();

  // Returns the current set, never null. A caller keeps the returned pointer
  // for the whole request, so that a reload in the middle does not mix sets.
  std::shared_ptr<const SecretSet> Current() const;

  // False only for a source that is not required and was not set.
  bool configured() const { return configured_; }

  // The secret file's path, or empty when the secrets did not come from a
  // file.
  const std::string& file_path() const { return file_path_; }

  // Starts a thread that calls Reload() every `interval`. Does nothing for a
  // source that did not come from a file. Returns INVALID_ARGUMENT for an
  // interval that is not positive and FAILED_PRECONDITION when called a
  // second time.
  absl::Status StartReloading(absl::Duration interval = absl::Seconds(2));

  // Stops the reloading thread and waits for it, without waiting for the
  // rest of the interval. Safe to call more than once.
  void Stop();

  // Re-reads the secret file once, and swaps the current set when its
  // contents changed and hold at least one secret. Returns the error that
  // kept the previous set, or OK. Does nothing for a source without a file.
  absl::Status Reload();

 private:
  enum class FileState { kLoaded, kUnreadable, kNoSecret };

  SecretSource(std::string file_variable, std::string file_path,
               std::string contents, std::shared_ptr<const SecretSet> secrets);

  static absl::StatusOr<std::unique_ptr<SecretSource>> FromFileNamedBy(
      std::string file_variable, std::string path);

  // Records a new state and logs it when it differs from the previous one.
  void SetFileStateLocked(FileState state, const absl::Status& reason)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(reload_mu_);

  // Log fields that name the secret file.
  logging::Fields FileFields() const;

  void ReloadLoop(absl::Duration interval);
  // Waits for one interval. Returns false when Stop() was called.
  bool WaitForNextReload(absl::Duration interval);

  const bool configured_;
  // The variable that named the file, for log lines.
  const std::string file_variable_;
  const std::string file_path_;

  mutable absl::Mutex secrets_mu_;
  std::shared_ptr<const SecretSet> secrets_ ABSL_GUARDED_BY(secrets_mu_);

  // Serializes reloads. Lock order: reload_mu_ before secrets_mu_.
  absl::Mutex reload_mu_;
  // The file contents that produced the current set.
  std::string loaded_contents_ ABSL_GUARDED_BY(reload_mu_);
  FileState file_state_ ABSL_GUARDED_BY(reload_mu_) = FileState::kLoaded;

  absl::Mutex thread_mu_;
  absl::CondVar stop_requested_;
  bool stopping_ ABSL_GUARDED_BY(thread_mu_) = false;
  bool started_ ABSL_GUARDED_BY(thread_mu_) = false;
  std::thread thread_;
};

}  // namespace paymento::bridge

#endif  // PAYMENTO_BRIDGE_SRC_VERIFICATION_SECRET_SOURCE_H_
