// SIGDUMP_ISA as users set it: `sigdump compare --json` prints the same
// bytes under every kernel variant this CPU runs, and a variant it cannot
// run (or an unknown name) stops sigdump and sigdumpd with exit status 2
// and a message naming the variable.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "sigdump/compare.h"
#include "sigdump/dump_writer.h"
#include "sigdump/isa.h"
#include "test_support.h"

namespace sigdump::testing {
namespace {

std::vector<float> values(std::size_t n, std::uint32_t seed) {
  std::vector<float> v(n);
  std::uint32_t s = seed;
  for (auto& x : v) {
    s = s * 1664525u + 1013904223u;
    x = (static_cast<float>(s >> 8) * (2.0f / 16777216.0f) - 1.0f) *
        std::pow(10.0f, static_cast<float>(static_cast<int>(s % 5) - 2));
  }
  return v;
}

// Float layers (one over two chunks, one with a NaN, one transposed), and
// an isFloat: 0 pair of u8, s8 and s16 layers.
void write_pair(const temp_dir& t) {
  const auto big = static_cast<std::size_t>(compare_chunk_elements()) * 2 + 333;
  for (bool sample : {true, false}) {
    const std::uint32_t seed = sample ? 1 : 2;
    auto w = dump_writer::create(t.file(sample ? "s.bin" : "b.bin"));
    ASSERT_TRUE(w.has_value());
    tensor_spec a;
    a.name = "big";
    a.shape = {static_cast<std::int64_t>(big)};
    ASSERT_TRUE(w->write(a, values(big, seed)).has_value());
    tensor_spec n;
    n.name = "with_nan";
    n.op_index = 1;
    n.shape = {1001};
    auto v = values(1001, seed + 10);
    if (sample) v[500] = std::nanf("");
    ASSERT_TRUE(w->write(n, v).has_value());
    tensor_spec x;
    x.name = "transposed";
    x.op_index = 2;
    x.shape =
        sample ? std::vector<std::int64_t>{1, 9, 10, 11} : std::vector<std::int64_t>{1, 11, 9, 10};
    ASSERT_TRUE(w->write(x, values(990, seed + 20)).has_value());
    ASSERT_TRUE(w->close().has_value());

    writer_options q;
    q.is_float = false;
    auto wq = dump_writer::create(t.file(sample ? "qs.bin" : "qb.bin"), q);
    ASSERT_TRUE(wq.has_value());
    const dtype types[] = {dtype::u8, dtype::s8, dtype::s16};
    for (int l = 0; l < 3; ++l) {
      tensor_spec s;
      s.name = "q" + std::to_string(l);
      s.op_index = l;
      s.type = types[l];
      s.scale = 0.02;
      s.zero_point = s.type == dtype::u8 ? 128 : 0;
      s.shape = {1, 17, 19, 23};
      ASSERT_TRUE(wq->write(s, values(17 * 19 * 23, seed + 30 + static_cast<unsigned>(l))));
    }
    ASSERT_TRUE(wq->close().has_value());
  }
}

TEST(KernelVariantsCli, CompareJsonIsTheSameUnderEveryVariant) {
  temp_dir t;
  write_pair(t);
  for (const auto& [s, b] : {std::pair{"s.bin", "b.bin"}, std::pair{"qs.bin", "qb.bin"}}) {
    SCOPED_TRACE(s);
    const auto fastest = run({bin_path("sigdump"), "compare", "--json", t.file(s), t.file(b)});
    ASSERT_EQ(fastest.exit_code, 1) << fastest.err;  // the NaN layer and the noise are suspect
    ASSERT_NE(fastest.out.find("\"layers\""), std::string::npos);
    for (kernel_isa v : supported_isas()) {
      const auto r = run({bin_path("sigdump"), "compare", "--json", t.file(s), t.file(b)}, {},
                         {std::string("SIGDUMP_ISA=") + isa_name(v)});
      EXPECT_EQ(r.exit_code, fastest.exit_code) << isa_name(v) << ": " << r.err;
      EXPECT_EQ(r.out, fastest.out) << isa_name(v) << " prints another report";
    }
  }
}

TEST(KernelVariantsCli, UnknownVariantStopsSigdumpAndSigdumpd) {
  temp_dir t;
  write_pair(t);
  const auto r = run({bin_path("sigdump"), "compare", t.file("s.bin"), t.file("b.bin")}, {},
                     {"SIGDUMP_ISA=avx1024"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("sigdump: error: SIGDUMP_ISA=avx1024: unknown kernel variant"),
            std::string::npos)
      << r.err;
  const auto d = run({bin_path("sigdumpd"), "--foreground", "--state-dir", t.file("state"),
                      "--socket", t.file("sock")},
                     {}, {"SIGDUMP_ISA=avx1024", "XDG_CONFIG_HOME=" + t.file("no-config")},
                     std::chrono::seconds(10));
  EXPECT_EQ(d.exit_code, 2);
  EXPECT_NE(d.err.find("sigdumpd: error: SIGDUMP_ISA=avx1024: unknown kernel variant"),
            std::string::npos)
      << d.err;
}

TEST(KernelVariantsCli, VariantTheCpuLacksIsRefused) {
  temp_dir t;
  write_pair(t);
  bool any = false;
  for (kernel_isa v : {kernel_isa::avx512, kernel_isa::avx2, kernel_isa::sse2}) {
    if (isa_supported(v)) continue;
    any = true;
    const auto r = run({bin_path("sigdump"), "compare", t.file("s.bin"), t.file("b.bin")}, {},
                       {std::string("SIGDUMP_ISA=") + isa_name(v)});
    EXPECT_EQ(r.exit_code, 2) << isa_name(v);
    EXPECT_NE(r.err.find(std::string("SIGDUMP_ISA=") + isa_name(v) + ": this CPU lacks"),
              std::string::npos)
        << r.err;
  }
  if (!any) GTEST_SKIP() << "this CPU runs every variant";
}

}  // namespace
}  // namespace sigdump::testing
