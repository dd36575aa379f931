// strata firmware: the members of the firmware TLSF that a malloc-family
// firmware needs, and only those, for size_table.sh's comparison with the
// TLSF and o1heap objects embedded engineers use: init, add pool, alloc (and
// aligned alloc: the same member), free, realloc in place, usable size, and
// the three statistics. Left out, next to instances/tlsf.cpp (every member):
// verify() (test-only), the sized ByteAllocator dealloc and the *_in_pool
// fast paths of the hosted runtime. Built on demand (target
// strata_fw_size_members), never linked into anything.
#include "runtime/firmware_engines.hpp"

namespace strata {
using T = Tlsf<TlsfSmallConfig>;
template Result<void> T::init(void*, usize);
template Result<void> T::add_memory(void*, usize);
template Result<void*> T::alloc(usize, usize);
template Result<void> T::dealloc(void*);
template Result<void*> T::try_resize_in_place(void*, usize);
template Result<usize> T::usable_size(const void*) const;
template usize T::total_bytes() const;
template usize T::used_bytes() const;
template usize T::available_bytes() const;
}  // namespace strata
