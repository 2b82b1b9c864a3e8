// The idempotency key is a contract with receivers (webhook-id, SMS OutId, e-mail Message-ID):
// expected values computed independently with `openssl dgst -sha256`.

#include "mcn/notifier/idempotency.h"

#include <gtest/gtest.h>

namespace mcn::notifier {
namespace {

// printf 'e1013\nabc@x\nxyz@y' | openssl dgst -sha256
//   = 2b2fd6cf7b100189cc710b6e2403133fac638ea025704382201ea5be60a50081
constexpr const char* kE1013AbcXyz = "2b2fd6cf7b100189cc710b6e2403133f";

TEST(Idempotency, KeyIsTheFirst32HexOfSha256OverPersonAndSortedCallIds) {
  EXPECT_EQ(idempotencyKey("e1013", std::vector<std::string>{"abc@x", "xyz@y"}), kE1013AbcXyz);
}

TEST(Idempotency, OrderAndRepeatsOfCallIdsDoNotChangeTheKey) {
  EXPECT_EQ(idempotencyKey("e1013", std::vector<std::string>{"xyz@y", "abc@x", "xyz@y"}),
            kE1013AbcXyz);
}

TEST(Idempotency, KeyFromRecordsUsesTheirCallIds) {
  calls::CallRecord a, b, c;
  a.call_id = "xyz@y";
  b.call_id = "abc@x";
  c.call_id = "abc@x";  // the same call ringing a second number
  c.callee = "1013";
  EXPECT_EQ(idempotencyKey("e1013", std::vector<calls::CallRecord>{a, b, c}), kE1013AbcXyz);
}

TEST(Idempotency, DifferentPersonOrCallsGiveDifferentKeys) {
  // printf 'e1013\nabc@x' | openssl dgst -sha256
  EXPECT_EQ(idempotencyKey("e1013", std::vector<std::string>{"abc@x"}),
            "b40935be0da5ad13dffcd175c9d2ed8c");
  EXPECT_NE(idempotencyKey("e1024", std::vector<std::string>{"abc@x", "xyz@y"}), kE1013AbcXyz);
}

TEST(Idempotency, Sha256HexOfEmptyInput) {
  // printf '' | openssl dgst -sha256
  EXPECT_EQ(sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

}  // namespace
}  // namespace mcn::notifier
