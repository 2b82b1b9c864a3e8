#include "mix.h"

#include <fmt/format.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "scenarios.h"

namespace mcn::gen {

namespace {

enum O { kAns, kAnsElse, kFwd, kCan, kBusy, kNoAns, kDecl, kRedir, kFail };

struct Rec {
  int outcome;
  bool missed;
};

struct Kind {
  const char* name;
  int weight;  // per 1000 calls
  void (*fn)(Scene&, const Cast&, const CallParams&);
  std::vector<Rec> records;
  int legs = 1;
};

// Call mix and the records each call must produce (per RULES.md, default config).
const std::vector<Kind>& kinds() {
  static const std::vector<Kind> k = {
      {"answered", 350, callAnswered, {{kAns, false}}},
      {"cancelled", 150, callCancelled, {{kCan, true}}},
      {"busy", 80, callFinal, {{kBusy, true}}},
      {"unavailable", 50, callFinal, {{kNoAns, true}}},
      {"proxy_408", 10, callProxy408, {{kNoAns, true}}},
      {"declined", 30, callFinal, {{kDecl, false}}},
      {"failed", 30, callRejected, {{kFail, false}}},
      {"fork_answered", 80, callForkAnswered, {{kAns, false}}},
      {"parallel_ring", 40, callParallelRing, {{kAnsElse, false}, {kAns, false}}},
      {"fork_abandoned", 40, callForkAbandoned, {{kCan, true}}},
      {"busy_to_voicemail", 40, callBusyToVoicemail, {{kFwd, true}, {kAns, false}}},
      {"b2bua_forward", 20, callB2buaNoAnswer, {{kFwd, true}, {kCan, true}}, 2},
      {"forward_unconditional", 30, callForwardUnconditional, {{kFwd, false}, {kAns, false}}},
      {"auth_answered", 20, callAuthAnswered, {{kAns, false}}},
      {"redirect", 10, callRedirect, {{kRedir, false}}},
      {"ok_crossing_cancel", 10, callOkCrossingCancel, {{kAns, false}}},
      {"response_first", 10, callResponseFirst, {{kAns, false}}},
  };
  return k;
}

const char* const kNames[] = {"Li Wei",   "Wang Fang", "Zhang Min", "Liu Yang", "Chen Jing",
                              "Yang Lei", "Zhao Li",   "Huang Tao", "Zhou Hui", "Wu Qiang"};

// Each scene's packets are already in time order: merge the scenes (k-way), so the heap holds
// one small entry per open scene instead of one per pending packet.
struct Pending {
  std::vector<Packet> pkts;
  size_t next = 0;
  int owner = 0;  // worker whose free list (and malloc arena) it returns to
};
struct HeapItem {
  int64_t ts;
  uint64_t seq;  // scene number: ties keep generation order
  Pending* scene;
};
struct Later {
  bool operator()(const HeapItem& a, const HeapItem& b) const {
    return a.ts != b.ts ? a.ts > b.ts : a.seq > b.seq;
  }
};

// What one scene adds to the summary.
struct Tally {
  uint64_t legs = 0, records = 0, missed = 0, call_messages = 0, noise_messages = 0;
  std::array<uint64_t, kOutcomes> by_outcome{};
};

struct Built {
  Pending* scene = nullptr;  // null: the scene wrote nothing
  int64_t drain_before = 0;  // every later scene starts at or after this instant
  Tally tally;
};

// Per scene, drawn in sequence from the master seed (cheap); everything else comes from the
// scene's own generator, so scenes can be built in any order on any thread.
struct Job {
  int64_t prev_ms = 0, t_ms = 0;
  uint64_t seed = 0;
  bool dup = false;
  int retrans = 0;
};

class JobStream {
 public:
  JobStream(const MixOptions& opt) : opt_(opt), rng_(opt.seed) {
    max_gap_ = static_cast<uint64_t>(2000.0 / std::max(opt.cps, 0.001)) + 1;
  }
  Job next() {
    Job j;
    j.prev_ms = t_ms_;
    t_ms_ += static_cast<int64_t>(rng_.below(max_gap_));
    j.t_ms = t_ms_;
    j.dup = rng_.chance(opt_.dup_ratio);
    j.retrans = rng_.chance(opt_.retrans_ratio) ? 2 : 0;
    j.seed = rng_.next();
    return j;
  }

