#include "ops_api.h"

#include <httplib.h>

#include <chrono>

namespace mcn::app {
namespace {

int64_t systemUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

// ---- OpsApi ----

OpsApi::OpsApi(OpsStats& stats, Seams seams) : stats_(stats), seams_(std::move(seams)) {
  if (!seams_.wall_us) seams_.wall_us = systemUs;
}

ApiReply OpsApi::stats() {
  OpsLevels l = seams_.levels ? seams_.levels() : OpsLevels{};
  return ApiReply{200, stats_.render(l, seams_.wall_us())};
}

void OpsApi::addRoutes(httplib::Server& s) {
  s.Get("/api/ops/stats", [this](const httplib::Request&, httplib::Response& res) {
    ApiReply r = stats();
    res.status = r.status;
    res.set_header("Cache-Control", "no-store");
    res.set_content(r.body, "application/json");
  });
}

}  // namespace mcn::app
