// A FUSE server that stops answering: the hostile filesystem of
// tests/bats/hostile.bats. It serves a root directory with one file, `file`,
// and answers every request until that file has been opened once. From then
// on it answers nothing (getattr, access, poll, read, flush, ioctl, statfs,
// lookup ...): each request is kept and never replied to, so whoever asked
// waits until this server dies (the kernel then fails the requests with
// ENOTCONN). With --sleep SECONDS it answers instead, that late. With
// --answer-flush it still answers FLUSH at once, so that its clients may
// close (and dup2 over) descriptors of the file without waiting.
//
//   hostile_fuse [--sleep SECONDS] [--answer-flush] MOUNTPOINT
//
// It runs in the foreground until SIGTERM or SIGINT; a test kills it, then
// unmounts the mount point lazily.
#include <fuse_lowlevel.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string_view>
#include <vector>

namespace {

constexpr fuse_ino_t kFileInode = 2;
constexpr const char* kFileName = "file";
constexpr off_t kFileSize = 4096;

struct State {
  bool stalling = false;     // the file was opened: answer nothing more
  unsigned sleep_after = 0;  // 0: never answer; else answer this many seconds late
  bool answer_flush = false;
  std::vector<fuse_req_t> held;
};

State& state_of(fuse_req_t request) {
  return *static_cast<State*>(fuse_req_userdata(request));
}

// True when the request is not to be answered now: it is kept forever, or
// answered after the sleep (which stalls this single-threaded server too).
bool withheld(fuse_req_t request) {
  State& state = state_of(request);
  if (!state.stalling) return false;
  if (state.sleep_after == 0) {
    state.held.push_back(request);
    return true;
  }
  ::sleep(state.sleep_after);
  return false;
}

struct stat attributes_of(fuse_ino_t inode) {
  struct stat st {};
  st.st_ino = inode;
  st.st_uid = ::getuid();
  st.st_gid = ::getgid();
  if (inode == FUSE_ROOT_ID) {
    st.st_mode = S_IFDIR | 0755;
    st.st_nlink = 2;
  } else {
    st.st_mode = S_IFREG | 0644;
    st.st_nlink = 1;
    st.st_size = kFileSize;
  }
  return st;
}

// Attributes and entries are never cached: every stat asks the server.
void lookup(fuse_req_t request, fuse_ino_t parent, const char* name) {
  if (withheld(request)) return;
  if (parent != FUSE_ROOT_ID || std::string_view(name) != kFileName) {
    fuse_reply_err(request, ENOENT);
    return;
  }
  fuse_entry_param entry{};
  entry.ino = kFileInode;
  entry.attr = attributes_of(kFileInode);
  fuse_reply_entry(request, &entry);
}

void getattr(fuse_req_t request, fuse_ino_t inode, fuse_file_info*) {
  if (withheld(request)) return;
  const struct stat st = attributes_of(inode);
  fuse_reply_attr(request, &st, 0.0);
}

void access(fuse_req_t request, fuse_ino_t, int) {
  if (withheld(request)) return;
  fuse_reply_err(request, 0);
}

void open(fuse_req_t request, fuse_ino_t inode, fuse_file_info* info) {
  if (withheld(request)) return;
  if (inode != kFileInode) {
    fuse_reply_err(request, EISDIR);
    return;
  }
  State& state = state_of(request);  // a reply frees the request
  fuse_reply_open(request, info);
  state.stalling = true;
}

void read(fuse_req_t request, fuse_ino_t, size_t size, off_t offset, fuse_file_info*) {
  if (withheld(request)) return;
  static const char zeros[4096] = {};
  const size_t length = offset >= kFileSize ? 0 : std::min<size_t>(size, kFileSize - offset);
  fuse_reply_buf(request, zeros, std::min(length, sizeof zeros));
}

void poll(fuse_req_t request, fuse_ino_t, fuse_file_info*, fuse_pollhandle* handle) {
  if (handle != nullptr) fuse_pollhandle_destroy(handle);
  if (withheld(request)) return;
  fuse_reply_poll(request, POLLIN);
}

void flush(fuse_req_t request, fuse_ino_t, fuse_file_info*) {
  if (!state_of(request).answer_flush && withheld(request)) return;
  fuse_reply_err(request, 0);
}

// Sent in the background by the kernel: nobody waits for it.
void release(fuse_req_t request, fuse_ino_t, fuse_file_info*) {
  fuse_reply_err(request, 0);
}

void statfs(fuse_req_t request, fuse_ino_t) {
  if (withheld(request)) return;
  struct statvfs st {};
  st.f_bsize = 4096;
  st.f_namemax = 255;
  fuse_reply_statfs(request, &st);
}

void ioctl(fuse_req_t request, fuse_ino_t, unsigned int, void*, fuse_file_info*, unsigned,
           const void*, size_t, size_t) {
  if (withheld(request)) return;
  fuse_reply_err(request, ENOTTY);
}

void getxattr(fuse_req_t request, fuse_ino_t, const char*, size_t) {
  if (withheld(request)) return;
  fuse_reply_err(request, ENODATA);
}

void opendir(fuse_req_t request, fuse_ino_t inode, fuse_file_info* info) {
  if (withheld(request)) return;
  if (inode != FUSE_ROOT_ID) {
    fuse_reply_err(request, ENOTDIR);
    return;
  }
  fuse_reply_open(request, info);
}

void readdir(fuse_req_t request, fuse_ino_t, size_t size, off_t offset, fuse_file_info*) {
  if (withheld(request)) return;
  char buffer[512];
  size_t used = 0;
  const char* names[] = {".", "..", kFileName};
  const fuse_ino_t inodes[] = {FUSE_ROOT_ID, FUSE_ROOT_ID, kFileInode};
  for (off_t i = offset; i < 3; ++i) {
    const struct stat st = attributes_of(inodes[i]);
    const size_t room = std::min(size, sizeof buffer) - used;
    const size_t needed = fuse_add_direntry(request, buffer + used, room, names[i], &st, i + 1);
    if (needed > room) break;
    used += needed;
  }
  fuse_reply_buf(request, buffer, used);
}

void releasedir(fuse_req_t request, fuse_ino_t, fuse_file_info*) {
  fuse_reply_err(request, 0);
}

int usage() {
  std::fprintf(stderr, "usage: hostile_fuse [--sleep SECONDS] [--answer-flush] MOUNTPOINT\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  State state;
  const char* mount_point = nullptr;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--sleep" && i + 1 < argc) {
      state.sleep_after = static_cast<unsigned>(std::strtoul(argv[++i], nullptr, 10));
    } else if (arg == "--answer-flush") {
      state.answer_flush = true;
    } else if (mount_point == nullptr && !arg.starts_with("-")) {
      mount_point = argv[i];
    } else {
      return usage();
    }
  }
  if (mount_point == nullptr) return usage();

