#pragma once
// The notifier end of the pipeline, shared by replay (and later the daemon): missed calls ->
// Merger (per person, window, preferences, on the pipeline's clock) -> Delivery (libcurl multi,
// retries, limits, dead letters, on the system clock) -> --notify-out.

#include <memory>
#include <ostream>
#include <string>

#include "mcn/app/config.h"
#include "mcn/calls/call_record.h"
#include "mcn/notifier/clock.h"
#include "mcn/notifier/credentials.h"
#include "mcn/notifier/delivery.h"
#include "mcn/notifier/merger.h"
#include "mcn/subscribers/directory.h"

namespace mcn::app {

class NotifyStage {
 public:
  // `console`: where console channels write (stdout in the CLI); `notify_out`: one JSON line per
  // delivered notification (may be null). The dead-letter file is opened at the first dead
  // letter.
  NotifyStage(const NotifyConfig& cfg, std::shared_ptr<const subscribers::Directory> directory,
              std::ostream* console, std::ostream* notify_out);
  ~NotifyStage();

  void onMissedCall(const calls::MissedCall& call, int64_t now_us);
  // Pipeline time moved (packet time in replay): close due windows, drive transfers.
  void advanceTo(int64_t now_us);
  // End of input: close every window and deliver, waiting at most `deadline_ms` of wall time
  // for network channels. Returns false if some notifications were still pending (they go to
  // the dead-letter file with reason "shutdown").
  bool finish(int64_t now_us, int64_t deadline_ms);

  void forEachCounter(const std::function<void(std::string_view, uint64_t)>& fn) const;

  // Live mode (mcn run): drive transfers, waiting on their sockets at most max_wait_ms.
  void poll(int max_wait_ms);
  size_t pending() const;
  // SIGHUP: a refreshed subscribers snapshot for later calls and windows.
  void setDirectory(std::shared_ptr<const subscribers::Directory> directory);
  // Called once per delivered notification, after --notify-out (metrics).
  void setDeliveredHook(std::function<void(const notifier::Notification&)> hook);

 private:
  std::function<void(const notifier::Notification&)> delivered_hook_;
  notifier::ManualClock pipeline_clock_;
  std::unique_ptr<notifier::Clock> wall_clock_;
  std::unique_ptr<notifier::Random> random_;
  notifier::CredentialStore credentials_;
  std::unique_ptr<notifier::DeadLetterSink> dead_letters_;
  std::unique_ptr<notifier::Delivery> delivery_;
  std::unique_ptr<notifier::Merger> merger_;
  std::ostream* console_;
  std::ostream* notify_out_;
  uint64_t since_poll_ = 0;
  uint64_t credential_dead_letters_ = 0;
};

}  // namespace mcn::app
