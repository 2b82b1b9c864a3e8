#pragma once
// GET /api/calls/<call_id>/ladder[?format=text]: a recent call as `mcn explain` shows it (the
// message ladder, the hop transactions, the rule that decided each called number), over the SIP
// messages `mcn run`'s workers still hold (recent_messages.h), by any leg's Call-ID. The same code
// as `mcn explain` (explainPayloads): JSON as `mcn explain --json`, or its text.
//
// 404: no message of that Call-ID is held and the call history does not know it either.
// 410: the call is in the history but its messages were evicted (the ladder keeps the most recent
//      [run] ladder_messages / ladder_bytes), or only later messages of it are held and they
//      make no call.

#include <string>
#include <vector>

#include "history_api.h"
#include "mcn/app/config.h"
#include "recent_messages.h"

namespace httplib {
class Server;
}

namespace mcn::app {

class LadderApi {
 public:
  // `history` may be null (no [history]): then an evicted call is a 404 like an unknown one.
  LadderApi(const Config& cfg, std::vector<const RecentMessages*> stores, HistoryApi* history);
  ApiReply ladder(const std::string& call_id,
                  const std::vector<std::pair<std::string, std::string>>& params);
  void addRoutes(httplib::Server& server);

 private:
  Config cfg_;
  std::vector<const RecentMessages*> stores_;
  HistoryApi* history_;
};

}  // namespace mcn::app
