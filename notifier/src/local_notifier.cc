#include "mcn/notifier/local_notifier.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>

#include "mcn/notifier/console_sink.h"

namespace mcn::notifier {
namespace {

// Opens the dead-letter file at the first dead letter, so a run that loses nothing leaves no
// empty file behind; a file that cannot be opened then is reported on stderr with the
// notification itself, so it is still not lost silently.
class LazyDeadLetterFile final : public DeadLetterSink {
 public:
  LazyDeadLetterFile(std::string path, std::shared_ptr<LocalNotifier::DeadLetterHook> hook)
      : path_(std::move(path)), hook_(std::move(hook)) {}
  void setPath(const std::string& path) {
    if (path == path_) return;
    path_ = path;
    file_.reset();
    failed_ = false;
  }
  void setOutbox(Outbox* outbox) { outbox_ = outbox; }
  uint64_t writeErrors() const { return write_errors_ + (file_ ? file_->writeErrors() : 0); }
  uint64_t keptInOutbox() const { return kept_; }

  void write(const Notification& n, std::string_view reason, std::string_view last_error,
             int attempts, int64_t at_us) override {
    // Scale-out notifier: the dead-letter stream, unless its queue for Redis is full
    // (stream_window_delivery.h).
    if (*hook_ && (*hook_)(n, reason, last_error, attempts, at_us)) return;
    // Stopped before it was delivered: the outbox still has it, the next start sends it.
    if (reason == "shutdown" && outbox_ != nullptr && outbox_->usable()) {
      ++kept_;
      return;
    }
    if (!file_ && !failed_) {
      try {
        file_ = std::make_unique<JsonlDeadLetterFile>(path_);
      } catch (const std::exception& e) {
        failed_ = true;
        std::cerr << "mcn: cannot open the dead-letter file: " << e.what() << '\n';
      }
    }
    const uint64_t errors_before = writeErrors();
    if (file_) {
      file_->write(n, reason, last_error, attempts, at_us);
    } else {
      ++write_errors_;
      std::cerr << "mcn: dead letter: " << deadLetterJson(n, reason, last_error, attempts, at_us)
                << '\n';
    }
    // Kept in the outbox while the dead-letter file could not take it: the next start retries.
    if (outbox_ != nullptr && writeErrors() == errors_before) outbox_->finished(n);
  }

 private:
  std::string path_;
  std::shared_ptr<LocalNotifier::DeadLetterHook> hook_;
  std::unique_ptr<JsonlDeadLetterFile> file_;
  bool failed_ = false;
  Outbox* outbox_ = nullptr;
  uint64_t write_errors_ = 0;  // the file could not be opened: the entry went to stderr
  uint64_t kept_ = 0;
};

class ForwardingClock final : public Clock {
 public:
  explicit ForwardingClock(const Clock& to) : to_(to) {}
  int64_t nowUs() const override { return to_.nowUs(); }

