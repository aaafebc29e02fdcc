// Fuzz target: 32-byte binary change records (`changes.bin`, `kq/clone`),
// through the change stream, partial tails kept across writes, and into a
// real queue (change_harness.hpp).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "change_harness.hpp"
#include "fuzz.hpp"
#include "kqfs/codec/codec.hpp"

KQFS_FUZZ_CHANGE_TARGET(binary, nullptr)
