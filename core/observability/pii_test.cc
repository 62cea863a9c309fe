#include "core/observability/pii.h"

#include "gtest/gtest.h"

namespace booking {
namespace {

TEST(MaskNameTest, KeepsOnlyTheFirstLetter) {
  EXPECT_EQ(MaskName("Alice"), "A***");
  EXPECT_EQ(MaskName("Alice Example"), "A***");
  EXPECT_EQ(MaskName("  bob"), "b***");
  EXPECT_EQ(MaskName("Z"), "Z***");
}

TEST(MaskNameTest, EmptyStaysEmpty) {
  EXPECT_EQ(MaskName(""), "");
  EXPECT_EQ(MaskName("   "), "");
}

TEST(MaskNameTest, FirstLetterIsAWholeUtf8CodePoint) {
  EXPECT_EQ(MaskName("Élodie"), "É***");  // 2 bytes.
  EXPECT_EQ(MaskName("\xE5\xBC\xA0\xE4\xB8\x89"), "\xE5\xBC\xA0***");  // 张三
  EXPECT_EQ(MaskName("\xF0\x9F\x98\x80x"), "\xF0\x9F\x98\x80***");     // 😀x
}

TEST(MaskNameTest, InvalidUtf8OrControlCharIsFullyMasked) {
  EXPECT_EQ(MaskName("\xC3"), "***");           // Truncated sequence.
  EXPECT_EQ(MaskName("\xFFlice"), "***");       // Not a lead byte.
  EXPECT_EQ(MaskName("\xC0\xAFx"), "***");      // Overlong '/'.
  EXPECT_EQ(MaskName("\xED\xA0\x80x"), "***");  // Surrogate.
  EXPECT_EQ(MaskName("\x01"
                     "Alice"),
            "***");
}

TEST(MaskEmailTest, KeepsOnlyTheDomain) {
  EXPECT_EQ(MaskEmail("alice@example.com"), "***@example.com");
  EXPECT_EQ(MaskEmail("\"a@b\"@example.org"), "***@example.org");
}

TEST(MaskEmailTest, WithoutDomainIsFullyMasked) {
  EXPECT_EQ(MaskEmail("alice"), "***");
  EXPECT_EQ(MaskEmail("alice@"), "***");
  EXPECT_EQ(MaskEmail(""), "***");
}

TEST(MaskPhoneTest, KeepsTheLastTwoDigits) {
  EXPECT_EQ(MaskPhone("+14155550123"), "***23");
  EXPECT_EQ(MaskPhone("+1 (415) 555-01 29"), "***29");
  EXPECT_EQ(MaskPhone("42"), "***42");
}

TEST(MaskPhoneTest, FewerThanTwoDigitsIsFullyMasked) {
  EXPECT_EQ(MaskPhone("+1"), "***");
  EXPECT_EQ(MaskPhone(""), "***");
  EXPECT_EQ(MaskPhone("+"), "***");
}

TEST(MaskTest, NeverContainsTheClearValue) {
  EXPECT_EQ(MaskName("Alice Example").find("lice"), std::string::npos);
  EXPECT_EQ(MaskEmail("alice@example.com").find("alice"), std::string::npos);
  EXPECT_EQ(MaskPhone("+14155550123").find("4155550"), std::string::npos);
}

}  // namespace
}  // namespace booking