 private:
  const Clock& to_;
};

}  // namespace

LocalNotifier::LocalNotifier(const NotifyConfig& cfg,
                             std::shared_ptr<const subscribers::Directory> directory,
                             std::ostream* console, std::ostream* notify_out, const Clock* clock)
    : wall_clock_(clock != nullptr ? std::make_unique<ForwardingClock>(*clock) : systemClock()),
      random_(systemRandom()),
      console_(console),
      notify_out_(notify_out) {
  dead_letters_ = std::make_unique<LazyDeadLetterFile>(cfg.dead_letter_path, dead_letter_hook_);
  delivery_ = std::make_unique<Delivery>(cfg.delivery, *wall_clock_, *random_, credentials_,
                                         *dead_letters_);
  delivery_->setLocalWriter([this](const Notification& n, std::string& error) {
    if (n.channel.kind == subscribers::ChannelKind::kConsole) {
      if (console_ == nullptr) return true;
      ConsoleSink sink(*console_);
      if (!sink.deliver(n)) {
        error = "console write failed";
        return false;
      }
      return true;
    }
    // A jsonl channel appends to its own file (the channel target).
    std::ofstream f(n.channel.target, std::ios::app);
    JsonlSink sink(f);
    if (!f || !sink.deliver(n)) {
      error = "cannot append to " + n.channel.target;
      return false;
    }
    return true;
  });
  delivery_->setDeliveredCallback([this](const Notification& n) {
    // A message that covers no call (sendMessage) is nobody's record: only its channel sees it.
    if (n.calls.empty()) {
      ++messages_delivered_;
      return;
    }
    if (outbox_) outbox_->finished(n);
    if (notify_out_ != nullptr) {
      JsonlSink sink(*notify_out_);
      sink.deliver(n);
    }
    if (delivered_hook_) delivered_hook_(n);
  });
  delivery_->setStepCallback([this](const Notification& n, const DeliveryStep& step) {
    if (history_hook_ && !n.calls.empty()) history_hook_(n, &step);
  });
  Templates templates(cfg.template_overrides);
  templates.setVoicemailNumbers(cfg.voicemail_numbers);
  directory_ = directory;
  merger_ = std::make_unique<Merger>(cfg.merger, std::move(directory), pipeline_clock_,
                                     std::move(templates),
                                     [this](Notification&& n) { submit(std::move(n)); });
  cfg_ = cfg;
}

void LocalNotifier::setTransport(OutboundRequest::Protocol protocol, RequestTransport* transport) {
  delivery_->setTransport(protocol, transport);
}

void LocalNotifier::submit(Notification&& n) {
  if (produced_hook_) produced_hook_(n);
  if (outbox_) outbox_->produced(n);
  if (history_hook_) history_hook_(n, nullptr);
  resolveAndDeliver(std::move(n));
}

void LocalNotifier::resolveAndDeliver(Notification&& n) {
  // A robot URL that carries its key is itself a credential: stored as a reference.
  if (!n.channel.target_ref.empty()) {
    std::string error;
    auto target = credentials_.resolve(n.channel.target_ref, &error);
    if (!target) {
      int64_t now = wall_clock_->nowUs();
      dead_letters_->write(n, "credential_missing", error, 0, now);
      if (history_hook_ && !n.calls.empty()) {
        DeliveryStep step{DeliveryStep::Kind::kDeadLettered, false, error, "credential_missing",
                          now};
        history_hook_(n, &step);
      }
      ++credential_dead_letters_;
      return;
    }
    n.channel.target = std::move(*target);
  }
  delivery_->submit(std::move(n));
}

bool LocalNotifier::sendMessage(const std::string& person_id, const std::string& channel_id,
                                const std::string& title, const std::string& text,
                                std::string* error) {
  const subscribers::Person* p = directory_ ? directory_->findById(person_id) : nullptr;
  if (p == nullptr) {
    if (error != nullptr) *error = "no such person";
    return false;
  }
  const subscribers::Channel* ch = nullptr;
  for (const auto& c : p->channels) {
    if (channel_id.empty() || c.id == channel_id) {
      ch = &c;
      break;
    }
  }
  if (ch == nullptr) {
    if (error != nullptr) *error = "no such channel";
    return false;
  }
  Notification n;
  n.person_id = p->id;
  n.person_name = p->name;
  n.channel = *ch;
  n.created_at_us = wall_clock_->nowUs();
  // Unique per message: a retry of this one carries the same key, another message does not.
  n.idempotency_key = fmt::format("msg-{}-{}", n.created_at_us, ++messages_sent_);
  n.title = title;
  n.text = text;
  resolveAndDeliver(std::move(n));
  return true;
}

bool LocalNotifier::resubmitDeadLetter(Notification n, std::string& error) {
  const subscribers::Person* p = directory_ ? directory_->findById(n.person_id) : nullptr;
  if (p == nullptr) {
    error = "person " + n.person_id + " is no longer in the subscribers directory";
    return false;
  }
  auto ch = std::find_if(p->channels.begin(), p->channels.end(),
                         [&](const subscribers::Channel& c) { return c.id == n.channel.id; });
  if (ch == p->channels.end()) {
    error = "person " + n.person_id + " has no channel " + n.channel.id + " any more";
    return false;
  }
  n.channel = *ch;
  n.attempts = 0;
  if (outbox_) outbox_->produced(n);  // a crash from here on still re-sends it
  resolveAndDeliver(std::move(n));
  return true;
}

void LocalNotifier::renderWindow(const std::vector<std::pair<int64_t, calls::MissedCall>>& arrivals,
                                 int64_t now_us) {
  ManualClock clock;
  Templates templates(cfg_.template_overrides);
  templates.setVoicemailNumbers(cfg_.voicemail_numbers);
  Merger merger(cfg_.merger, directory_, clock, std::move(templates),
                [this](Notification&& n) { submit(std::move(n)); });
  for (const auto& [at_us, call] : arrivals) {
    clock.set(at_us);
    merger.onMissedCall(call);
  }
  clock.set(std::max(now_us, clock.nowUs()));
  merger.flush();
  merger.forEachCounter([this](std::string_view k, uint64_t v) {
    if (v != 0) window_counters_[std::string(k)] += v;
  });
}

LocalNotifier::~LocalNotifier() = default;

void LocalNotifier::reconfigure(const NotifyConfig& cfg) {
  cfg_ = cfg;
  Templates templates(cfg.template_overrides);  // validated by the config loader
  templates.setVoicemailNumbers(cfg.voicemail_numbers);
  merger_->setTemplates(std::move(templates));
  merger_->setConfig(cfg.merger);
  delivery_->setConfig(cfg.delivery);
  static_cast<LazyDeadLetterFile&>(*dead_letters_).setPath(cfg.dead_letter_path);
  credentials_.clear();
}

void LocalNotifier::onMissedCall(const calls::MissedCall& call, int64_t now_us) {
  if (now_us > pipeline_clock_.nowUs()) pipeline_clock_.set(now_us);
  if (!outbox_) {
    merger_->onMissedCall(call);
    return;
  }
  // Journaled before the merger sees it: a window it opens may close (and be sent) at once.
  if (!calls_journaled_upstream_) outbox_->callIn(call, now_us);
  if (!merger_->onMissedCall(call)) outbox_->callDropped(call);
}

bool LocalNotifier::openOutbox(int64_t now_us, std::string* error) {
  auto outbox = std::make_shared<Outbox>(cfg_.outbox_path, cfg_.outbox_fsync_ms, *wall_clock_);
  OutboxRecovered owed;
  const bool ok = outbox->open(owed, error);
  useOutbox(std::move(outbox), std::move(owed), now_us, false);
  return ok;
}

void LocalNotifier::useOutbox(std::shared_ptr<Outbox> outbox, OutboxRecovered owed, int64_t now_us,
                              bool calls_journaled_upstream) {
  outbox_ = std::move(outbox);
  calls_journaled_upstream_ = calls_journaled_upstream;
  static_cast<LazyDeadLetterFile&>(*dead_letters_).setOutbox(outbox_.get());
  merger_->setClosedHook(
      [this](const std::vector<calls::CallRecord>& records) { outbox_->windowClosed(records); });
  if (!owed.notifications.empty() || !owed.calls.empty()) {
    spdlog::info(
        "outbox {}: resuming {} notification(s) not yet delivered and {} missed call(s) not yet "
        "notified",
        cfg_.outbox_path, owed.notifications.size(), owed.calls.size());
  }
  // Already in the journal: delivered as they were made, with their original idempotency key.
  for (auto& n : owed.notifications) resolveAndDeliver(std::move(n));
  if (now_us > pipeline_clock_.nowUs()) pipeline_clock_.set(now_us);
  for (const auto& c : owed.calls) {
    if (!merger_->onMissedCall(c)) outbox_->callDropped(c);
  }
}

void LocalNotifier::advanceTo(int64_t now_us) {
  if (now_us > pipeline_clock_.nowUs()) pipeline_clock_.set(now_us);
  auto due = merger_->nextDeadlineUs();
  if (due && *due <= pipeline_clock_.nowUs()) merger_->advanceTo(pipeline_clock_.nowUs());
  // Drive transfers now and then without waiting: the data path never blocks on a webhook.
  if (++since_poll_ >= 1024 && delivery_->pending() > 0) {
    since_poll_ = 0;
    delivery_->poll(0);
  }
  if (outbox_) outbox_->maybeSync();
}

bool LocalNotifier::finish(int64_t now_us, int64_t deadline_ms) {
  if (now_us > pipeline_clock_.nowUs()) pipeline_clock_.set(now_us);
  merger_->advanceTo(pipeline_clock_.nowUs());
  merger_->flush();
  const bool ok = delivery_->flush(wall_clock_->nowUs() + deadline_ms * 1000);
  if (outbox_) {
    if (!ok && outbox_->usable()) {
      spdlog::warn("outbox {}: {} notification(s) still pending are kept for the next start",
                   cfg_.outbox_path, delivery_->pending());
    }
    outbox_->syncNow();
  }
  return ok;
}

void LocalNotifier::poll(int max_wait_ms) {
  delivery_->poll(max_wait_ms);
  if (outbox_) outbox_->maybeSync();
}

size_t LocalNotifier::pending() const { return delivery_->pending(); }

bool LocalNotifier::idle() const {
  return delivery_->pending() == 0 && merger_->openWindows() == 0;
}

void LocalNotifier::setDirectory(std::shared_ptr<const subscribers::Directory> directory) {
  directory_ = directory;
  merger_->setDirectory(std::move(directory));
}

void LocalNotifier::setLinkMaker(
    std::function<std::string(const std::string&, const std::string&)> fn) {
  merger_->setLinkMaker(std::move(fn));
}

void LocalNotifier::setProducedHook(std::function<void(const Notification&)> hook) {
  produced_hook_ = std::move(hook);
}

void LocalNotifier::setHistoryHook(HistoryHook hook) { history_hook_ = std::move(hook); }

void LocalNotifier::setDeadLetterHook(DeadLetterHook hook) { *dead_letter_hook_ = std::move(hook); }

void LocalNotifier::setDeliveredHook(std::function<void(const Notification&)> hook) {
  delivered_hook_ = std::move(hook);
}

void LocalNotifier::forEachCounter(
    const std::function<void(std::string_view, uint64_t)>& fn) const {
  // Scale-out windows are rendered by mergers of their own: their counts add to the stage's.
  merger_->forEachCounter([&](std::string_view k, uint64_t v) {
    auto it = window_counters_.find(k);
    fn(k, v + (it != window_counters_.end() ? it->second : 0));
  });
  delivery_->forEachCounter(fn);
  credentials_.forEachCounter(fn);
  fn("notify.credential_dead_letters", credential_dead_letters_);
  fn("notify.messages_sent", messages_sent_);
  fn("notify.messages_delivered", messages_delivered_);
  const auto& dl = static_cast<const LazyDeadLetterFile&>(*dead_letters_);
  fn("notify.dead_letter_write_errors", dl.writeErrors());
  if (outbox_) {
    outbox_->forEachCounter(fn);
    fn("notify.outbox_kept_at_shutdown", dl.keptInOutbox());
  }
}

}  // namespace mcn::notifier
