#include "api_server/auth.h"

#include <fstream>

#include "core/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace booking {
namespace {

using ::booking::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(ConstantTimeEqualsTest, ComparesContentAndLength) {
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_TRUE(ConstantTimeEquals("secret", "secret"));
  EXPECT_FALSE(ConstantTimeEquals("secret", "secreT"));
  EXPECT_FALSE(ConstantTimeEquals("secret", "secret2"));
  EXPECT_FALSE(ConstantTimeEquals("secret", ""));
  // Padding with NUL must not make different lengths equal.
  EXPECT_FALSE(ConstantTimeEquals(absl::string_view("ab\0", 3), "ab"));
}

TEST(TokenAuthenticatorTest, ParsesTokensSkippingCommentsAndBlanks) {
  auto auth = TokenAuthenticator::FromText(
      "# operators\n  token-one  \n\n#token-commented\ntoken-two\r\n");
  ASSERT_OK(auth);
  EXPECT_EQ(auth->token_count(), 2u);
  EXPECT_OK(auth->Check("Bearer token-one"));
  EXPECT_OK(auth->Check("Bearer token-two"));
  EXPECT_OK(auth->Check("bearer  token-two "));
  EXPECT_THAT(auth->Check("Bearer token-commented"),
              StatusIs(absl::StatusCode::kUnauthenticated));
}

TEST(TokenAuthenticatorTest, RefusesMissingMalformedAndWrongCredentials) {
  auto auth = TokenAuthenticator::FromText("s3cret\n");
  ASSERT_OK(auth);
  EXPECT_THAT(auth->Check(std::nullopt),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       HasSubstr("missing credentials")));
  EXPECT_THAT(auth->Check(""), StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(auth->Check("s3cret"),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       HasSubstr("Bearer <token>")));
  EXPECT_THAT(auth->Check("Basic s3cret"),
              StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(auth->Check("Bearer "),
              StatusIs(absl::StatusCode::kUnauthenticated));
  // The message never echoes the presented token.
  EXPECT_THAT(auth->Check("Bearer guessed-value"),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       Not(HasSubstr("guessed-value"))));
}

TEST(TokenAuthenticatorTest, AnEmptyFileIsAnError) {
  EXPECT_THAT(TokenAuthenticator::FromText("# only comments\n\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("holds no token")));
}

TEST(TokenAuthenticatorTest, ReadsAFile) {
  const std::string path =
      std::string(std::getenv("TEST_TMPDIR")) + "/tokens.txt";
  {
    std::ofstream out(path);
    out << "# comment\nfile-token\n";
  }
  auto auth = TokenAuthenticator::FromFile(path);
  ASSERT_OK(auth);
  EXPECT_OK(auth->Check("Bearer file-token"));
  EXPECT_THAT(TokenAuthenticator::FromFile(path + ".missing"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("cannot read")));
}

}  // namespace
}  // namespace booking