 private:
  const MixOptions& opt_;
  Rng rng_;
  uint64_t max_gap_;
  int64_t t_ms_ = 0;
};

class Mixer {
 public:
  Mixer(const MixOptions& opt, const WireOptions& wire, FrameWriter& out, int threads)
      : opt_(opt), wire_(wire), out_(out), workers_(static_cast<size_t>(std::max(threads, 1))) {
    // Node table shared (read-only once built) by every scene: infrastructure, then the UEs.
    Scene boot({}, 0, 0, &nodes_);
    cast_.p = boot.addNode("pcscf", "198.51.100.10");
    cast_.scscf = boot.addNode("scscf", "198.51.100.20");
    cast_.vm = boot.addNode("vm", "198.51.100.40");
    cast_.mgcf = boot.addNode("mgcf", "198.51.100.50");
    const uint32_t n = std::clamp<uint32_t>(opt.ues, 10, 60000);
    desks_ = std::min<uint32_t>(n / 2, 8999);
    for (uint32_t i = 0; i < n; ++i) {
      const uint32_t a = i + 1;  // 198.18.0.1 ... (198.18.0.0/15, RFC 2544 benchmarking)
      ue_.push_back(boot.addNode(fmt::format("ue{}", i), fmt::format("198.{}.{}.{}", 18 + (a >> 16),
                                                                     (a >> 8) & 255, a & 255)));
      // Desk lines +86 25 8300 1000..9998 (9999 is voicemail), then mobiles.
      numbers_.push_back(i < desks_ ? fmt::format("+86258300{:04d}", 1000 + i)
                                    : fmt::format("+86139{:08d}", 101230 + i));
    }
    for (const Kind& k : kinds()) weight_total_ += k.weight;
  }

  // Workers build scenes k = w, w+W, ...; this thread takes them back in order k = 0, 1, ...,
  // merges, frames and writes. The output does not depend on the number of threads.
  MixSummary run() {
    std::vector<std::thread> threads;
    for (size_t w = 0; w < workers_.size(); ++w) threads.emplace_back([this, w] { work(w); });
    consume();
    for (auto& t : threads) t.join();
    sum_.first_us = opt_.start_us;
    sum_.frames = out_.frames();
    sum_.bytes = out_.bytes();
    sum_.last_us = last_us_;
    return sum_;
  }

 private:
  static constexpr size_t kMaxQueued = 256;

  struct Worker {
    std::mutex mu;
    std::condition_variable cv_data, cv_space;
    std::deque<Built> queue;
    std::vector<std::unique_ptr<Pending>> pool;
    std::vector<Pending*> free;  // guarded by mu
  };

  void work(size_t w) {
    Worker& me = workers_[w];
    const size_t nw = workers_.size();
    JobStream jobs(opt_);
    std::vector<Pending*> reuse;
    for (uint64_t k = 0; k < opt_.calls; ++k) {
      const Job job = jobs.next();
      if (k % nw != w) continue;
      Built b = build(job, static_cast<int>(w), me, reuse);
      std::unique_lock lk(me.mu);
      me.cv_space.wait(lk, [&] { return me.queue.size() < kMaxQueued; });
      me.queue.push_back(std::move(b));
      if (reuse.empty() && !me.free.empty()) reuse.swap(me.free);
      lk.unlock();
      me.cv_data.notify_one();
    }
  }

  Built build(const Job& job, int w, Worker& me, std::vector<Pending*>& reuse) {
    SceneOptions so;
    so.ipv6 = wire_.ipv6;
    so.tcp = wire_.tcp;
    so.dup = job.dup;
    so.retrans = job.retrans;
    Scene s(so, opt_.start_us + job.prev_ms * 1000, job.seed, &nodes_);
    Built b;
    call(s, job.t_ms - job.prev_ms, b.tally);
    noise(s, job.t_ms - job.prev_ms, b.tally);
    s.finalize(/*with_sums=*/!wire_.tcp && wire_.fragment_mtu <= 0);
    b.drain_before = opt_.start_us + job.t_ms * 1000;
    if (!s.packets().empty()) {
      Pending* p;
      if (!reuse.empty()) {
        p = reuse.back();
        reuse.pop_back();
        p->pkts.clear();  // frees the messages in the thread that allocated them
      } else {
        me.pool.push_back(std::make_unique<Pending>());
        p = me.pool.back().get();
      }
      p->pkts = std::move(s.packets());
      p->next = 0;
      p->owner = w;
      b.scene = p;
    }
    return b;
  }

