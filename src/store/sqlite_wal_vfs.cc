#include "src/store/sqlite_wal_vfs.h"

#include <algorithm>
#include <cstddef>
#include <string>

#include "absl/strings/str_cat.h"

namespace paymento::bridge {
namespace {

// Above this many pending bytes the log is written before more are added:
// about 250 frames of 4 KiB pages, nine times a commit of the ingress
// benchmark.
constexpr size_t kGatherLimit = 1 << 20;
// The Unix VFS keeps only the low 17 bits of a write's byte count
// (seekAndWriteFd in os_unix.c), so a longer write would lose bytes.
// Pending bytes are written in pieces of 64 KiB.
constexpr size_t kWriteLimit = 1 << 16;
// A log frame's header, which SQLite writes on its own before the page. Its
// second big-endian 32-bit field is the database size in pages after the
// commit on the last frame of a commit, and zero on other frames (the
// write-ahead log format of https://www.sqlite.org/fileformat.html).
constexpr int kFrameHeaderBytes = 24;

// The file object that SQLite calls. The underlying VFS's own file object
// follows it in the same allocation, at kRealOffset.
struct GatheredFile {
  sqlite3_file base;  // First, so that SQLite's pointer is this object's.
  sqlite3_file* real;
  // On a write-ahead log: the bytes not yet written, which start at file
  // offset `start`. nullptr on other files.
  std::string* pending;
  sqlite3_int64 start;
  // Set by a commit frame's header: its page, the next write, goes to the
  // file at once.
  bool write_next_through;
};

constexpr size_t kRealOffset =
    (sizeof(GatheredFile) + alignof(std::max_align_t) - 1) /
    alignof(std::max_align_t) * alignof(std::max_align_t);

GatheredFile* Gathered(sqlite3_file* file) {
  return reinterpret_cast<GatheredFile*>(file);
}

sqlite3_file* Real(sqlite3_file* file) { return Gathered(file)->real; }

// Writes the log's pending bytes to the file. The bytes are dropped even when
// the write fails: SQLite abandons the transaction on the error, and writes its
// frames again in the next one.
int WritePending(GatheredFile* file) {
  if (file->pending == nullptr) return SQLITE_OK;
  int rc = SQLITE_OK;
  const std::string& pending = *file->pending;
  for (size_t done = 0; done < pending.size() && rc == SQLITE_OK;
       done += kWriteLimit) {
    size_t size = std::min(kWriteLimit, pending.size() - done);
    rc = file->real->pMethods->xWrite(file->real, pending.data() + done,
                                      static_cast<int>(size),
                                      file->start + done);
  }
  file->pending->clear();
  return rc;
}

bool IsCommitFrameHeader(const void* data, int amount) {
  if (amount != kFrameHeaderBytes) return false;
  const auto* bytes = static_cast<const unsigned char*>(data);
  return (bytes[4] | bytes[5] | bytes[6] | bytes[7]) != 0;
}

int Close(sqlite3_file* file) {
  GatheredFile* gathered = Gathered(file);
  int written = WritePending(gathered);
  int closed = gathered->real->pMethods->xClose(gathered->real);
  delete gathered->pending;
  gathered->pending = nullptr;
  return written != SQLITE_OK ? written : closed;
}

int Read(sqlite3_file* file, void* data, int amount, sqlite3_int64 offset) {
  int rc = WritePending(Gathered(file));
  if (rc != SQLITE_OK) return rc;
  return Real(file)->pMethods->xRead(Real(file), data, amount, offset);
}

int Write(sqlite3_file* file, const void* data, int amount,
          sqlite3_int64 offset) {
  GatheredFile* gathered = Gathered(file);
  std::string* pending = gathered->pending;
  if (pending == nullptr) {
    return Real(file)->pMethods->xWrite(Real(file), data, amount, offset);
  }
  bool follows =
      offset == gathered->start + static_cast<sqlite3_int64>(pending->size());
  if ((!pending->empty() && !follows) ||
      pending->size() + static_cast<size_t>(amount) > kGatherLimit) {
    int rc = WritePending(gathered);
    if (rc != SQLITE_OK) return rc;
  }
  if (gathered->write_next_through ||
      static_cast<size_t>(amount) > kWriteLimit) {
    gathered->write_next_through = false;
    return Real(file)->pMethods->xWrite(Real(file), data, amount, offset);
  }
  if (pending->empty()) gathered->start = offset;
  pending->append(static_cast<const char*>(data), amount);
  // Once SQLite has written a commit's frames it publishes them to readers
  // without another call to this file unless synchronous=FULL syncs it. So
  // the commit frame's header goes to the file with everything before it,
  // its page follows at once, and a failed write fails the commit.
  if (IsCommitFrameHeader(data, amount)) {
    gathered->write_next_through = true;
    return WritePending(gathered);
  }
  return SQLITE_OK;
}

int Truncate(sqlite3_file* file, sqlite3_int64 size) {
  int rc = WritePending(Gathered(file));
  if (rc != SQLITE_OK) return rc;
  return Real(file)->pMethods->xTruncate(Real(file), size);
}

int Sync(sqlite3_file* file, int flags) {
  int rc = WritePending(Gathered(file));
  if (rc != SQLITE_OK) return rc;
  return Real(file)->pMethods->xSync(Real(file), flags);
}

int FileSize(sqlite3_file* file, sqlite3_int64* size) {
  int rc = WritePending(Gathered(file));
  if (rc != SQLITE_OK) return rc;
  return Real(file)->pMethods->xFileSize(Real(file), size);
}

int Lock(sqlite3_file* file, int level) {
  return Real(file)->pMethods->xLock(Real(file), level);
}

int Unlock(sqlite3_file* file, int level) {
  return Real(file)->pMethods->xUnlock(Real(file), level);
}

int CheckReservedLock(sqlite3_file* file, int* reserved) {
  return Real(file)->pMethods->xCheckReservedLock(Real(file), reserved);
}

int FileControl(sqlite3_file* file, int op, void* argument) {
  int rc = WritePending(Gathered(file));
  if (rc != SQLITE_OK) return rc;
  return Real(file)->pMethods->xFileControl(Real(file), op, argument);
}

int SectorSize(sqlite3_file* file) {
  return Real(file)->pMethods->xSectorSize(Real(file));
}

int DeviceCharacteristics(sqlite3_file* file) {
  return Real(file)->pMethods->xDeviceCharacteristics(Real(file));
}

int ShmMap(sqlite3_file* file, int region, int size, int extend,
           void volatile** memory) {
  return Real(file)->pMethods->xShmMap(Real(file), region, size, extend,
                                       memory);
}

int ShmLock(sqlite3_file* file, int offset, int count, int flags) {
  return Real(file)->pMethods->xShmLock(Real(file), offset, count, flags);
}

void ShmBarrier(sqlite3_file* file) {
  Real(file)->pMethods->xShmBarrier(Real(file));
}

int ShmUnmap(sqlite3_file* file, int remove) {
  return Real(file)->pMethods->xShmUnmap(Real(file), remove);
}

int Fetch(sqlite3_file* file, sqlite3_int64 offset, int amount, void** page) {
  int rc = WritePending(Gathered(file));
  if (rc != SQLITE_OK) return rc;
  return Real(file)->pMethods->xFetch(Real(file), offset, amount, page);
}

int Unfetch(sqlite3_file* file, sqlite3_int64 offset, void* page) {
  return Real(file)->pMethods->xUnfetch(Real(file), offset, page);
}

// Version 3, as the default Unix VFS's own methods: WAL mode needs the
// shared-memory methods of version 2.
const sqlite3_io_methods kMethods = {
    3,
    Close,
    Read,
    Write,
    Truncate,
    Sync,
    FileSize,
    Lock,
    Unlock,
    CheckReservedLock,
    FileControl,
    SectorSize,
    DeviceCharacteristics,
    ShmMap,
    ShmLock,
    ShmBarrier,
    ShmUnmap,
    Fetch,
    Unfetch,
};

sqlite3_vfs* Base(sqlite3_vfs* vfs) {
  return static_cast<sqlite3_vfs*>(vfs->pAppData);
}

int Open(sqlite3_vfs* vfs, const char* name, sqlite3_file* file, int flags,
         int* out_flags) {
  GatheredFile* gathered = Gathered(file);
  gathered->base.pMethods = nullptr;
  gathered->real = reinterpret_cast<sqlite3_file*>(
      reinterpret_cast<char*>(file) + kRealOffset);
  gathered->real->pMethods = nullptr;
  gathered->pending = nullptr;
  gathered->start = 0;
  gathered->write_next_through = false;
  int rc = Base(vfs)->xOpen(Base(vfs), name, gathered->real, flags, out_flags);
  if (rc != SQLITE_OK) {
    if (gathered->real->pMethods != nullptr) {
      gathered->real->pMethods->xClose(gathered->real);
    }
    return rc;
  }
  if (gathered->real->pMethods->iVersion < 3) {
    gathered->real->pMethods->xClose(gathered->real);
    return SQLITE_CANTOPEN;
  }
  gathered->base.pMethods = &kMethods;
  if ((flags & SQLITE_OPEN_WAL) != 0) gathered->pending = new std::string();
  return SQLITE_OK;
}

}  // namespace

absl::Status RegisterGatheredWalVfsOn(const char* name, sqlite3_vfs* base) {
  if (base == nullptr) {
    return absl::FailedPreconditionError(
        "SQLite has no VFS to gather write-ahead log writes on");
  }

  // Registered VFSs live as long as the process.
  auto* vfs = new sqlite3_vfs();
  vfs->iVersion = 2;
  vfs->szOsFile = static_cast<int>(kRealOffset) + base->szOsFile;
  vfs->mxPathname = base->mxPathname;
  vfs->zName = name;
  vfs->pAppData = base;
  vfs->xOpen = Open;

  vfs->xDelete = [](sqlite3_vfs* v, const char* path, int sync_directory) {
    return Base(v)->xDelete(Base(v), path, sync_directory);
  };
  vfs->xAccess = [](sqlite3_vfs* v, const char* path, int flags, int* out) {
    return Base(v)->xAccess(Base(v), path, flags, out);
  };
  vfs->xFullPathname = [](sqlite3_vfs* v, const char* path, int size,
                          char* out) {
    return Base(v)->xFullPathname(Base(v), path, size, out);
  };
  vfs->xDlOpen = [](sqlite3_vfs* v, const char* path) {
    return Base(v)->xDlOpen(Base(v), path);
  };
  vfs->xDlError = [](sqlite3_vfs* v, int size, char* out) {
    Base(v)->xDlError(Base(v), size, out);
  };
  vfs->xDlSym = [](sqlite3_vfs* v, void* library, const char* symbol) {
    return Base(v)->xDlSym(Base(v), library, symbol);
  };
  vfs->xDlClose = [](sqlite3_vfs* v, void* library) {
    Base(v)->xDlClose(Base(v), library);
  };
  vfs->xRandomness = [](sqlite3_vfs* v, int size, char* out) {
    return Base(v)->xRandomness(Base(v), size, out);
  };
  vfs->xSleep = [](sqlite3_vfs* v, int microseconds) {
    return Base(v)->xSleep(Base(v), microseconds);
  };
  vfs->xCurrentTime = [](sqlite3_vfs* v, double* now) {
    return Base(v)->xCurrentTime(Base(v), now);
  };
  vfs->xGetLastError = [](sqlite3_vfs* v, int size, char* out) {
    return Base(v)->xGetLastError(Base(v), size, out);
  };

  if (base->iVersion >= 2 && base->xCurrentTimeInt64 != nullptr) {
    vfs->xCurrentTimeInt64 = [](sqlite3_vfs* v, sqlite3_int64* now) {
      return Base(v)->xCurrentTimeInt64(Base(v), now);
    };
  } else {
    vfs->iVersion = 1;
  }

  int rc = sqlite3_vfs_register(vfs, /*makeDflt=*/0);
  if (rc != SQLITE_OK) {
    delete vfs;
    return absl::InternalError(absl::StrCat("cannot register the SQLite VFS ",
                                            name, ": ", sqlite3_errstr(rc)));
  }
  return absl::OkStatus();
}

absl::Status RegisterGatheredWalVfs() {
  static const absl::Status* registered = new absl::Status(
      RegisterGatheredWalVfsOn(kGatheredWalVfs, sqlite3_vfs_find(nullptr)));
  return *registered;
}

}  // namespace paymento::bridge
