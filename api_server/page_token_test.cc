#include "api_server/page_token.h"

#include <string>
#include <vector>

#include "core/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace booking {
namespace {

using ::booking::testing::StatusIs;
using ::testing::HasSubstr;

TEST(PageTokenTest, RoundTrips) {
  const std::string token = EncodePageToken("01HZX3Q2ABCDEF");
  EXPECT_EQ(token.find("01HZX3Q2ABCDEF"), std::string::npos)
      << "the token is opaque";
  auto id = DecodePageToken(token);
  ASSERT_OK(id);
  EXPECT_EQ(*id, "01HZX3Q2ABCDEF");
}

TEST(PageTokenTest, GarbageIsInvalidArgumentNamingTheField) {
  const std::vector<std::string> garbage = {"not base64!!", "Zm9v" /* "foo" */,
                                            EncodePageToken(""),
                                            std::string(1000, 'A')};
  for (const std::string& bad : garbage) {
    EXPECT_THAT(
        DecodePageToken(bad),
        StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("page_token")))
        << bad;
  }
}

}  // namespace
}  // namespace booking
