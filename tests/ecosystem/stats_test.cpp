// strata_stats_print (text and JSON shape, opts letters, pieces), mallinfo2
// and malloc_info with real figures. Linked against libstrata_prefixed.a.
#include <gtest/gtest.h>
#include <malloc.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "strata/strata.h"

namespace {
struct Capture {
  std::string text;
  int pieces = 0;
  size_t longest = 0;
};

void collect(void* opaque, const char* s) {
  auto* c = static_cast<Capture*>(opaque);
  c->text += s;
  ++c->pieces;
  c->longest = std::max(c->longest, std::strlen(s));
}

Capture report(const char* opts) {
  Capture c;
  strata_stats_print(collect, &c, opts);
  return c;
}

bool has(const std::string& s, const char* what) { return s.find(what) != std::string::npos; }

class Stats : public ::testing::Test {
 protected:
  void SetUp() override {
    for (size_t i = 0; i < 2000; ++i) blocks_.push_back(strata_malloc(16 + (i % 300) * 7));
    huge_ = strata_malloc(3 << 20);
  }
  void TearDown() override {
    for (void* p : blocks_) strata_free(p);
    strata_free(huge_);
  }
  std::vector<void*> blocks_;
  void* huge_ = nullptr;
};

TEST_F(Stats, TextReportHasJemallocsShape) {
  const Capture c = report(nullptr);
  const std::string& t = c.text;
  EXPECT_EQ(t.rfind("___ Begin strata statistics ___\n", 0), 0u) << t.substr(0, 80);
  EXPECT_TRUE(has(t, "Version: " STRATA_VERSION_STRING "\n"));
  EXPECT_TRUE(has(t, "Build-time option settings\n  config.debug: "));
  EXPECT_TRUE(has(t, "Run-time option settings\n  opt.purge_delay_ms: "));
  EXPECT_TRUE(has(t, "\nAllocated: "));
  for (const char* k : {", active: ", ", metadata: ", ", resident: ", ", mapped: ", ", retained: "})
    EXPECT_TRUE(has(t, k)) << k;
  EXPECT_TRUE(has(t, "Small heap"));
  EXPECT_TRUE(has(t, "Medium heap"));
  EXPECT_TRUE(has(t, "Huge blocks"));
  EXPECT_TRUE(has(t, "Size classes"));
  EXPECT_TRUE(t.size() > 20 && t.compare(t.size() - 30, 30, "___ End strata statistics ___\n") == 0);
  // Long reports come in several pieces of a bounded stack buffer.
  EXPECT_GT(c.pieces, 1);
  EXPECT_LT(c.longest, 2048u);
}

TEST_F(Stats, OptsLettersOmitSections) {
  const std::string t = report("gmbl").text;
  EXPECT_FALSE(has(t, "Run-time option settings"));
  EXPECT_FALSE(has(t, "Version"));
  EXPECT_FALSE(has(t, "Small heap"));
  EXPECT_FALSE(has(t, "Huge blocks"));
  EXPECT_FALSE(has(t, "Size classes"));
  EXPECT_TRUE(has(t, "Allocated: "));
  EXPECT_TRUE(has(t, "___ End strata statistics ___"));
}

TEST_F(Stats, JsonIsOneBalancedObject) {
  const std::string j = report("J").text;
  EXPECT_EQ(j.rfind("{\n  \"strata\": {", 0), 0u) << j.substr(0, 40);
  EXPECT_EQ(j.substr(j.size() - 2), "}\n");
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < j.size(); ++i) {
    const char ch = j[i];
    if (in_string) {
      if (ch == '\\') ++i;
      else if (ch == '"') in_string = false;
      continue;
    }
    if (ch == '"') in_string = true;
    if (ch == '{' || ch == '[') ++depth;
    if (ch == '}' || ch == ']') {
      ASSERT_GT(depth--, 0);
    }
  }
  EXPECT_EQ(depth, 0);
  for (const char* k : {"\"version\": \"" STRATA_VERSION_STRING "\"", "\"config\": {", "\"opt\": {", "\"stats\": {",
                        "\"allocated\": ", "\"classes\": [", "\"huge\": {"})
    EXPECT_TRUE(has(j, k)) << k;
  EXPECT_FALSE(has(j, ",\n}")) << "trailing comma";
  EXPECT_FALSE(has(j, ",\n  }")) << "trailing comma";
}

TEST_F(Stats, Mallinfo2HasRealFigures) {
  const struct mallinfo2 m = strata_mallinfo2();
  EXPECT_GT(m.arena, 0u);
  EXPECT_GT(m.uordblks, 2000u * 16);
  EXPECT_EQ(m.arena, m.uordblks + m.fordblks);
  EXPECT_GE(m.hblks, 1u);
  EXPECT_GE(m.hblkhd, size_t{3} << 20);
  const struct mallinfo old = strata_mallinfo();
  EXPECT_EQ(static_cast<size_t>(old.hblkhd), m.hblkhd);
}

TEST_F(Stats, MallocInfoWritesGlibcsXml) {
  char* buf = nullptr;
  size_t len = 0;
  FILE* f = open_memstream(&buf, &len);
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(strata_malloc_info(0, f), 0);
  std::fclose(f);
  const std::string x(buf, len);
  std::free(buf);
  EXPECT_EQ(x.rfind("<malloc version=\"1\">\n<heap nr=\"0\">\n<sizes>\n", 0), 0u);
  EXPECT_TRUE(has(x, "<total type=\"mmap\" count=\""));
  EXPECT_TRUE(has(x, "</malloc>\n"));
  errno = 0;
  EXPECT_EQ(strata_malloc_info(1, stderr), -1);
  EXPECT_EQ(errno, EINVAL);
}
}  // namespace
