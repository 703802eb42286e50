// A SQLite VFS that gathers the writes to a write-ahead log and hands them
// to the file system in few calls.
//
// SQLite writes each log frame with two calls, its 24-byte header and then
// its page, so a commit of 26 frames costs 52 pwrite calls, each taking the
// file's lock and touching the page cache. This VFS keeps consecutive writes
// to a log in memory. It writes them before anything that depends on them:
// a sync, a read, a truncation, a size query, a file control, closing the
// file, and the header of a commit's last frame. That header goes to the
// file with everything before it, and its page straight after. So a commit's
// frames are in the file before SQLite publishes them to readers, in this
// process or another, a failed write fails the commit whatever `synchronous`
// is, and a sync still covers every write made before it. Every other call goes
// to the VFS underneath unchanged.
#ifndef PAYMENTO_BRIDGE_SRC_STORE_SQLITE_WAL_VFS_H_
#define PAYMENTO_BRIDGE_SRC_STORE_SQLITE_WAL_VFS_H_

#include <sqlite3.h>

#include "absl/status/status.h"

namespace paymento::bridge {

// Registers, once per process, the VFS that gathers log writes on top of
// the default VFS, under the name kGatheredWalVfs. Not made the default.
absl::Status RegisterGatheredWalVfs();

inline constexpr char kGatheredWalVfs[] = "paymento-gathered-wal";

// Registers under `name` a VFS that gathers log writes on top of `base`,
// which must outlive it. Tests use this to put a counting VFS underneath.
absl::Status RegisterGatheredWalVfsOn(const char* name, sqlite3_vfs* base);

}  // namespace paymento::bridge

#endif  // PAYMENTO_BRIDGE_SRC_STORE_SQLITE_WAL_VFS_H_
