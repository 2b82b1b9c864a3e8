#pragma once
// The local notification service, the pipeline's usual MissedCallSink (replay, `mcn run`): missed
// calls -> Merger (per person, window, preferences, on the pipeline's clock) -> credentials
// (robot URLs that carry their key are references) -> Delivery (libcurl multi, retries, limits,
// dead letters, on the system clock) -> --notify-out. The scale-out notifier renders the windows
// it takes from Redis through it too (renderWindow; stream_window_delivery.h).

#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "mcn/calls/call_record.h"
#include "mcn/notifier/clock.h"
#include "mcn/notifier/credentials.h"
#include "mcn/notifier/delivery.h"
#include "mcn/notifier/merger.h"
#include "mcn/notifier/missed_call_sink.h"
#include "mcn/notifier/outbox.h"
#include "mcn/subscribers/directory.h"

namespace mcn::notifier {

// [notify]
struct NotifyConfig {
  MergerConfig merger;
  DeliveryConfig delivery;
  std::map<std::string, std::string> template_overrides;  // [notify.templates], see templates.h
  std::vector<std::string> voicemail_numbers;             // normalised by the dial plan
  std::string dead_letter_path = "mcn-dead-letter.jsonl";
  // `mcn run` without [streams]: the durable outbox (outbox.h); "" turns it off. Restart only.
  std::string outbox_path = "mcn-outbox.journal";
  int64_t outbox_fsync_ms = 100;      // power-loss exposure window; 0 = fdatasync every record
  int64_t finish_timeout_ms = 30000;  // replay: how long to wait for deliveries at the end

  bool operator==(const NotifyConfig&) const = default;
};

class LocalNotifier final : public MissedCallSink {
 public:
  // `console`: where console channels write (stdout in the CLI); `notify_out`: one JSON line per
  // delivered notification (may be null). The dead-letter file is opened at the first dead
  // letter.
  // `clock`: delivery's clock (backoff, rate limits, webhook timestamps); the system clock when
  // null. The live daemon passes its monotonic LiveClock (live_clock.h); it must outlive this.
  LocalNotifier(const NotifyConfig& cfg, std::shared_ptr<const subscribers::Directory> directory,
                std::ostream* console, std::ostream* notify_out, const Clock* clock = nullptr);
  ~LocalNotifier() override;

  void onMissedCall(const calls::MissedCall& call, int64_t now_us) override;
  // Pipeline time moved (packet time in replay): close due windows, drive transfers.
  void advanceTo(int64_t now_us) override;
  // End of input: close every window and deliver, waiting at most `deadline_ms` of wall time
  // for network channels. Returns false if some notifications were still pending (they go to
  // the dead-letter file with reason "shutdown").
  bool finish(int64_t now_us, int64_t deadline_ms) override;

  void forEachCounter(const std::function<void(std::string_view, uint64_t)>& fn) const override;

  // Live mode (mcn run): drive transfers, waiting on their sockets at most max_wait_ms.
  void poll(int max_wait_ms) override;
  size_t pending() const override;
  // Nothing pending and no merge window open: no timer would notice a clock re-anchoring.
  bool idle() const override;
  // SIGHUP: a refreshed subscribers snapshot for later calls and windows.
  void setDirectory(std::shared_ptr<const subscribers::Directory> directory);
  // {callback_link} in the templates (Merger::setLinkMaker).
  void setLinkMaker(std::function<std::string(const std::string&, const std::string&)> fn);
  // SIGHUP: templates, voicemail numbers, merge bounds, delivery settings and the dead-letter
  // path for what is rendered or scheduled from now on; open windows and pending deliveries are
  // kept. Cached credentials are forgotten (a rotated secret is read again).
  void reconfigure(const NotifyConfig& cfg);
  // `mcn run` without Redis: journal every missed call and notification in cfg.outbox_path
  // (outbox.h) and resume what the journal still owes: notifications made but not delivered
  // are resubmitted as they were (same idempotency key), calls in no notification re-enter the
  // merge windows at `now_us`. False with `error` when the journal cannot be used: delivery
  // then goes on from memory and every call is counted in notify.outbox_unprotected.
  bool openOutbox(int64_t now_us, std::string* error);
  // The same with an outbox opened by the caller (`mcn run` opens it before its threads start):
  // `owed` is what its open() returned. With `calls_journaled_upstream` the pipeline's workers
  // journal each call as they decide it (Outbox::callIn), and onMissedCall() does not again.
  void useOutbox(std::shared_ptr<Outbox> outbox, OutboxRecovered owed, int64_t now_us,
                 bool calls_journaled_upstream);
  // Delivery::setTransport: the sip_message channel's carrier (mcn run with [sipua] enabled). Set
  // before useOutbox() so resumed notifications find it.
  void setTransport(OutboundRequest::Protocol protocol, RequestTransport* transport);
  // Called once per delivered notification, after --notify-out (metrics).
  void setDeliveredHook(std::function<void(const Notification&)> hook);

