#pragma once
// The tracker's Call-ID and correlation-key tables: an open-addressing hash index with linear
// probing and backward-shift deletion (Knuth, TAOCP vol. 3, §6.4 Algorithm R), so a removal
// leaves no tombstone and every probe run stays correct without a rehash.
//
// An entry holds the key's full 64-bit hash and a reference (call slot, item: which leg or
// key of that call) to where the key itself is stored, in the call's own state (Leg::call_id,
// Call::keys). The key is kept once, an entry is 16 bytes with no allocation of its own, and a
// lookup walks one run of a contiguous array comparing hashes; the key is compared (through the
// caller's `matches`) only when the hash is equal, which for a 64-bit hash is almost only on a
// hit. It replaced std::unordered_map<std::string, uint32_t> (a node and a key string allocated
// per leg, a list walk per lookup), whose lookups were most of the tracker's cache misses.
//
// Bounded like the calls it indexes: one entry per leg or key of a live call, at most 3/4 of the
// array in use; the array doubles when needed and never shrinks, so it stays at the peak.

#include <cstddef>
#include <cstdint>
#include <vector>

namespace mcn::calls::detail {

class HashIndex {
 public:
  struct Entry {
    uint64_t hash = 0;  // 0 marks an empty place; a stored hash is never 0 (see stored())
    uint32_t slot = 0;  // the call
    uint32_t item = 0;  // which of the call's legs or keys holds the key
  };

  // The entry of the key hashed to `hash` for which matches(entry) confirms the key (the caller
  // compares its stored key), or nullptr. The returned entry's slot and item may be rewritten
  // (they do not decide its place); it stays valid until the next insert() or erase().
  template <typename Matches>
  Entry* find(uint64_t hash, Matches&& matches) {
    if (entries_.empty()) return nullptr;
    const uint64_t h = stored(hash);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      Entry& e = entries_[i];
      if (e.hash == h && matches(static_cast<const Entry&>(e))) return &e;
      if (e.hash == 0) return nullptr;
    }
  }

  // The entry (hash, slot, item) itself, or nullptr.
  Entry* findExact(uint64_t hash, uint32_t slot, uint32_t item) {
    return find(hash, [&](const Entry& e) { return e.slot == slot && e.item == item; });
  }

  // Adds an entry; the caller has checked that its key is not in the index.
  void insert(uint64_t hash, uint32_t slot, uint32_t item) {
    if ((size_ + 1) * 4 > entries_.size() * 3) grow();
    place(Entry{stored(hash), slot, item});
    ++size_;
  }

  // Removes an entry found by find() or findExact(); the entries after it in its probe run move
  // back so that none of them is left behind a hole.
  void erase(Entry* e) {
    size_t hole = static_cast<size_t>(e - entries_.data());
    for (size_t j = (hole + 1) & mask_; entries_[j].hash != 0; j = (j + 1) & mask_) {
      // Entry j may fill the hole unless its home lies cyclically in (hole, j].
      const size_t home = entries_[j].hash & mask_;
      if (((j - home) & mask_) >= ((j - hole) & mask_)) {
        entries_[hole] = entries_[j];
        hole = j;
      }
    }
    entries_[hole] = Entry{};
    --size_;
  }

  size_t size() const { return size_; }
  size_t capacity() const { return entries_.size(); }

 private:
  static constexpr size_t kMinCapacity = 64;

  static uint64_t stored(uint64_t hash) { return hash == 0 ? 1 : hash; }

  void place(const Entry& n) {
    size_t i = n.hash & mask_;
    while (entries_[i].hash != 0) i = (i + 1) & mask_;
    entries_[i] = n;
  }

  void grow() {
    std::vector<Entry> old = std::move(entries_);
    entries_.assign(old.empty() ? kMinCapacity : old.size() * 2, Entry{});
    mask_ = entries_.size() - 1;
    for (const Entry& e : old) {
      if (e.hash != 0) place(e);
    }
  }

  std::vector<Entry> entries_;  // a power of two in size, or empty
  size_t mask_ = 0;
  size_t size_ = 0;
};

}  // namespace mcn::calls::detail
