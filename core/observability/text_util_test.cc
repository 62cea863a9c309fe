#include "core/observability/text_util.h"

#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>

#include "gtest/gtest.h"

namespace booking::observability_internal {
namespace {

TEST(FormatDoubleTest, PlainNotationForEverydayValues) {
  EXPECT_EQ(FormatDouble(0), "0");
  EXPECT_EQ(FormatDouble(3), "3");
  EXPECT_EQ(FormatDouble(-2.5), "-2.5");
  EXPECT_EQ(FormatDouble(0.5), "0.5");
  EXPECT_EQ(FormatDouble(0.1), "0.1");
  EXPECT_EQ(FormatDouble(0.0005), "0.0005");
  EXPECT_EQ(FormatDouble(1500000), "1500000");
  EXPECT_EQ(FormatDouble(1e20), "100000000000000000000");
}

TEST(FormatDoubleTest, ScientificForTinyAndHugeValues) {
  EXPECT_EQ(FormatDouble(0.00001), "1e-05");
  EXPECT_EQ(FormatDouble(1e21), "1e+21");
  EXPECT_EQ(FormatDouble(-1.25e-300), "-1.25e-300");
}

TEST(FormatDoubleTest, NonFinite) {
  EXPECT_EQ(FormatDouble(std::nan("")), "NaN");
  EXPECT_EQ(FormatDouble(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatDouble(-std::numeric_limits<double>::infinity()), "-Inf");
}

TEST(FormatDoubleTest, RoundTripsExactly) {
  for (double v : {1.0 / 3, 2.0 / 3 * 1e-7, 123456.789, 9007199254740993.0,
                   std::numeric_limits<double>::min(),
                   std::numeric_limits<double>::max()}) {
    EXPECT_EQ(std::strtod(FormatDouble(v).c_str(), nullptr), v)
        << FormatDouble(v);
  }
}

TEST(Utf8SequenceLengthTest, AcceptsWellFormedRejectsTheRest) {
  EXPECT_EQ(Utf8SequenceLength("A"), 1u);
  EXPECT_EQ(Utf8SequenceLength("\xC3\x89"), 2u);          // É
  EXPECT_EQ(Utf8SequenceLength("\xE5\xBC\xA0"), 3u);      // 张
  EXPECT_EQ(Utf8SequenceLength("\xF0\x9F\x98\x80"), 4u);  // 😀
  EXPECT_EQ(Utf8SequenceLength(""), 0u);
  EXPECT_EQ(Utf8SequenceLength("\x80"), 0u);              // Continuation.
  EXPECT_EQ(Utf8SequenceLength("\xC3"), 0u);              // Truncated.
  EXPECT_EQ(Utf8SequenceLength("\xC1\xBF"), 0u);          // Overlong.
  EXPECT_EQ(Utf8SequenceLength("\xE0\x80\x80"), 0u);      // Overlong.
  EXPECT_EQ(Utf8SequenceLength("\xED\xA0\x80"), 0u);      // Surrogate.
  EXPECT_EQ(Utf8SequenceLength("\xF4\x90\x80\x80"), 0u);  // > U+10FFFF.
}

}  // namespace
}  // namespace booking::observability_internal
