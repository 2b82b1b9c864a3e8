// [run] log_mask_numbers (app/src/log_mask.h): numbers in log lines keep only what an operator
// needs to tell them apart. Expected strings written by hand from the rule.
#include <gtest/gtest.h>

#include "../../app/src/log_mask.h"

namespace mcn::app {
namespace {

TEST(LogMask, HidesTheMiddleOfLongNumbersAndAllButFourOfShortOnes) {
  EXPECT_EQ(maskNumbers("call from +8613900101230 to +862583001013"),
            "call from +86139****1230 to +86258***1013");  // 13 and 12 digits
  EXPECT_EQ(maskNumbers("extension +83001013 busy"), "extension +****1013 busy");
  EXPECT_EQ(maskNumbers("sms to 13900101230"), "sms to *******1230");  // 11 digits
  EXPECT_EQ(maskNumbers("http://127.0.0.1:1/hook/8613900101230?x"),
            "http://127.0.0.1:1/hook/86139****1230?x");
}

TEST(LogMask, LeavesTimesPortsKeysAndShortNumbersAlone) {
  const std::string line =
      "2026-11-23T05:56:04.071Z mcn[25330] warning: notification 0a1b2c3d4e5f60718293a4b5c6d7e8f9 "
      "via webhook 127.0.0.1:9187 after 3 attempt(s); extension 1013; id a1234567890; "
      "run.snaplen: must be between 65535 and 262144; 3600000 ms";
  EXPECT_EQ(maskNumbers(line), line);
  EXPECT_EQ(maskNumbers("1234567890123456"), "1234567890123456");  // 16 digits: not E.164
  EXPECT_EQ(maskNumbers("{\"msg\":\"+8613900101230\"}"), "{\"msg\":\"+86139****1230\"}");
}

}  // namespace
}  // namespace mcn::app
