#pragma once
// The whole path of a packet, for every front-end: `mcn replay`, `mcn run` (every role) and the
// scale-out probes all run these stages; nothing else in app/ decodes, parses or tracks.
//
//   frame source       FrameStage (one per source)       SipStage (one per worker)
//   capture files  --> decoder: link, VLAN, tunnels, --> parseInto (one reused SipEvent)
//   live interfaces    IP defrag, UDP/TCP/SCTP, dedup    sip.method / sip.status tally
//                      -> SipPayload -> leg router       CallTracker on the stage's clock
//   HEP listener ----> onPayload(SipPayload) ^           (packet time, or the live line)
//                      (every leg of a call to one         -> CallRecord (JSON Lines)
//                       worker: the shard)                 -> missed ones: MissedCallSink
//                                                             (notifier/: local notification
//                                                             service, or the Redis stream)
//
// Replay (Pipeline below) runs all of it on one thread on packet time: a frame's timestamp is
// the clock, so a replay is deterministic. `mcn run` (run.cc) runs a FrameStage on each capture
// thread, a SipStage on each worker on the live monotonic clock (live_clock.h), the
// MissedCallSink on the notifier thread, with single-producer rings between them: the same
// objects, only the hand-offs differ. A source that delivers SIP already (a HEP listener) feeds
// FrameStage::onPayload() and skips the decoder.

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <queue>
#include <string>
#include <string_view>
#include <vector>

#include "live_clock.h"
#include "live_shard.h"
#include "mcn/calls/call_record.h"
#include "mcn/calls/explain.h"
#include "mcn/calls/tracker.h"
#include "mcn/capture/decoder.h"
#include "mcn/capture/pcap_source.h"
#include "mcn/notifier/missed_call_sink.h"
#include "mcn/sipparse/parser.h"

namespace mcn::app {

using CounterFn = std::function<void(std::string_view, uint64_t)>;

// Requests by method and responses by status code: "sip.method.<METHOD>", "sip.status.<code>"
// (non-zero ones). Plain arrays on the hot path, names built when read.
class SipTally {
 public:
  void count(const sipparse::SipEvent& ev) {
    ++messages_;
    if (ev.is_request) {
      ++by_method_[static_cast<size_t>(ev.method)];
    } else if (ev.status >= kFirstStatus && ev.status <= kLastStatus) {
      ++by_status_[static_cast<size_t>(ev.status - kFirstStatus)];
    }
  }
  uint64_t messages() const { return messages_; }
  void forEachCounter(const CounterFn& fn) const;

 private:
  static constexpr int kFirstStatus = 100;  // RFC 3261 §7.2: 1xx to 6xx
  static constexpr int kLastStatus = 699;
  static constexpr size_t kMethods = static_cast<size_t>(sipparse::Method::kOther) + 1;
  uint64_t messages_ = 0;
  std::array<uint64_t, kMethods> by_method_{};
  std::array<uint64_t, kLastStatus - kFirstStatus + 1> by_status_{};
};

// Frames to SIP payloads, and each payload to the worker its call lives on. One per source
// (thread); the router is shared by all sources (legs of a call arrive on different
// interfaces).
class FrameStage {
 public:
  using Emit = std::function<void(uint32_t shard, capture::SipPayload&& payload)>;
  // `router` null: one shard (0), no routing work.
  FrameStage(const capture::DecoderConfig& cfg, ShardRouter* router, Emit emit);

  void onFrame(const capture::Frame& f) {
    ++frames_;
    decoder_.decode(f.link_type, f.ts_us, f.data, f.wire_len);
  }
  // A payload decoded elsewhere (a HEP listener): routed like the decoder's.
  void onPayload(capture::SipPayload&& p) { route(std::move(p)); }
  // End of input: complete messages still held by TCP/SCTP reassembly come out.
  void finish() { decoder_.finish(); }
  uint64_t frames() const { return frames_; }
  // The decoder's counters (decode.*, ip.*, udp.*, tcp.*, prefilter.*, hep.*, ...), then HEP
  // packets per agent capture id ("hep.capture_id.<id>").
  void forEachCounter(const CounterFn& fn) const;

