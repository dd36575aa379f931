// Core helpers: alignment, bits, Result, the intrusive list, the scenario PRNG.
#include <gtest/gtest.h>

#include <cstring>
#include <new>

#include "strata/core/bits.hpp"
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
