// bare-httplib-server: responds to every POST with 200 {"received":true}
// and does nothing else. It is configured like the bridge's ingress
// (src/ingress/http_ingress.cc): a thread pool of the same size, TCP_NODELAY,
// and the same keep-alive, read and write timeouts. The ingress benchmark
// runs the same load client against it to measure the ceiling that the load
// client, cpp-httplib and the loopback network reach on their own.
//
// With --sqlite=PATH it first commits each request's body to a SQLite
// database the way the bridge commits events: WAL mode, synchronous=FULL,
// the same log VFS, and one writer thread that commits the bodies waiting
// in one transaction and then wakes each request thread through the
// store's AppendPromise. So the 200 comes only after the body is on disk. The
// table has one row per body and no index, and nothing is checked, parsed or
// deduplicated: the minimum work that cpp-httplib and SQLite need for a
// durable 200.
//
// With --checks as well it does the minimum of the bridge's own work that
// its guarantees need. It verifies the X-Paymento-Signature header with the
// benchmark's secret (401 when it does not match). It normalizes the body
// into an event with the bridge's code (400 when it cannot). It commits the
// serialized event under a unique event id, skipping an id already stored.
//
// Usage: bare-httplib-server --port=N [--threads=128] [--sqlite=PATH
//            [--checks]]
// It listens on 127.0.0.1 until SIGTERM or SIGINT.
#include <httplib.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "bench/signed_webhooks.h"
#include "paymento/bridge/v1/event.pb.h"
#include "src/normalization/webhook_normalizer.h"
#include "src/store/event_store.h"
#include "src/store/sqlite_wal_vfs.h"
#include "src/verification/secret_set.h"
#include "src/verification/signature_verifier.h"

namespace {

constexpr char kAccepted[] = R"({"received":true})";

// Returns the value of `--name=value` in `arg`, or nullptr.
const char* FlagValue(const char* arg, const char* name) {
  size_t length = std::strlen(name);
  if (std::strncmp(arg, name, length) != 0 || arg[length] != '=') {
    return nullptr;
  }
  return arg + length + 1;
}

// Returns the integer in `text`, or -1 unless all of it is a number from 0
// to 65535.
int ParseSmallNumber(const char* text) {
  char* end = nullptr;
  errno = 0;
  long value = std::strtol(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || value < 0 || value > 65535) {
    return -1;
  }
  return static_cast<int>(value);
}

// Reports a failed SQLite step on `path` and ends the process at once,
// without running destructors under the request threads.
[[noreturn]] void Fail(const std::string& path, const std::string& step,
                       const std::string& error) {
  std::fprintf(stderr, "bare-httplib-server: SQLite %s on %s failed: %s\n",
               step.c_str(), path.c_str(), error.c_str());
  std::_Exit(1);
}

// Commits rows to one SQLite table in groups. Store returns once the
// transaction holding the row is committed and synced.
class GroupCommitter {
 public:
  // Opens `path` for bodies, or with `event_ids` for events under unique
  // ids.
  GroupCommitter(const std::string& path, bool event_ids)
      : path_(path), event_ids_(event_ids) {
    absl::Status vfs = paymento::bridge::RegisterGatheredWalVfs();
    if (!vfs.ok()) Fail(path_, "VFS registration", std::string(vfs.message()));
    if (sqlite3_open_v2(
            path.c_str(), &db_,
            SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
            paymento::bridge::kGatheredWalVfs) != SQLITE_OK) {
      Fail(path_, "open", Error());
    }
    // SQLite opens a file it cannot write read-only, without an error.
    if (sqlite3_db_readonly(db_, "main") != 0) {
      Fail(path_, "open",
           "the file is read-only for this process: make it and its "
           "directory writable by this user");
    }
    std::string mode;
    if (sqlite3_exec(
            db_, "PRAGMA journal_mode=WAL",
            +[](void* out, int, char** values, char**) {
              *static_cast<std::string*>(out) = values[0] ? values[0] : "";
              return 0;
            },
            &mode, nullptr) != SQLITE_OK) {
      Fail(path_, "PRAGMA journal_mode=WAL", Error());
    }
    if (mode != "wal") {
      Fail(path_, "PRAGMA journal_mode=WAL", "the journal mode stayed " + mode);
    }
    for (const char* sql :
         {"PRAGMA synchronous=FULL",
          event_ids_ ? "CREATE TABLE IF NOT EXISTS events (seq INTEGER "
                       "PRIMARY KEY, event_id TEXT NOT NULL UNIQUE, "
                       "event BLOB NOT NULL)"
                     : "CREATE TABLE IF NOT EXISTS bodies ("
                       "seq INTEGER PRIMARY KEY, body BLOB NOT NULL)"}) {
      if (sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) != SQLITE_OK) {
        Fail(path_, sql, Error());
      }
    }
    const char* insert =
        event_ids_ ? "INSERT INTO events (event_id, event) VALUES (?2, ?1) "
                     "ON CONFLICT (event_id) DO NOTHING"
                   : "INSERT INTO bodies (body) VALUES (?1)";
    if (sqlite3_prepare_v2(db_, insert, -1, &insert_, nullptr) != SQLITE_OK) {
      Fail(path_, "prepare", Error());
    }
    writer_ = std::thread([this] { WriterLoop(); });
  }

