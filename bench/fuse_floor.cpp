// kqfs-fuse-floor: the FUSE floor of kqfs-bench, a libfuse low-level daemon
// that does nothing but answer. It serves a root directory with one file,
// `f` (direct_io, so every read and write reaches it; the directory cannot
// be listed), and
//   - answers every write at once with its size;
//   - parks every read until the next write arrives, then answers it with
//     two bytes: a FUSE wake-up and nothing else (a signal to the reader
//     answers it with EINTR, as kqfsd does);
//   - answers every ioctl at once with result 0 and no data.
// One thread, fuse_session_loop: what a request costs through FUSE when the
// daemon spends nothing of its own, to hold kqfsd's figures against.
//
//   kqfs-fuse-floor [--foreground] [--log FILE] MOUNTPOINT
//
// It always runs in the foreground until SIGTERM or SIGINT, then unmounts.
// --foreground and --log are kqfsd's launch options, taken so that the
// benchmark starts it the way it starts kqfsd; the log gets only errors.
#include <fuse_lowlevel.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <memory>
#include <string_view>
#include <vector>

namespace {

constexpr fuse_ino_t kFileInode = 2;
constexpr std::string_view kFileName = "f";
// Entries and attributes stay cached: a request in the measured loop is
// the read, write or ioctl itself and nothing before it.
constexpr double kCacheSeconds = 86400;
constexpr std::string_view kReadAnswer = "x\n";

// The reads parked until the next write.
struct ParkedReads {
  std::vector<fuse_req_t> waiting;
};

ParkedReads& parked_of(fuse_req_t request) {
  return *static_cast<ParkedReads*>(fuse_req_userdata(request));
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
    st.st_mode = S_IFREG | 0666;
    st.st_nlink = 1;
  }
  return st;
}

void lookup(fuse_req_t request, fuse_ino_t parent, const char* name) {
  if (parent != FUSE_ROOT_ID || name != kFileName) {
    fuse_reply_err(request, ENOENT);
    return;
  }
  fuse_entry_param entry{};
  entry.ino = kFileInode;
  entry.attr = attributes_of(kFileInode);
  entry.attr_timeout = kCacheSeconds;
  entry.entry_timeout = kCacheSeconds;
  fuse_reply_entry(request, &entry);
}

void getattr(fuse_req_t request, fuse_ino_t inode, fuse_file_info*) {
  const struct stat st = attributes_of(inode);
  fuse_reply_attr(request, &st, kCacheSeconds);
}

void open(fuse_req_t request, fuse_ino_t inode, fuse_file_info* info) {
  if (inode != kFileInode) {
    fuse_reply_err(request, EISDIR);
    return;
  }
  info->direct_io = 1;
  info->nonseekable = 1;
  fuse_reply_open(request, info);
}

void on_read_interrupted(fuse_req_t request, void* data) {
  auto& waiting = static_cast<ParkedReads*>(data)->waiting;
  const auto parked = std::find(waiting.begin(), waiting.end(), request);
  if (parked == waiting.end()) return;
  waiting.erase(parked);
  fuse_reply_err(request, EINTR);
}

void read(fuse_req_t request, fuse_ino_t, size_t, off_t, fuse_file_info*) {
  ParkedReads& parked = parked_of(request);
  parked.waiting.push_back(request);
  fuse_req_interrupt_func(request, on_read_interrupted, &parked);
}

void write(fuse_req_t request, fuse_ino_t, const char*, size_t size, off_t, fuse_file_info*) {
  // The parked reads first: their wake-up is what is measured.
  std::vector<fuse_req_t> woken;
  woken.swap(parked_of(request).waiting);
  for (const fuse_req_t read_request : woken) {
    fuse_reply_buf(read_request, kReadAnswer.data(), kReadAnswer.size());
  }
  fuse_reply_write(request, size);
}

void ioctl(fuse_req_t request, fuse_ino_t, unsigned int, void*, fuse_file_info*, unsigned,
           const void*, size_t, size_t) {
  fuse_reply_ioctl(request, 0, nullptr, 0);
}

int usage() {
  std::fprintf(stderr, "usage: kqfs-fuse-floor [--foreground] [--log FILE] MOUNTPOINT\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  const char* mount_point = nullptr;
  for (int i = 1; i < argc; ++i) {
    const std::string_view argument = argv[i];
    if (argument == "--foreground") continue;
    if (argument == "--log" && i + 1 < argc) {
      if (std::freopen(argv[++i], "a", stderr) == nullptr) return 1;
    } else if (mount_point == nullptr && !argument.starts_with("-")) {
      mount_point = argv[i];
    } else {
      return usage();
    }
  }
  if (mount_point == nullptr) return usage();

  fuse_lowlevel_ops operations{};
  operations.lookup = lookup;
  operations.getattr = getattr;
  operations.open = open;
  operations.read = read;
  operations.write = write;
  operations.ioctl = ioctl;

  ParkedReads parked;
  char program[] = "kqfs-fuse-floor";
  char option_flag[] = "-o";
  char options[] = "fsname=kqfs-fuse-floor,subtype=kqfs-fuse-floor";
  char* fuse_argv[] = {program, option_flag, options, nullptr};
  fuse_args args = FUSE_ARGS_INIT(3, fuse_argv);
  // fuse_session_new replaces the arguments with copies of its own.
  const std::unique_ptr<fuse_args, decltype(&fuse_opt_free_args)> parsed_args(&args,
                                                                              fuse_opt_free_args);
  const std::unique_ptr<fuse_session, decltype(&fuse_session_destroy)> session(
      fuse_session_new(&args, &operations, sizeof operations, &parked), fuse_session_destroy);
  if (!session || fuse_set_signal_handlers(session.get()) != 0) return 1;
  int status = 1;
  if (fuse_session_mount(session.get(), mount_point) == 0) {
    status = fuse_session_loop(session.get()) == 0 ? 0 : 1;
    fuse_session_unmount(session.get());
  }
  fuse_remove_signal_handlers(session.get());
  return status;
}
