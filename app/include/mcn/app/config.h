#pragma once
// mcn's TOML configuration. Start-up code: errors throw ConfigError with one clear line naming the
// file, line and field; main turns it into exit code 2.

#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "mcn/calls/tracker.h"
#include "mcn/capture/decoder.h"
#include "mcn/notifier/delivery.h"
#include "mcn/notifier/merger.h"
#include "mcn/sipparse/parser.h"

namespace mcn::app {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// [notify]: merging, messages and delivery.
struct NotifyConfig {
  notifier::MergerConfig merger;
  notifier::DeliveryConfig delivery;
  std::map<std::string, std::string> template_overrides;  // [notify.templates], see templates.h
  std::vector<std::string> voicemail_numbers;             // normalised by the dial plan
  std::string dead_letter_path = "mcn-dead-letter.jsonl";
  int64_t finish_timeout_ms = 30000;  // replay: how long to wait for deliveries at the end
};

struct Config {
  capture::DecoderConfig decoder;
  sipparse::ParserConfig parser;
  calls::TrackerConfig tracker;
  NotifyConfig notify;
  std::string source;  // file it came from, "(built-in defaults)" otherwise
};

// The embedded default: DESIGN.md's outcome defaults, no dial plan beyond separator stripping.
Config defaultConfig();

// Parse a TOML file. Unknown keys are errors (a typo must not silently keep a default).
Config loadConfigFile(const std::string& path);

// Parse TOML text; `origin` names it in error messages.
Config loadConfigText(std::string_view text, const std::string& origin);

}  // namespace mcn::app
