// Core helpers: alignment, bits, LEB128, Result, the intrusive list, the scenario PRNG.
#include <gtest/gtest.h>

#include <cstring>
#include <new>

#include "strata/core/bits.hpp"
#include "strata/core/leb128.hpp"
#include "strata/core/list.hpp"
#include "scenarios/rng.hpp"
#include "strata/align.hpp"
#include "strata/result.hpp"

using namespace strata;

TEST(Align, UpDownAndChecked) {
  EXPECT_EQ(align_up(0, 8), 0u);
  EXPECT_EQ(align_up(17, 16), 32u);
  EXPECT_EQ(align_down(4097, 4096), 4096u);
  usize out = 7;
  EXPECT_FALSE(align_up_checked(USIZE_MAX - 3, 16, out));
  EXPECT_EQ(out, 7u);
  EXPECT_TRUE(align_up_checked(33, 32, out));
  EXPECT_EQ(out, 64u);
  EXPECT_TRUE(is_ptr_aligned(reinterpret_cast<void*>(0x1000), 4096));
}

TEST(Bits, Logs) {
  EXPECT_EQ(log2_floor(1), 0u);
  EXPECT_EQ(log2_floor(4096), 12u);
  EXPECT_EQ(log2_ceil(4097), 13u);
  EXPECT_EQ(next_pow2(33), 64u);
  EXPECT_TRUE(is_pow2(1) && !is_pow2(0) && !is_pow2(6));
  usize r = 0;
  EXPECT_FALSE(checked_mul(USIZE_MAX / 2, 3, r));
}

namespace {
/// leb128_get over bytes[0, n).
bool leb_read(const u8* bytes, usize n, u64& v, usize max_bytes, bool is_signed, usize* used = nullptr) {
  usize at = 0;
  const bool ok = leb128_get([&](u8& b) { return at < n && (b = bytes[at++], true); }, v, max_bytes, is_signed);
  if (used != nullptr) *used = at;
  return ok;
}
}  // namespace

TEST(Leb128, RoundTripsAndTakesTheShortestEncoding) {
  const u64 values[] = {0, 1, 127, 128, 16383, 16384, u64{1} << 35, (u64{1} << 63) - 1, u64{1} << 63, ~u64{0}};
  const usize lengths[] = {1, 1, 1, 2, 2, 3, 6, 9, 10, 10};
  for (usize i = 0; i < sizeof values / sizeof values[0]; ++i) {
    u8 buf[LEB128_MAX_BYTES + 1] = {};
    const usize len = leb128_put(values[i], buf);
    EXPECT_EQ(len, lengths[i]) << values[i];
    u64 v = 0;
    usize used = 0;
    ASSERT_TRUE(leb_read(buf, sizeof buf, v, LEB128_MAX_BYTES, false, &used)) << values[i];
    EXPECT_EQ(v, values[i]);
    EXPECT_EQ(used, len) << "read past the encoding's end";
  }
  const u8 dwarf_example[] = {0xe5, 0x8e, 0x26};  // 624485, the DWARF standard's example
  u64 v = 0;
  ASSERT_TRUE(leb_read(dwarf_example, 3, v, LEB128_MAX_BYTES, false));
  EXPECT_EQ(v, 624485u);
}

TEST(Leb128, SignedReadsSignExtend) {
  struct Case {
    u8 bytes[10];
    usize n;
    i64 want;
  };
  const Case cases[] = {{{0x7f}, 1, -1},
                        {{0x40}, 1, -64},
                        {{0xbf, 0x7f}, 2, -65},
                        {{0x3f}, 1, 63},
                        {{0xc0, 0x00}, 2, 64},
                        {{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7f}, 10, INT64_MIN}};
  for (const Case& c : cases) {
    u64 v = 0;
    ASSERT_TRUE(leb_read(c.bytes, c.n, v, LEB128_MAX_BYTES, true)) << c.want;
    EXPECT_EQ(static_cast<i64>(v), c.want);
  }
}