  // Scale-out notifier (stream_window_delivery.h): one merge window kept in Redis, rendered now by
  // a merger of its own: each call is judged at its arrival time (its stream entry's time: quiet
  // hours that drop), then the window closes at once (quiet hours that hold already set its
  // deadline). Notifications go through produced hook, credentials and delivery like the merger's.
  void renderWindow(const std::vector<std::pair<int64_t, calls::MissedCall>>& arrivals,
                    int64_t now_us);
  // Called for each notification the merger produces, before it is submitted.
  void setProducedHook(std::function<void(const Notification&)> hook);
  // Takes dead letters before the dead-letter file: (notification, reason, last error, attempts,
  // at_us) -> true when it kept the dead letter, false to have it written to the file.
  // The call history (history/): each notification as it is produced (step null), then every
  // step of its delivery (delivery.h DeliveryStep). Observes only; delivery goes on regardless.
  using HistoryHook = std::function<void(const Notification&, const DeliveryStep*)>;
  void setHistoryHook(HistoryHook hook);
  // The operator console's retry of a dead letter (dead_letter_store.h): `n` as the dead letter
  // kept it (calls, text, ORIGINAL idempotency key) goes through delivery again on the person's
  // channel of that id as configured now (a fixed URL or secret counts), journaled in the outbox
  // first. False + `error` when the person or the channel is no longer in the directory.
  bool resubmitDeadLetter(Notification n, std::string& error);
  using DeadLetterHook =
      std::function<bool(const Notification&, std::string_view, std::string_view, int, int64_t)>;
  void setDeadLetterHook(DeadLetterHook hook);

  // One message to one person through their own channel (the web console's sign-in link and
  // "send me a test notification"): `channel_id` names one of the person's channels ("" = the
  // first). It goes through the credentials and the delivery engine like a missed-call
  // notification (retries, rate limits, dead letters), but covers no call: it is not journaled
  // in the outbox, written to --notify-out or the call history (a sign-in link is a credential).
  // False with `error` when there is no such person or channel. Notifier thread only.
  bool sendMessage(const std::string& person_id, const std::string& channel_id,
                   const std::string& title, const std::string& text, std::string* error);

 private:
  std::function<void(const Notification&)> delivered_hook_;
  std::function<void(const Notification&)> produced_hook_;
  HistoryHook history_hook_;
  std::shared_ptr<DeadLetterHook> dead_letter_hook_ = std::make_shared<DeadLetterHook>();
  void submit(Notification&& n);  // the merger's sink
  void resolveAndDeliver(Notification&& n);
  NotifyConfig cfg_;  // for renderWindow()'s mergers
  std::shared_ptr<const subscribers::Directory> directory_;
  std::map<std::string, uint64_t, std::less<>> window_counters_;  // renderWindow()'s mergers
  ManualClock pipeline_clock_;
  std::unique_ptr<Clock> wall_clock_;
  std::unique_ptr<Random> random_;
  // Before delivery_: the engine's destructor hands its pending notifications over (kept).
  std::shared_ptr<Outbox> outbox_;
  bool calls_journaled_upstream_ = false;
  CredentialStore credentials_;
  std::unique_ptr<DeadLetterSink> dead_letters_;
  std::unique_ptr<Delivery> delivery_;
  std::unique_ptr<Merger> merger_;
  std::ostream* console_;
  std::ostream* notify_out_;
  uint64_t since_poll_ = 0;
  uint64_t credential_dead_letters_ = 0;
  uint64_t messages_sent_ = 0;       // sendMessage()
  uint64_t messages_delivered_ = 0;  // of those, delivered
};

}  // namespace mcn::notifier
