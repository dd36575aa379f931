// strata firmware boot: text output on the serial console (no printf).
#pragma once
#include "core/types.hpp"

namespace strata::fw {

/// Writes a NUL-terminated string (null prints "(null)").
void put(const char* s);
/// Writes v in hexadecimal with a 0x prefix.
void put_hex(u64 v);
/// Writes v in decimal.
void put_dec(u64 v);
/// Writes "strata-fw: " followed by s: every line the images print starts so.
void put_tag(const char* s);

}  // namespace strata::fw