  ~GroupCommitter() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    work_.notify_one();
    writer_.join();
    sqlite3_finalize(insert_);
    sqlite3_close(db_);
  }

  // Stores `data`, under `event_id` when the table has event ids.
  void Store(std::string data, std::string event_id) {
    paymento::bridge::AppendPromise promise;
    paymento::bridge::AppendFuture committed = promise.get_future();
    bool wake_writer = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      pending_.push_back(
          {std::move(data), std::move(event_id), std::move(promise)});
      wake_writer = writer_idle_;
      writer_idle_ = false;
    }
    if (wake_writer) work_.notify_one();
    // The writer sets only successes: a failed commit ends the process.
    committed.get().IgnoreError();
  }

 private:
  struct Pending {
    std::string data;
    std::string event_id;
    paymento::bridge::AppendPromise promise;
  };

  void WriterLoop() {
    // The bridge's name for its writer, so the benchmark reads the writer
    // CPU of both the same way.
    pthread_setname_np(pthread_self(), "store-writer");
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      writer_idle_ = true;
      work_.wait(lock, [&] { return stopping_ || !pending_.empty(); });
      writer_idle_ = false;
      if (pending_.empty()) return;
      std::vector<Pending> batch;
      batch.swap(pending_);
      lock.unlock();
      Commit(batch);
      for (Pending& item : batch) {
        item.promise.set_value(paymento::bridge::AppendResult{});
      }
      lock.lock();
    }
  }

  void Commit(const std::vector<Pending>& batch) {
    if (sqlite3_exec(db_, "BEGIN", nullptr, nullptr, nullptr) != SQLITE_OK) {
      Fail(path_, "BEGIN", Error());
    }
    for (const Pending& item : batch) {
      sqlite3_bind_blob(insert_, 1, item.data.data(),
                        static_cast<int>(item.data.size()), SQLITE_STATIC);
      if (event_ids_) {
        sqlite3_bind_text(insert_, 2, item.event_id.data(),
                          static_cast<int>(item.event_id.size()),
                          SQLITE_STATIC);
      }
      if (sqlite3_step(insert_) != SQLITE_DONE) Fail(path_, "INSERT", Error());
      sqlite3_reset(insert_);
    }
    if (sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
      Fail(path_, "COMMIT", Error());
    }
  }

  std::string Error() const {
    return db_ != nullptr ? sqlite3_errmsg(db_) : "out of memory";
  }

  const std::string path_;
  const bool event_ids_;
  sqlite3* db_ = nullptr;
  sqlite3_stmt* insert_ = nullptr;
  std::mutex mu_;
  std::condition_variable work_;
  std::vector<Pending> pending_;
  bool writer_idle_ = false;
  bool stopping_ = false;
  std::thread writer_;
};

}  // namespace