 private:
  void route(capture::SipPayload&& p) {
    emit_(router_ != nullptr ? router_->route(p.bytes) : 0, std::move(p));
  }
  ShardRouter* router_;
  Emit emit_;
  uint64_t frames_ = 0;
  capture::FrameDecoder decoder_;
};

// A live frame source on its own thread (`mcn run`): a capture interface (run.cc), or one more
// such as a HEP listener. Each gets its FrameStage and its row of rings to the workers.
class LiveSource {
 public:
  virtual ~LiveSource() = default;
  // The metrics label value (interface="eth1"), also in log lines.
  virtual const std::string& label() const = 0;
  // With several capture threads on one interface (run.capture_threads): which of its sockets,
  // "0".."N-1" (metrics label socket="N"); empty otherwise.
  virtual std::string socket() const { return {}; }
  // Hands what arrived, waiting at most the source's own short timeout, to the stage
  // (onFrame, or onPayload for a source that delivers SIP already). Returns how much it handed
  // over, < 0 when the source failed for good (error() says why).
  virtual int poll(FrameStage& stage) = 0;
  virtual std::string error() const = 0;
  // The source's own counters (pcap.received, ...), published with the stage's.
  virtual void forEachCounter(const CounterFn& fn) const = 0;
};

// SIP payloads to call records on one worker. Clock: packet time (the tracker follows the
// packets' timestamps; replay) or a LiveClock (packet times are moved onto its monotonic line
// and tick() fires timers from it; mcn run).
class SipStage {
 public:
  using RecordSink = std::function<void(calls::CallRecord&&)>;
  // `live` null: packet time. Otherwise it must outlive the stage.
  SipStage(const sipparse::ParserConfig& parser, const calls::TrackerConfig& tracker,
           LiveClock* live, RecordSink sink);

  // False when the payload is not a SIP message the parser takes.
  bool onPayload(capture::SipPayload& p) {
    if (live_ != nullptr) p.ts_us = live_->fromWall(p.ts_us);
    if (p.ts_us > last_ts_) last_ts_ = p.ts_us;
    // parseInto reuses the event's buffers: an ordinary message costs no allocation here.
    if (!parser_->parseInto(p, ev_)) return false;
    tally_.count(ev_);
    if (on_event_) on_event_(ev_);
    tracker_.onEvent(ev_);
    return true;
  }
  // The message onPayload() parsed last (valid until the next one).
  const sipparse::SipEvent& event() const { return ev_; }
  // Live: fire the timers due now on the live clock; re-anchor it on a stepped wall clock when no
  // call is open (live_clock.h). True if it re-anchored.
  bool tick();
  // End of input or shutdown: decide every open call at now_us (replay: the last frame's time;
  // live: the clock's now()).
  void finish(int64_t now_us) { tracker_.finish(now_us); }
  // Sharded replay (sharded_replay.h), packet time only: fire the timers due by `clock_us`, the
  // latest packet time of the whole input so far, which messages of other workers moved.
  void advanceTo(int64_t clock_us) { tracker_.advanceTo(clock_us); }
  // Sharded replay: the next message's index in the whole input (CallTracker::setSequence).
  void setSequence(uint64_t seq) { tracker_.setSequence(seq); }
  // Inside the record sink: what decided the record's call (CallTracker::decision).
  const calls::CallTracker::Decision& decision() const { return tracker_.decision(); }
  // `mcn explain` (app/include/mcn/app/explain.h): every parsed message before the tracker
  // sees it, and traces of the decided calls it asks for. Unset on every other path.
  void observe(std::function<void(const sipparse::SipEvent&)> on_event,
               const calls::TraceHooks& trace);
  // SIGHUP: a new dial plan from the next message on; the replaced parser's counters are kept.
  void setParserConfig(const sipparse::ParserConfig& cfg);
  int64_t now() const { return live_ != nullptr ? live_->nowUs() : last_ts_; }
  size_t openCalls() const { return tracker_.openCalls(); }
  uint64_t messages() const { return tally_.messages(); }
  // Parser (parse.*), tracker (calls.*), then the tally (sip.method.*, sip.status.*).
  void forEachCounter(const CounterFn& fn) const;

