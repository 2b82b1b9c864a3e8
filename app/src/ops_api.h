#pragma once
// The operator side of the web console's JSON (issue 18 item 3), on `mcn run`'s HTTP server under
// the same rule for who may ask as /metrics (http_endpoints.h):
//
//   GET  /api/ops/stats                          live figures (ops_stats.h)
//
// Bad input is a 4xx with {"error": "..."} and changes nothing.

#include <functional>
#include <string>
#include <vector>

#include "history_api.h"
#include "ops_stats.h"

namespace httplib {
class Server;
}

namespace mcn::app {

class OpsApi {
 public:
  struct Seams {
    // GET /api/ops/stats: the levels at this instant.
    std::function<OpsLevels()> levels;
    std::function<int64_t()> wall_us;  // the system clock; tests pass their own
  };
  OpsApi(OpsStats& stats, Seams seams);

  void addRoutes(httplib::Server& server);

  ApiReply stats();

 private:
  OpsStats& stats_;
  Seams seams_;
};

}  // namespace mcn::app
