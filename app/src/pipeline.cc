#include "pipeline.h"

#include <fmt/format.h>

#include <stdexcept>

namespace mcn::app {

void SipTally::forEachCounter(const CounterFn& fn) const {
  for (size_t m = 0; m < by_method_.size(); ++m) {
    if (by_method_[m] != 0) {
      fn(fmt::format("sip.method.{}", sipparse::methodName(static_cast<sipparse::Method>(m))),
         by_method_[m]);
    }
  }
  for (size_t s = 0; s < by_status_.size(); ++s) {
    if (by_status_[s] != 0) fn(fmt::format("sip.status.{}", s + kFirstStatus), by_status_[s]);
  }
}

FrameStage::FrameStage(const capture::DecoderConfig& cfg, ShardRouter* router, Emit emit)
    : router_(router),
      emit_(std::move(emit)),
      decoder_(cfg, [this](capture::SipPayload&& p) { route(std::move(p)); }) {}

void FrameStage::forEachCounter(const CounterFn& fn) const {
  decoder_.forEachCounter(fn);
  decoder_.forEachHepCaptureId(
      [&](uint32_t id, uint64_t n) { fn(fmt::format("hep.capture_id.{}", id), n); });
}

SipStage::SipStage(const sipparse::ParserConfig& parser, const calls::TrackerConfig& tracker,
                   LiveClock* live, RecordSink sink)
    : live_(live),
      parser_(std::make_unique<sipparse::SipParser>(parser)),
      tracker_(tracker, std::move(sink)) {}

bool SipStage::tick() {
  if (live_ == nullptr) return false;
  // Live timers (grace, ring timeout, linger) and packet times on the LiveClock's line.
  tracker_.advanceTo(live_->nowUs());
  return tracker_.openCalls() == 0 && live_->reanchorIfIdle();
}

void SipStage::observe(std::function<void(const sipparse::SipEvent&)> on_event,
                       const calls::TraceHooks& trace) {
  on_event_ = std::move(on_event);
  if (trace.sink) tracker_.setTraceHooks(trace);
}

void SipStage::setParserConfig(const sipparse::ParserConfig& cfg) {
  auto fresh = std::make_unique<sipparse::SipParser>(cfg);  // throws before anything changes
  parser_->forEachCounter([&](std::string_view k, uint64_t n) { retired_[std::string(k)] += n; });
  parser_ = std::move(fresh);
}

void SipStage::forEachCounter(const CounterFn& fn) const {
  // Counters of parsers a reload replaced are added, so /metrics never goes backwards.
  parser_->forEachCounter([&](std::string_view k, uint64_t n) {
    auto it = retired_.find(k);
    fn(k, n + (it == retired_.end() ? 0 : it->second));
  });
  tracker_.forEachCounter(fn);
  tally_.forEachCounter(fn);
}

FileFrameSource::FileFrameSource(const std::vector<std::string>& files) : inputs_(files.size()) {
  for (size_t i = 0; i < files.size(); ++i) {
    inputs_[i].path = files[i];
    inputs_[i].index = i;
    inputs_[i].src = std::make_unique<capture::PcapFileSource>(files[i]);
  }
  if (inputs_.size() == 1) return;  // read by next() directly
  for (auto& in : inputs_) {
    if (in.src->next(in.frame)) ready_.push(&in);
  }
}

FileFrameSource::~FileFrameSource() = default;

bool FileFrameSource::nextMerged(capture::Frame& out) {
  if (current_ != nullptr) {
    if (current_->src->next(current_->frame)) {
      // Still the earliest: no heap work.
      if (ready_.empty() || !Later{}(current_, ready_.top())) {
        out = current_->frame;
        return true;
      }
      ready_.push(current_);
    }
    current_ = nullptr;
  }
  if (ready_.empty()) return false;
  current_ = ready_.top();
  ready_.pop();
  out = current_->frame;
  return true;
}

void FileFrameSource::report(std::map<std::string, uint64_t>& counters,
                             std::vector<std::string>& errors) const {
  counters.try_emplace("replay.truncated_files", 0);
  for (const auto& in : inputs_) {
    if (!in.src->error().empty()) {
      ++counters["replay.truncated_files"];
      errors.push_back(fmt::format("{}: {}", in.path, in.src->error()));
    }
    // Damaged stretches in the middle of a file were skipped, and reading went on after them.
    const capture::FileReadStats st = in.src->stats();
    counters["replay.resync"] += st.resyncs;
    counters["replay.skipped_bytes"] += st.skipped_bytes;
    counters["replay.bad_blocks"] += st.bad_blocks;
    if (st.resyncs != 0 || st.bad_blocks != 0) {
      errors.push_back(fmt::format(
          "{}: damaged: skipped {} bytes ({} resynchronisations, {} unusable pcapng blocks)",
          in.path, st.skipped_bytes, st.resyncs, st.bad_blocks));
    }
  }
}

Pipeline::Pipeline(const capture::DecoderConfig& decoder, const sipparse::ParserConfig& parser,
                   const calls::TrackerConfig& tracker, Outputs out)
    : out_(std::move(out)),
      sip_(parser, tracker, nullptr,
           [this](calls::CallRecord&& rec) {
             ++records_;
             if (out_.on_record) out_.on_record(rec);
             if (!rec.missed) return;
             ++missed_;
             // The sink applies each person's preferences; it gets every missed record.
             if (out_.missed != nullptr) out_.missed->onMissedCall(rec, last_ts_);
           }),
      frames_(decoder, nullptr, [this](uint32_t, capture::SipPayload&& p) { sip_.onPayload(p); }) {
  if (out_.on_event || out_.trace.sink) sip_.observe(out_.on_event, out_.trace);
}

bool Pipeline::finish(int64_t deadline_ms) {
  frames_.finish();
  sip_.finish(last_ts_);
  return out_.missed == nullptr || out_.missed->finish(last_ts_, deadline_ms);
}

void Pipeline::forEachCounter(const CounterFn& fn) const {
  frames_.forEachCounter(fn);
  sip_.forEachCounter(fn);
  if (out_.missed != nullptr) out_.missed->forEachCounter(fn);
}

}  // namespace mcn::app