 private:
  LiveClock* live_;
  int64_t last_ts_ = 0;
  std::unique_ptr<sipparse::SipParser> parser_;
  std::map<std::string, uint64_t, std::less<>> retired_;  // counters of replaced parsers
  sipparse::SipEvent ev_;
  SipTally tally_;
  std::function<void(const sipparse::SipEvent&)> on_event_;
  calls::CallTracker tracker_;
};

// Capture files merged by timestamp (as mergecap would), each frame with its own link type.
// Opens every file in the constructor, so a wrong path throws before anything is written.
class FileFrameSource {
 public:
  explicit FileFrameSource(const std::vector<std::string>& files);
  ~FileFrameSource();
  // The next frame in timestamp order (ties: the earlier file); false at the end of all files.
  // The frame stays valid until the next call.
  bool next(capture::Frame& out) {
    // One file (the usual case): straight from its reader, no merge.
    if (inputs_.size() == 1) return inputs_.front().src->next(out);
    return nextMerged(out);
  }
  // Per file: what ended it early or was skipped ("replay.truncated_files", "replay.resync",
  // "replay.skipped_bytes", "replay.bad_blocks"), and one warning per problem.
  void report(std::map<std::string, uint64_t>& counters, std::vector<std::string>& errors) const;
  size_t files() const { return inputs_.size(); }

 private:
  struct Input {
    std::string path;
    std::unique_ptr<capture::PcapFileSource> src;
    capture::Frame frame;
    size_t index = 0;
  };
  struct Later {
    bool operator()(const Input* a, const Input* b) const {
      if (a->frame.ts_us != b->frame.ts_us) return a->frame.ts_us > b->frame.ts_us;
      return a->index > b->index;
    }
  };
  bool nextMerged(capture::Frame& out);
  std::vector<Input> inputs_;
  std::priority_queue<Input*, std::vector<Input*>, Later> ready_;
  Input* current_ = nullptr;  // its frame was handed out; read its next one first
};

// Everything on one thread, on packet time: frames -> FrameStage -> SipStage -> records ->
// the missed-call sink. `mcn replay` (both roles) and the benchmarks run it.
class Pipeline {
 public:
  struct Outputs {
    std::function<void(const calls::CallRecord&)> on_record;  // every record; may be empty
    notifier::MissedCallSink* missed = nullptr;               // may be null
    // mcn explain only (SipStage::observe).
    std::function<void(const sipparse::SipEvent&)> on_event;
    calls::TraceHooks trace;
  };
  Pipeline(const capture::DecoderConfig& decoder, const sipparse::ParserConfig& parser,
           const calls::TrackerConfig& tracker, Outputs out);

  void onFrame(const capture::Frame& f) {
    if (f.ts_us > last_ts_) last_ts_ = f.ts_us;
    frames_.onFrame(f);
    if (out_.missed != nullptr) out_.missed->advanceTo(last_ts_);
  }
  void onPayload(capture::SipPayload&& p) {
    if (p.ts_us > last_ts_) last_ts_ = p.ts_us;  // SIP already (explainPayloads): its clock too
    frames_.onPayload(std::move(p));
  }
  // End of input: flush reassembly, decide every open call, deliver what the sink holds within
  // deadline_ms of wall time. Returns the sink's finish() (true without a sink).
  bool finish(int64_t deadline_ms);

  uint64_t frames() const { return frames_.frames(); }
  uint64_t sipMessages() const { return sip_.messages(); }
  uint64_t records() const { return records_; }
  uint64_t missed() const { return missed_; }
  // Decoder, parser, tracker, tally, then the sink's counters.
  void forEachCounter(const CounterFn& fn) const;

 private:
  Outputs out_;
  int64_t last_ts_ = 0;
  uint64_t records_ = 0, missed_ = 0;
  SipStage sip_;
  FrameStage frames_;
};

}  // namespace mcn::app
