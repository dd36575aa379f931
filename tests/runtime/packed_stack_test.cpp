// PackedStack (src/runtime/packed_stack.hpp), guarded sampling's stack
// storage: round trips of real-looking and adversarial stacks (frames far
// apart, descending, null, the extremes of the address space), the prefix
// kept when a stack does not fit, and a fixed-seed random sweep.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>

#include "runtime/packed_stack.hpp"

using strata::usize;
using strata::rt::PackedStack;

namespace {

void* at(std::uintptr_t a) { return reinterpret_cast<void*>(a); }

template <usize B>
void expect_round_trip(void* const* frames, usize n, usize expect_kept) {
  PackedStack<B> s;
  ASSERT_EQ(s.pack(frames, n), expect_kept);
  ASSERT_EQ(s.size(), expect_kept);
  void* out[300] = {};
  ASSERT_EQ(s.unpack(out, 300), expect_kept);
  for (usize i = 0; i < expect_kept; ++i) EXPECT_EQ(out[i], frames[i]) << "frame " << i;
}

TEST(PackedStack, EmptyAndZeroInitialised) {
  PackedStack<111> s{};
  void* out[4] = {at(1), at(2), at(3), at(4)};
  EXPECT_EQ(s.size(), 0u);
  EXPECT_EQ(s.unpack(out, 4), 0u);
  EXPECT_EQ(out[0], at(1));  // nothing written
  EXPECT_EQ(s.pack(out, 0), 0u);
}

// A stack as guarded sampling captures: the program, libstdc++, libc.
TEST(PackedStack, TypicalStackFitsWithRoom) {
  void* f[24];
  for (usize i = 0; i < 24; ++i) {
    const std::uintptr_t object = i < 8 ? 0x55d0c0a00000u : i < 16 ? 0x7f3a12400000u : 0x7f3a11e00000u;
    f[i] = at(object + 0x1000 + (i * 0x9e37) % 0x180000);
  }
  expect_round_trip<111>(f, 24, 24);
}

TEST(PackedStack, ExtremesNullAndDescending) {
  void* f[] = {at(0), at(UINTPTR_MAX), at(0), at(UINTPTR_MAX / 2), at(UINTPTR_MAX / 2 + 1), at(1),
               at(0x7fffffffffffu), at(0x7ffffffffff0u), at(0x400000u), at(0x400000u)};
  expect_round_trip<111>(f, 10, 10);
}

// Frames that each need 10 bytes: only as many as fit are kept, innermost first.
TEST(PackedStack, KeepsTheInnermostFramesThatFit) {
  void* f[24];
  for (usize i = 0; i < 24; ++i) f[i] = at(i % 2 == 0 ? 0 : UINTPTR_MAX / 2 + 1);
  expect_round_trip<111>(f, 24, 1 + 11);  // 1 byte for the first (0), then 11 jumps of 10 bytes: 111
  expect_round_trip<10>(f, 24, 1);        // 0, then no room for a 10-byte jump
  PackedStack<10> s;
  void* big[1] = {at(UINTPTR_MAX / 2 + 1)};
  EXPECT_EQ(s.pack(big, 1), 1u);  // any single frame fits in 10 bytes
}

TEST(PackedStack, UnpackStopsAtMax) {
  void* f[5] = {at(10), at(20), at(30), at(40), at(50)};
  PackedStack<111> s;
  ASSERT_EQ(s.pack(f, 5), 5u);
  void* out[3] = {};
  EXPECT_EQ(s.unpack(out, 3), 3u);
  EXPECT_EQ(out[2], at(30));
}

TEST(PackedStack, AtMostMaxFrames) {
  static void* f[400];
  for (usize i = 0; i < 400; ++i) f[i] = at(0x1000);
  expect_round_trip<600>(f, 400, PackedStack<600>::MAX_FRAMES);
}

TEST(PackedStack, RandomSweepFixedSeed) {
  std::mt19937_64 rng(0x57ac6u);
  for (int round = 0; round < 20000; ++round) {
    void* f[40];
    const usize n = rng() % 41;
    std::uintptr_t cur = static_cast<std::uintptr_t>(rng());
    for (usize i = 0; i < n; ++i) {
      switch (rng() % 4) {
        case 0: cur = static_cast<std::uintptr_t>(rng()); break;         // anywhere
        case 1: cur += rng() % 4096; break;                              // near, up
        case 2: cur -= rng() % (std::uintptr_t{1} << 20); break;         // near, down
        default: cur ^= std::uintptr_t{1} << (rng() % 64); break;         // one bit away
      }
      f[i] = at(cur);
    }
    PackedStack<111> s;
    const usize kept = s.pack(f, n);
    ASSERT_LE(kept, n);
    if (kept < n) {
      ASSERT_GE(kept, 11u) << "each frame takes at most 10 bytes";
    }
    void* out[40];
    ASSERT_EQ(s.unpack(out, 40), kept);
    for (usize i = 0; i < kept; ++i) ASSERT_EQ(out[i], f[i]) << "round " << round << " frame " << i;
  }
}

}  // namespace
