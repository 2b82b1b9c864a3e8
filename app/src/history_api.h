#pragma once
// The call search over the history store (history/), shared by `GET /api/calls` (mcn run's HTTP
// layer, http_endpoints.cc) and `mcn history search`: parameters validated here (a hostile or
// malformed one is a 400 with the reason, never a query), the store read on its own read-only
// connection (WAL: the writer goes on meanwhile), answers as JSON.
//
//   GET /api/calls?number=&person=&call_id=&outcome=&since=&until=&limit=&cursor=
//   GET /api/calls/<call_id>   every record of that call (any leg) + notifications and attempts

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "mcn/history/store.h"
#include "mcn/history/writer.h"
#include "mcn/notifier/delivery.h"
#include "mcn/notifier/notification.h"
#include "mcn/sipparse/dial_plan.h"

namespace mcn::app {

struct ApiReply {
  int status = 200;
  std::string body;  // JSON; on an error {"error": "..."}
};

class HistoryApi {
 public:
  static constexpr int kMaxLimit = 500;
  static constexpr int kDefaultLimit = 50;

  // `dial_plan`: a number searched for is also looked up in its normalised form ("83001013" ->
  // "+862583001013"), the form records carry.
  HistoryApi(std::string path, const sipparse::DialPlanConfig& dial_plan);
  ~HistoryApi();

  // Query parameters as received (repeated names included, so a repeat is refused).
  ApiReply search(const std::vector<std::pair<std::string, std::string>>& params);
  ApiReply call(const std::string& call_id);

 private:
  // Opens the read connection at first use (the writer creates the file); null + reply set
  // when it cannot.
  history::HistoryStore* store(ApiReply& fail);
  std::string path_;
  std::unique_ptr<sipparse::DialPlan> dial_plan_;
  std::mutex mu_;  // the HTTP pool's threads share one connection
  std::unique_ptr<history::HistoryStore> store_;
};

// "2026-11-22T06:21:35Z", "2026-11-22T06:21:35.053Z", "2026-11-22T14:21:35+08:00" -> µs since
// the epoch; false if it is anything else (years 1970..9999).
bool parseApiTime(std::string_view s, int64_t& us);

// The history's view of a notification step (notifier/ -> history/): step null = produced.
history::NotificationEvent historyEvent(const notifier::Notification& n,
                                        const notifier::DeliveryStep* step, int64_t now_us);

}  // namespace mcn::app