  fuse_lowlevel_ops operations{};
  operations.lookup = lookup;
  operations.getattr = getattr;
  operations.access = access;
  operations.open = open;
  operations.read = read;
  operations.poll = poll;
  operations.flush = flush;
  operations.release = release;
  operations.statfs = statfs;
  operations.ioctl = ioctl;
  operations.getxattr = getxattr;
  operations.opendir = opendir;
  operations.readdir = readdir;
  operations.releasedir = releasedir;

  char program[] = "hostile_fuse";
  char option_flag[] = "-o";
  char options[] = "fsname=hostile,subtype=hostile";
  char* fuse_argv[] = {program, option_flag, options, nullptr};
  fuse_args args = FUSE_ARGS_INIT(3, fuse_argv);
  const std::unique_ptr<fuse_session, decltype(&fuse_session_destroy)> session(
      fuse_session_new(&args, &operations, sizeof operations, &state), fuse_session_destroy);
  if (!session || fuse_set_signal_handlers(session.get()) != 0) return 1;
  int status = 1;
  if (fuse_session_mount(session.get(), mount_point) == 0) {
    status = fuse_session_loop(session.get()) == 0 ? 0 : 1;
    fuse_session_unmount(session.get());
  }
  fuse_remove_signal_handlers(session.get());
  return status;
}
