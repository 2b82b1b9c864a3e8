// The durable outbox's cost per missed call (outbox.h): the four records of a call's life (call,
// note, gone, done: one write(2) each) plus the batched fdatasync, on the file system of the
// build directory (a real disk, not tmpfs). Arg: outbox_fsync_ms (0 = fdatasync every record).

#include <benchmark/benchmark.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "mcn/notifier/idempotency.h"
#include "mcn/notifier/outbox.h"

namespace {

using mcn::notifier::Notification;
using mcn::notifier::Outbox;

void BM_OutboxCallLife(benchmark::State& state) {
  const std::string path = "bench-outbox-" + std::to_string(::getpid()) + ".journal";
  auto clock = mcn::notifier::systemClock();
  {
    Outbox o(path, state.range(0), *clock);
    mcn::notifier::OutboxRecovered r;
    if (!o.open(r, nullptr)) {
      state.SkipWithError("cannot open the journal");
      return;
    }
    mcn::calls::CallRecord c;
    c.caller = "+8613900101230";
    c.callee = "+862583001013";
    c.outcome = mcn::calls::Outcome::kCancelled;
    c.missed = true;
    c.ring_ms = 9000;
    Notification n;
    n.person_id = "e1013";
    n.person_name = "Wang Fang";
    n.channel.id = "hook";
    n.channel.kind = mcn::subscribers::ChannelKind::kWebhook;
    n.channel.target = "https://hooks.example.net/mcn";
    n.title = "Missed calls (1)";
    n.text = "Wang Fang, you missed 1 call: +8613900101230 at 08:40, rang 9 s";
    uint64_t i = 0;
    for (auto _ : state) {
      c.call_id = "bench-" + std::to_string(++i) + "@ims.example.net";
      c.call_ids = {c.call_id};
      c.started_at_us = c.ended_at_us = static_cast<int64_t>(i);
      o.callIn(c, 0);
      n.calls = {c};
      n.idempotency_key = mcn::notifier::idempotencyKey(n.person_id, n.calls);
      o.produced(n);
      o.windowClosed(n.calls);
      o.finished(n);
      o.maybeSync();
    }
    uint64_t syncs = 0;
    o.forEachCounter([&](std::string_view k, uint64_t v) {
      if (k == "notify.outbox_syncs") syncs = v;
    });
    state.counters["syncs"] = static_cast<double>(syncs);
  }
  std::filesystem::remove(path);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_OutboxCallLife)->Arg(100)->Arg(0)->Unit(benchmark::kMicrosecond)->UseRealTime();

}  // namespace
