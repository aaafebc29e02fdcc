// What Linux reports of unix sockets only through sock_diag.
#pragma once

#include <cstdint>
#include <string>

namespace kqfs {

// Connections waiting in the accept queue of a listening unix socket
// (SIOCINQ refuses listeners); 0 when sock_diag cannot tell.
int64_t unix_accept_queue_length(int fd);

// Whether the unix socket's own side was shut down for sending
// (shutdown(SHUT_WR)): poll does not show it.
bool unix_sending_shut_down(int fd);

// Whether sock_diag answers for unix sockets, asked once: empty, or why not.
// Without it a listener's accept queue reads 0 and a shutdown(SHUT_WR)
// goes unseen.
std::string sock_diag_probe();

}  // namespace kqfs
