// Queue lengths Linux reports only through sock_diag.
#pragma once

#include <cstdint>

namespace kqfs {

// Connections waiting in the accept queue of a listening unix socket
// (SIOCINQ refuses listeners); 0 when sock_diag cannot tell.
int64_t unix_accept_queue_length(int fd);

}  // namespace kqfs
