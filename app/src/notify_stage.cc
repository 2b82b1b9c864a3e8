#include "notify_stage.h"

#include <chrono>
#include <fstream>
#include <iostream>

#include "mcn/app/replay.h"
#include "mcn/notifier/console_sink.h"

namespace mcn::app {
namespace {

// Opens the dead-letter file at the first dead letter, so a run that loses nothing leaves no
// empty file behind; a file that cannot be opened then is reported on stderr with the
// notification itself, so it is still not lost silently.
class LazyDeadLetterFile final : public notifier::DeadLetterSink {
 public:
  LazyDeadLetterFile(std::string path, std::shared_ptr<NotifyStage::DeadLetterHook> hook)
      : path_(std::move(path)), hook_(std::move(hook)) {}
  void setPath(const std::string& path) {
    if (path == path_) return;
    path_ = path;
    file_.reset();
    failed_ = false;
  }
  void write(const notifier::Notification& n, std::string_view reason, std::string_view last_error,
             int attempts, int64_t at_us) override {
    // Scale-out notifier: the dead-letter stream, unless its queue for Redis is full (roles.cc).
    if (*hook_ && (*hook_)(n, reason, last_error, attempts, at_us)) return;
    if (!file_ && !failed_) {
      try {
        file_ = std::make_unique<notifier::JsonlDeadLetterFile>(path_);
      } catch (const std::exception& e) {
        failed_ = true;
        std::cerr << "mcn: cannot open the dead-letter file: " << e.what() << '\n';
      }
    }
    if (file_) {
      file_->write(n, reason, last_error, attempts, at_us);
    } else {
      std::cerr << "mcn: dead letter: "
                << notifier::deadLetterJson(n, reason, last_error, attempts, at_us) << '\n';
    }
  }

 private:
  std::string path_;
  std::shared_ptr<NotifyStage::DeadLetterHook> hook_;
  std::unique_ptr<notifier::JsonlDeadLetterFile> file_;
  bool failed_ = false;
};

class ForwardingClock final : public notifier::Clock {
 public:
  explicit ForwardingClock(const notifier::Clock& to) : to_(to) {}
  int64_t nowUs() const override { return to_.nowUs(); }

 private:
  const notifier::Clock& to_;
};

}  // namespace

NotifyStage::NotifyStage(const NotifyConfig& cfg,
                         std::shared_ptr<const subscribers::Directory> directory,
                         std::ostream* console, std::ostream* notify_out,
                         const notifier::Clock* clock)
    : wall_clock_(clock != nullptr ? std::make_unique<ForwardingClock>(*clock)
                                   : notifier::systemClock()),
      random_(notifier::systemRandom()),
      console_(console),
      notify_out_(notify_out) {
  dead_letters_ = std::make_unique<LazyDeadLetterFile>(cfg.dead_letter_path, dead_letter_hook_);
  delivery_ = std::make_unique<notifier::Delivery>(cfg.delivery, *wall_clock_, *random_,
                                                   credentials_, *dead_letters_);
  delivery_->setLocalWriter([this](const notifier::Notification& n, std::string& error) {
    if (n.channel.kind == subscribers::ChannelKind::kConsole) {
      if (console_ == nullptr) return true;
      notifier::ConsoleSink sink(*console_);
      if (!sink.deliver(n)) {
        error = "console write failed";
        return false;
      }
      return true;
    }
    // A jsonl channel appends to its own file (the channel target).
    std::ofstream f(n.channel.target, std::ios::app);
    notifier::JsonlSink sink(f);
    if (!f || !sink.deliver(n)) {
      error = "cannot append to " + n.channel.target;
      return false;
    }
    return true;
  });
  delivery_->setDeliveredCallback([this](const notifier::Notification& n) {
    if (notify_out_ != nullptr) {
      notifier::JsonlSink sink(*notify_out_);
      sink.deliver(n);
    }
    if (delivered_hook_) delivered_hook_(n);
  });
  notifier::Templates templates(cfg.template_overrides);
  templates.setVoicemailNumbers(cfg.voicemail_numbers);
  directory_ = directory;
  merger_ = std::make_unique<notifier::Merger>(
      cfg.merger, std::move(directory), pipeline_clock_, std::move(templates),
      [this](notifier::Notification&& n) { submit(std::move(n)); });
  cfg_ = cfg;
}

void NotifyStage::submit(notifier::Notification&& n) {
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

void NotifyStage::renderWindow(const std::vector<std::pair<int64_t, calls::MissedCall>>& arrivals,
                               int64_t now_us) {
  notifier::ManualClock clock;
  notifier::Templates templates(cfg_.template_overrides);
  templates.setVoicemailNumbers(cfg_.voicemail_numbers);
  notifier::Merger merger(cfg_.merger, directory_, clock, std::move(templates),
                          [this](notifier::Notification&& n) { submit(std::move(n)); });
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

NotifyStage::~NotifyStage() = default;

void NotifyStage::reconfigure(const NotifyConfig& cfg) {
  cfg_ = cfg;
  notifier::Templates templates(cfg.template_overrides);  // validated by the config loader
  templates.setVoicemailNumbers(cfg.voicemail_numbers);
  merger_->setTemplates(std::move(templates));
  merger_->setConfig(cfg.merger);
  delivery_->setConfig(cfg.delivery);
  static_cast<LazyDeadLetterFile&>(*dead_letters_).setPath(cfg.dead_letter_path);
  credentials_.clear();
}

void NotifyStage::onMissedCall(const calls::MissedCall& call, int64_t now_us) {
  if (now_us > pipeline_clock_.nowUs()) pipeline_clock_.set(now_us);
  merger_->onMissedCall(call);
}

void NotifyStage::advanceTo(int64_t now_us) {
  if (now_us > pipeline_clock_.nowUs()) pipeline_clock_.set(now_us);
  auto due = merger_->nextDeadlineUs();
  if (due && *due <= pipeline_clock_.nowUs()) merger_->advanceTo(pipeline_clock_.nowUs());
  // Drive transfers now and then without waiting: the data path never blocks on a webhook.
  if (++since_poll_ >= 1024 && delivery_->pending() > 0) {
    since_poll_ = 0;
    delivery_->poll(0);
  }
}

bool NotifyStage::finish(int64_t now_us, int64_t deadline_ms) {
  if (now_us > pipeline_clock_.nowUs()) pipeline_clock_.set(now_us);
  merger_->advanceTo(pipeline_clock_.nowUs());
  merger_->flush();
  return delivery_->flush(wall_clock_->nowUs() + deadline_ms * 1000);
}

void NotifyStage::poll(int max_wait_ms) { delivery_->poll(max_wait_ms); }

size_t NotifyStage::pending() const { return delivery_->pending(); }

bool NotifyStage::idle() const { return delivery_->pending() == 0 && merger_->openWindows() == 0; }

void NotifyStage::setDirectory(std::shared_ptr<const subscribers::Directory> directory) {
  directory_ = directory;
  merger_->setDirectory(std::move(directory));
}

void NotifyStage::setProducedHook(std::function<void(const notifier::Notification&)> hook) {
  produced_hook_ = std::move(hook);
}

void NotifyStage::setDeadLetterHook(DeadLetterHook hook) { *dead_letter_hook_ = std::move(hook); }

void NotifyStage::setDeliveredHook(std::function<void(const notifier::Notification&)> hook) {
  delivered_hook_ = std::move(hook);
}

void NotifyStage::forEachCounter(
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

}  // namespace mcn::app