TEST(Leb128, TruncatedAndOverlongEncodingsFail) {
  const u8 cut[] = {0x80, 0x80};  // continues past the end
  u64 v = 0;
  EXPECT_FALSE(leb_read(cut, 2, v, LEB128_MAX_BYTES, false));
  EXPECT_FALSE(leb_read(cut, 0, v, LEB128_MAX_BYTES, false)) << "no byte at all";
  const u8 padded[] = {0x85, 0x80, 0x80, 0x00};  // 5 in four bytes: valid within a limit of four
  EXPECT_TRUE(leb_read(padded, 4, v, 4, false));
  EXPECT_EQ(v, 5u);
  EXPECT_FALSE(leb_read(padded, 4, v, 3, false)) << "an encoding longer than max_bytes was accepted";
  u8 eleven[11];
  for (u8& b : eleven) b = 0x80;
  eleven[10] = 0x01;  // a group beyond bit 63: read and dropped
  ASSERT_TRUE(leb_read(eleven, 11, v, 12, false));
  EXPECT_EQ(v, 0u);
  EXPECT_FALSE(leb_read(eleven, 11, v, LEB128_MAX_BYTES, false));
}

TEST(ResultType, ValueAndError) {
  Result<int> a = 5;
  Result<int> b = AllocError::NoMemory;
  EXPECT_TRUE(a.ok());
  EXPECT_EQ(a.value(), 5);
  EXPECT_FALSE(b.ok());
  EXPECT_EQ(b.error(), AllocError::NoMemory);
  EXPECT_EQ(b.value_or(9), 9);
  Result<void> v = ok();
  EXPECT_TRUE(v.ok());
  EXPECT_STREQ(to_string(AllocError::MemoryOverlap), "MemoryOverlap");
}

TEST(Rng, DeterministicAndInRange) {
  scenario::Rng a(42), b(42);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(a.next(), b.next());
  for (int i = 0; i < 10000; ++i) {
    u64 v = a.log_uniform(4096);
    ASSERT_GE(v, 1u);
    ASSERT_LE(v, 4096u);
  }
}

// A list whose bytes are all zero (a .bss object before anything ran) is
// empty and usable at once; init() empties a list that holds nodes.
TEST(IntrusiveListTest, ZeroBytesAreAnEmptyList) {
  alignas(IntrusiveList) unsigned char raw[sizeof(IntrusiveList)];
  std::memset(raw, 0, sizeof raw);
  IntrusiveList& l = *new (raw) IntrusiveList;  // its initialiser is zero too
  std::memset(raw, 0, sizeof raw);              // and so are the bytes, whatever it wrote
  EXPECT_TRUE(l.empty());
  EXPECT_EQ(l.front(), nullptr);
  EXPECT_EQ(l.pop_front(), nullptr);
  EXPECT_EQ(l.first(), l.end());
  ListNode a, b, c;
  l.push_back(&b);
  l.push_front(&a);
  std::memset(raw, 0, sizeof raw);  // a zeroed list that gets its first node at the back
  l.push_back(&c);
  EXPECT_EQ(l.front(), &c);
  l.init();
  l.push_back(&a);
  l.push_back(&b);
  l.push_front(&c);
  const ListNode* order[3] = {};
  int n = 0;
  for (ListNode* x = l.first(); x != l.end(); x = x->next) order[n < 3 ? n++ : 2] = x;
  ASSERT_EQ(n, 3);
  EXPECT_EQ(order[0], &c);
  EXPECT_EQ(order[1], &a);
  EXPECT_EQ(order[2], &b);
  IntrusiveList::remove(&a);
  EXPECT_FALSE(a.linked());
  EXPECT_EQ(l.pop_front(), &c);
  EXPECT_EQ(l.pop_front(), &b);
  EXPECT_TRUE(l.empty());
  l.init();
  EXPECT_TRUE(l.empty());
}
