// The SIGHUP diff: which changed keys keep their running value until a restart. Computed from
// the key declarations in app/src/config.cc (restart flag), with whole-struct comparison for
// fields no key declares.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "mcn/app/config.h"

namespace mcn::app {
namespace {

using Keys = std::vector<std::string>;

Keys diff(std::string_view running, std::string_view fresh) {
  return restartKeysChanged(loadConfigText(running, "old.toml"), loadConfigText(fresh, "new.toml"));
}

TEST(ConfigRestart, SameFileNeedsNoRestart) {
  EXPECT_EQ(diff("", ""), Keys{});
  EXPECT_EQ(diff(defaultConfigText(), ""), Keys{});
}

TEST(ConfigRestart, LiveKeysApplyWithoutRestart) {
  EXPECT_EQ(diff("",
                 "[run]\n"
                 "log_level = \"debug\"\n"
                 "log_format = \"json\"\n"
                 "log_mask_numbers = true\n"
                 "subscribers = \"/etc/mcn/people.toml\"\n"
                 "shutdown_timeout_ms = 5\n"
                 "[notify]\nmax_attempts = 3\n"
                 "[dial_plan]\ncountry_code = \"86\"\n"),
            Keys{});
}

TEST(ConfigRestart, RestartKeysAreNamedInDeclarationOrder) {
  EXPECT_EQ(
      diff("[run]\nworkers = 2\n",
           "[run]\nworkers = 4\ninterfaces = [\"eth1\"]\n"
           "log_level = \"warn\"\n"
           "[streams]\nbatch = 7\n"
           "[hep]\nauth_key_ref = \"env:HEP_KEY\"\n"
           "ports = [9061]\n"),
      (Keys{"run.interfaces", "run.workers", "streams.batch", "hep.ports", "hep.auth_key_ref"}));
  EXPECT_EQ(diff("", "[run]\nhttp_port = 9999\n"), Keys{"run.http_port"});
  EXPECT_EQ(diff("", "[streams]\nredis = \"redis://127.0.0.1:6390\"\n"), Keys{"streams.redis"});
}

TEST(ConfigRestart, CaptureAndCallsKeysNeedARestart) {
  EXPECT_EQ(diff("", "[capture]\nmax_vlan_depth = 2\nesp_null = [{spi = 7}]\n"),
            (Keys{"capture.max_vlan_depth", "capture.esp_null"}));
  EXPECT_EQ(
      diff("", "[calls]\ngrace_ms = 100\ngroups = [{number = \"100\", members = [\"101\"]}]\n"),
      (Keys{"calls.grace_ms", "calls.groups"}));
  // The leg router reads it in the capture threads.
  EXPECT_EQ(diff("", "[calls]\ncorrelation_header = \"X-Call\"\n"),
            Keys{"calls.correlation_header"});
}

}  // namespace
}  // namespace mcn::app
