#include "recent_messages.h"

#include <algorithm>

namespace mcn::app {

RecentMessages::RecentMessages(size_t max_messages, size_t max_bytes)
    : max_messages_(max_messages), max_bytes_(max_bytes) {}

void RecentMessages::evictOldest() {
  while (!order_.empty()) {
    auto [id, gen] = std::move(order_.front());
    order_.pop_front();
    auto it = legs_.find(id);
    if (it == legs_.end() || it->second.generation != gen) continue;  // gone already
    messages_ -= it->second.messages.size();
    bytes_ -= it->second.bytes;
    ++evicted_calls_;
    evicted_messages_ += it->second.messages.size();
    legs_.erase(it);
    return;
  }
}

void RecentMessages::add(std::string_view call_id, capture::SipPayload&& p) {
  const size_t size = p.bytes.size();
  std::lock_guard lock(mu_);
  if (max_messages_ == 0 || size > max_bytes_) {
    ++refused_;
    return;
  }
  auto it = legs_.find(call_id);
  if (it != legs_.end() && it->second.messages.size() >= kMaxPerCall) {
    ++refused_;
    return;
  }
  while (messages_ + 1 > max_messages_ || bytes_ + size > max_bytes_) {
    if (order_.empty()) break;
    evictOldest();
    it = legs_.find(call_id);  // may have been the one evicted
  }
  if (it == legs_.end()) {
    Leg leg;
    leg.generation = next_generation_++;
    leg.messages.reserve(kTypicalLeg);
    order_.emplace_back(std::string(call_id), leg.generation);
    it = legs_.emplace(std::string(call_id), std::move(leg)).first;
  }
  it->second.bytes += size;
  it->second.messages.push_back(std::move(p));
  ++messages_;
  bytes_ += size;
  // Stale entries (legs evicted, or re-created) are skipped lazily; keep them from piling up.
  if (order_.size() > 2 * legs_.size() + 64) {
    std::erase_if(order_, [&](const auto& e) {
      auto l = legs_.find(e.first);
      return l == legs_.end() || l->second.generation != e.second;
    });
  }
}

void RecentMessages::link(const std::vector<std::string>& call_ids) {
  if (call_ids.size() < 2) return;
  std::lock_guard lock(mu_);
  for (const auto& id : call_ids) {
    auto it = legs_.find(id);
    if (it == legs_.end()) continue;
    for (const auto& other : call_ids) {
      if (other != id &&
          std::find(it->second.linked.begin(), it->second.linked.end(), other) ==
              it->second.linked.end() &&
          it->second.linked.size() < 64) {
        it->second.linked.push_back(other);
      }
    }
  }
}

bool RecentMessages::collect(const std::string& call_id, std::vector<capture::SipPayload>& out,
                             std::vector<std::string>& legs) const {
  std::lock_guard lock(mu_);
  auto it = legs_.find(call_id);
  if (it == legs_.end()) return false;
  out.insert(out.end(), it->second.messages.begin(), it->second.messages.end());
  for (const auto& l : it->second.linked) {
    if (std::find(legs.begin(), legs.end(), l) == legs.end()) legs.push_back(l);
  }
  return true;
}

void RecentMessages::forEachCounter(
    const std::function<void(std::string_view, uint64_t)>& fn) const {
  std::lock_guard lock(mu_);
  fn("ladder.messages", messages_);
  fn("ladder.bytes", bytes_);
  fn("ladder.evicted_calls", evicted_calls_);
  fn("ladder.evicted_messages", evicted_messages_);
  fn("ladder.refused_messages", refused_);
}

}  // namespace mcn::app
