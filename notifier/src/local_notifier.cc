#include "mcn/notifier/local_notifier.h"

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
  void write(const Notification& n, std::string_view reason, std::string_view last_error,
             int attempts, int64_t at_us) override {
    // Scale-out notifier: the dead-letter stream, unless its queue for Redis is full
    // (stream_window_delivery.h).
    if (*hook_ && (*hook_)(n, reason, last_error, attempts, at_us)) return;
    if (!file_ && !failed_) {
      try {
        file_ = std::make_unique<JsonlDeadLetterFile>(path_);
      } catch (const std::exception& e) {
        failed_ = true;
        std::cerr << "mcn: cannot open the dead-letter file: " << e.what() << '\n';
      }
    }
    if (file_) {
      file_->write(n, reason, last_error, attempts, at_us);
    } else {
      std::cerr << "mcn: dead letter: " << deadLetterJson(n, reason, last_error, attempts, at_us)
                << '\n';
    }
  }

 private:
  std::string path_;
  std::shared_ptr<LocalNotifier::DeadLetterHook> hook_;
  std::unique_ptr<JsonlDeadLetterFile> file_;
  bool failed_ = false;
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
    if (notify_out_ != nullptr) {
      JsonlSink sink(*notify_out_);
      sink.deliver(n);
    }
    if (delivered_hook_) delivered_hook_(n);
  });
  Templates templates(cfg.template_overrides);
  templates.setVoicemailNumbers(cfg.voicemail_numbers);
  directory_ = directory;
  merger_ = std::make_unique<Merger>(cfg.merger, std::move(directory), pipeline_clock_,
                                     std::move(templates),
                                     [this](Notification&& n) { submit(std::move(n)); });
  cfg_ = cfg;
}

void LocalNotifier::submit(Notification&& n) {
  if (produced_hook_) produced_hook_(n);
  // A robot URL that carries its key is itself a credential: stored as a reference.
  if (!n.channel.target_ref.empty()) {
    std::string error;
    auto target = credentials_.resolve(n.channel.target_ref, &error);
    if (!target) {
      dead_letters_->write(n, "credential_missing", error, 0, wall_clock_->nowUs());
      ++credential_dead_letters_;
      return;
    }
    n.channel.target = std::move(*target);
  }
  delivery_->submit(std::move(n));
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
  merger_->onMissedCall(call);
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
}

bool LocalNotifier::finish(int64_t now_us, int64_t deadline_ms) {
  if (now_us > pipeline_clock_.nowUs()) pipeline_clock_.set(now_us);
  merger_->advanceTo(pipeline_clock_.nowUs());
  merger_->flush();
  return delivery_->flush(wall_clock_->nowUs() + deadline_ms * 1000);
}

void LocalNotifier::poll(int max_wait_ms) { delivery_->poll(max_wait_ms); }

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
}

}  // namespace mcn::notifier
