#pragma once
// The fixtures in pcaps/, shared by the golden tests: their names, the config each is replayed
// with, and a GoogleTest-safe parameter name.

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <string>
#include <vector>

#include "mcn/app/config.h"

namespace mcn::golden {

inline const std::filesystem::path kPcaps = std::filesystem::path(MCN_SOURCE_DIR) / "pcaps";

inline std::vector<std::string> fixtureNames() {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(kPcaps)) {
    auto ext = e.path().extension();
    if (ext == ".pcap" || ext == ".pcapng") names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

// <name>.config.toml beside the capture, else pcaps/fixtures.toml.
inline mcn::app::Config fixtureConfig(const std::string& file) {
  std::filesystem::path cfg = kPcaps / (std::filesystem::path(file).stem().string() + ".config.toml");
  if (!std::filesystem::exists(cfg)) cfg = kPcaps / "fixtures.toml";
  return mcn::app::loadConfigFile(cfg.string());
}

inline std::string fixtureParamName(const ::testing::TestParamInfo<std::string>& info) {
  std::string n = info.param;
  for (char& c : n) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return n;
}

}  // namespace mcn::golden