  void consume() {
    const size_t nw = workers_.size();
    std::vector<std::vector<Pending*>> done(nw);
    for (uint64_t k = 0; k < opt_.calls; ++k) {
      Worker& wk = workers_[k % nw];
      Built b;
      {
        std::unique_lock lk(wk.mu);
        wk.cv_data.wait(lk, [&] { return !wk.queue.empty(); });
        b = std::move(wk.queue.front());
        wk.queue.pop_front();
        auto& d = done[k % nw];
        if (!d.empty()) {
          wk.free.insert(wk.free.end(), d.begin(), d.end());
          d.clear();
        }
      }
      wk.cv_space.notify_one();
      add(b.tally);
      if (b.scene) {
        heap_.push_back({b.scene->pkts.front().ts_us, k, b.scene});
        std::push_heap(heap_.begin(), heap_.end(), Later{});
      }
      drain(b.drain_before, done);
    }
    drain(INT64_MAX, done);
  }

  void add(const Tally& t) {
    ++sum_.calls;
    sum_.legs += t.legs;
    sum_.records += t.records;
    sum_.missed += t.missed;
    sum_.call_messages += t.call_messages;
    sum_.noise_messages += t.noise_messages;
    for (int i = 0; i < kOutcomes; ++i) sum_.by_outcome[size_t(i)] += t.by_outcome[size_t(i)];
  }

  void drain(int64_t before_us, std::vector<std::vector<Pending*>>& done) {
    while (!heap_.empty() && heap_.front().ts < before_us) {
      std::pop_heap(heap_.begin(), heap_.end(), Later{});
      HeapItem& it = heap_.back();
      Pending* pend = it.scene;
      const Packet& p = pend->pkts[pend->next++];
      out_.send(p.ts_us, nodes_[p.src], nodes_[p.dst], p.payload, p.corrupt, p.payload_sum,
                p.mirror_of_us);
      last_us_ = p.ts_us;
      if (pend->next < pend->pkts.size()) {
        it.ts = pend->pkts[pend->next].ts_us;
        std::push_heap(heap_.begin(), heap_.end(), Later{});
      } else {
        heap_.pop_back();
        done[static_cast<size_t>(pend->owner)].push_back(pend);
      }
    }
  }

  // Non-call traffic in [0, span_ms) of the scene, noise_ratio of the scene's messages.
  void noise(Scene& s, int64_t span_ms, Tally& t) {
    Rng& rng = s.rng();
    const double r = std::clamp(opt_.noise_ratio, 0.0, 0.99);
    // Stochastic rounding keeps the ratio exact on average without state across scenes.
    const double want = static_cast<double>(t.call_messages) * r / (1.0 - r);
    const auto target =
        static_cast<uint64_t>(want) +
        (rng.chance(want - static_cast<double>(static_cast<uint64_t>(want))) ? 1 : 0);
    const auto span = static_cast<uint64_t>(std::max<int64_t>(span_ms, 1));
    while (t.noise_messages < target) {
      const int64_t at = static_cast<int64_t>(rng.below(span));
      const uint64_t pick = rng.below(100);
      const uint32_t i = static_cast<uint32_t>(rng.below(ue_.size()));
      std::string id = rng.hex(20);
      id.append("@").append(s.ip(ue_[i]));
      if (pick < 70) {
        keepAlive(s, cast_.p, ue_[i], at, id);
        t.noise_messages += 2;
      } else if (pick < 90) {
        registration(s, ue_[i], cast_.p, numbers_[i], at, id);
        t.noise_messages += 4;
      } else {
        regEvent(s, ue_[i], cast_.p, numbers_[i], at, id);
        t.noise_messages += 4;
      }
    }
  }