int main(int argc, char** argv) {
  int port = 0;
  // The ingress's default --http-threads.
  int threads = 128;
  std::string sqlite_path;
  bool checks = false;
  for (int i = 1; i < argc; ++i) {
    if (const char* value = FlagValue(argv[i], "--port")) {
      port = ParseSmallNumber(value);
    } else if (const char* value = FlagValue(argv[i], "--threads")) {
      threads = ParseSmallNumber(value);
    } else if (const char* value = FlagValue(argv[i], "--sqlite")) {
      if (*value == '\0') {
        std::fprintf(stderr,
                     "bare-httplib-server: --sqlite needs a database path\n");
        return 2;
      }
      sqlite_path = value;
    } else if (std::strcmp(argv[i], "--checks") == 0) {
      checks = true;
    } else {
      std::fprintf(stderr,
                   "bare-httplib-server: unknown argument \"%s\"\n"
                   "usage: bare-httplib-server --port=N [--threads=128] "
                   "[--sqlite=PATH [--checks]]\n",
                   argv[i]);
      return 2;
    }
  }
  if (port <= 0 || port > 65535 || threads < 1) {
    std::fprintf(stderr,
                 "bare-httplib-server: invalid --port or --threads: use a "
                 "port from 1 to 65535 and at least 1 thread\n");
    return 2;
  }
  if (checks && sqlite_path.empty()) {
    std::fprintf(stderr, "bare-httplib-server: --checks needs --sqlite=PATH\n");
    return 2;
  }
  // Only the signal thread below receives SIGTERM and SIGINT.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::unique_ptr<GroupCommitter> committer;
  if (!sqlite_path.empty()) {
    committer = std::make_unique<GroupCommitter>(sqlite_path, checks);
  }

  httplib::Server server;
  server.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  // The same settings as HttpIngress with its default options.
  server.set_tcp_nodelay(true);
  server.set_keep_alive_max_count(100000);
  server.set_keep_alive_timeout(2);
  server.set_read_timeout(std::chrono::seconds(5));
  server.set_write_timeout(std::chrono::seconds(5));
  const paymento::bridge::SecretSet secrets(
      {paymento::bridge::bench::kBenchSecret});
  server.Post(
      ".*", [&](const httplib::Request& request, httplib::Response& response) {
        if (checks) {
          paymento::bridge::WebhookSignatureInput input;
          input.body = request.body;
          input.signature_values.push_back(
              request.get_header_value("X-Paymento-Signature"));
          if (!paymento::bridge::VerifyWebhookSignature(
                   secrets, paymento::bridge::SchemePolicy::kAny, input)
                   .ok()) {
            response.status = 401;
            return;
          }
          absl::StatusOr<paymento::bridge::v1::Event> event =
              paymento::bridge::NormalizeWebhook(request.body);
          if (!event.ok()) {
            response.status = 400;
            return;
          }
          committer->Store(event->SerializeAsString(), event->id());
        } else if (committer) {
          committer->Store(request.body, "");
        }
        response.status = 200;
        response.set_content(kAccepted, "application/json");
      });
  if (!server.bind_to_port("127.0.0.1", port)) {
    std::fprintf(stderr,
                 "bare-httplib-server: cannot listen on 127.0.0.1:%d: the "
                 "port is in use\n",
                 port);
    return 1;
  }

  std::thread stopper([&server, signals] {
    int received = 0;
    sigwait(&signals, &received);
    server.stop();
  });
  server.listen_after_bind();
  // Ends the signal thread when listening stopped for another reason.
  kill(getpid(), SIGTERM);
  stopper.join();
  return 0;
}
