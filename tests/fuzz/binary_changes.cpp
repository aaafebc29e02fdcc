// Fuzz target: 32-byte binary change records (`changes.bin`, `kq/clone`),
// through the change stream, partial tails kept across writes, and into a
// real queue (change_harness.hpp).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "change_harness.hpp"
#include "fuzz.hpp"
#include "kqfs/codec/codec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  kqfs::fuzz::check_changes(kqfs::codec::Format::binary, bytes);
  return 0;
}