  void call(Scene& s, int64_t t0, Tally& t) {
    Rng& rng = s.rng();
    uint64_t w = rng.below(static_cast<uint64_t>(weight_total_));
    const Kind* kind = &kinds().front();
    for (const Kind& k : kinds()) {
      if (w < static_cast<uint64_t>(k.weight)) {
        kind = &k;
        break;
      }
      w -= static_cast<uint64_t>(k.weight);
    }
    Cast c = cast_;
    const auto nue = static_cast<uint32_t>(ue_.size());
    const auto callee = static_cast<uint32_t>(rng.below(desks_));
    auto caller = static_cast<uint32_t>(rng.below(nue));
    if (caller == callee) caller = (caller + 1) % nue;
    auto other = static_cast<uint32_t>(rng.below(desks_));
    if (other == callee) other = (other + 1) % desks_;
    c.a = ue_[caller];
    c.b1 = ue_[callee];
    c.b2 = ue_[rng.below(nue)];
    c.c = ue_[other];
    c.x = ue_[rng.below(nue)];

    CallParams p;
    p.t0 = t0;
    p.call_id = rng.hex(24) + "@" + s.ip(c.a);
    p.call_id2 = rng.hex(24) + "@" + s.ip(c.p);
    p.icid = "pcscf1." + rng.hex(20);
    p.caller = numbers_[caller];
    p.caller_display = kNames[rng.below(10)];
    if (rng.chance(0.03)) p.privacy = "id";
    p.callee = numbers_[callee];
    const uint32_t ext = 1000 + callee;
    switch (rng.below(4)) {
      case 0:
        p.to_uri =
            ext < 2000 ? fmt::format("sip:{}@{}", ext, kDomain) : fmt::format("tel:{}", p.callee);
        break;
      case 1:
        p.to_uri = fmt::format("tel:{}", p.callee);
        break;
      case 2:
        p.to_uri = fmt::format("sip:0258300{:04d}@{};user=phone", ext, kDomain);
        break;
      default:
        p.to_uri = fmt::format("sip:{}@{};user=phone", p.callee, kDomain);
        break;
    }
    p.other = numbers_[other];
    p.ring_after = rng.between(300, 3000);
    p.ring_for = rng.between(1000, 30000);
    p.talk = rng.between(5000, 60000);
    const std::string_view kn = kind->name;
    if (kn == "busy") {
      p.ring_after = -1;
      p.ring_for = rng.between(50, 800);
      p.final_code = rng.chance(0.9) ? 486 : 600;
      p.final_phrase = p.final_code == 486 ? "Busy Here" : "Busy Everywhere";
    } else if (kn == "unavailable") {
      p.final_code = rng.chance(0.5) ? 480 : 408;
      p.final_phrase = p.final_code == 480 ? "Temporarily Unavailable" : "Request Timeout";
    } else if (kn == "declined") {
      p.final_code = 603;
      p.final_phrase = "Decline";
    } else if (kn == "failed") {
      p.ring_for = rng.between(10, 100);
      static const std::pair<int, const char*> kFails[] = {{404, "Not Found"},
                                                           {403, "Forbidden"},
                                                           {488, "Not Acceptable Here"},
                                                           {500, "Server Internal Error"},
                                                           {503, "Service Unavailable"}};
      const auto& f = kFails[rng.below(5)];
      p.final_code = f.first;
      p.final_phrase = f.second;
    } else if (kn == "busy_to_voicemail") {
      p.other = "+862583009999";
      p.ring_for = rng.between(50, 800);
    } else if (kn == "b2bua_forward") {
      p.other = fmt::format("+86138{:08d}", rng.below(100000000));
    } else if (kn == "redirect") {
      p.ring_for = rng.between(20, 200);
    } else if (kn == "auth_answered") {
      p.ring_after = std::max<int64_t>(p.ring_after, 100);
    }
    const size_t before = s.packets().size();
    kind->fn(s, c, p);
    t.call_messages += s.packets().size() - before;
    t.legs += static_cast<uint64_t>(kind->legs);
    for (const Rec& r : kind->records) {
      ++t.records;
      ++t.by_outcome[static_cast<size_t>(r.outcome)];
      if (r.missed) ++t.missed;
    }
  }

  MixOptions opt_;
  WireOptions wire_;
  FrameWriter& out_;
  std::vector<Node> nodes_;
  Cast cast_;
  std::vector<uint16_t> ue_;
  std::vector<std::string> numbers_;
  uint32_t desks_ = 0;
  int weight_total_ = 0;
  std::deque<Worker> workers_;
  // Consumer side.
  std::vector<HeapItem> heap_;
  int64_t last_us_ = 0;
  MixSummary sum_;
};

}  // namespace

std::string MixSummary::toJson() const {
  std::string o = "{";
  for (int i = 0; i < kOutcomes; ++i) {
    o += fmt::format("{}\"{}\":{}", i ? "," : "", kOutcomeNames[i],
                     by_outcome[static_cast<size_t>(i)]);
  }
  o += "}";
  return fmt::format(
      "{{\"calls\":{},\"legs\":{},\"records\":{},\"missed\":{},\"outcomes\":{},"
      "\"sip_messages\":{},\"call_messages\":{},\"noise_messages\":{},\"frames\":{},"
      "\"bytes\":{},\"first_us\":{},\"last_us\":{}}}",
      calls, legs, records, missed, o, call_messages + noise_messages, call_messages,
      noise_messages, frames, bytes, first_us, last_us);
}

MixSummary runMix(const MixOptions& opt, const WireOptions& wire, FrameWriter& out) {
  int threads = opt.threads;
  if (threads <= 0) {
    // One core merges and writes; the others build scenes.
    const unsigned hc = std::thread::hardware_concurrency();
    threads = static_cast<int>(std::clamp<unsigned>(hc > 1 ? hc - 1 : 1, 1, 4));
    if (hc == 2) threads = 2;
  }
  Mixer m(opt, wire, out, threads);
  return m.run();
}

}  // namespace mcn::gen
