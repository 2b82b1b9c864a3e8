// The tracker's open-addressing index (calls/src/hash_index.h). Hashes are chosen by hand here,
// so collisions, probe runs that wrap around the end of the array and removals inside a run are
// forced rather than hoped for. Keys live outside the index, as in the tracker: an entry's item
// is the position of its key in `keys`.

#include "../../calls/src/hash_index.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <iterator>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "../../calls/src/call_state.h"

namespace mcn::calls::detail {
namespace {

class Keys {
 public:
  // A key with the hash the test gives it; returns its item.
  uint32_t add(uint64_t hash, std::string key) {
    keys_.push_back(std::move(key));
    const auto item = static_cast<uint32_t>(keys_.size() - 1);
    index_.insert(hash, /*slot=*/7, item);
    hashes_.push_back(hash);
    return item;
  }

  // The item found for `key` under `hash`, or -1.
  int64_t find(uint64_t hash, const std::string& key) {
    const HashIndex::Entry* e =
        index_.find(hash, [&](const HashIndex::Entry& x) { return keys_[x.item] == key; });
    return e == nullptr ? -1 : static_cast<int64_t>(e->item);
  }

  bool erase(uint32_t item) {
    HashIndex::Entry* e = index_.findExact(hashes_[item], 7, item);
    if (e == nullptr) return false;
    index_.erase(e);
    return true;
  }

  HashIndex& index() { return index_; }

 private:
  HashIndex index_;
  std::vector<std::string> keys_;
  std::vector<uint64_t> hashes_;
};

// "prefix" followed by n, built by appending (GCC 12 warns wrongly on "literal" + std::string).
std::string named(const char* prefix, uint32_t n) {
  std::string s(prefix);
  s += std::to_string(n);
  return s;
}

TEST(HashIndex, EmptyIndexFindsNothing) {
  HashIndex index;
  EXPECT_EQ(index.find(42, [](const HashIndex::Entry&) { return true; }), nullptr);
  EXPECT_EQ(index.findExact(42, 0, 0), nullptr);
  EXPECT_EQ(index.size(), 0u);
}

TEST(HashIndex, FindsWhatWasInsertedAndNothingElse) {
  Keys k;
  const uint32_t a = k.add(1001, "a84b4c76e66710@pc33.atlanta.example.com");
  const uint32_t b = k.add(2002, "f81d4fae-7dec-11d0-a765-00a0c91e6bf6@foo.bar.com");
  EXPECT_EQ(k.find(1001, "a84b4c76e66710@pc33.atlanta.example.com"), a);
  EXPECT_EQ(k.find(2002, "f81d4fae-7dec-11d0-a765-00a0c91e6bf6@foo.bar.com"), b);
  EXPECT_EQ(k.find(3003, "unknown@example.com"), -1);
  EXPECT_EQ(k.index().size(), 2u);
}

TEST(HashIndex, EqualHashesAreToldApartByTheKey) {
  Keys k;
  const uint32_t a = k.add(77, "call-a");
  const uint32_t b = k.add(77, "call-b");
  const uint32_t c = k.add(77, "call-c");
  EXPECT_EQ(k.find(77, "call-a"), a);
  EXPECT_EQ(k.find(77, "call-b"), b);
  EXPECT_EQ(k.find(77, "call-c"), c);
  EXPECT_EQ(k.find(77, "call-d"), -1);  // same hash, key not there: the run ends at a hole
}

TEST(HashIndex, HashZeroIsAnOrdinaryHash) {
  // 0 marks an empty place inside the index; a key whose hash is 0 must still be found.
  Keys k;
  const uint32_t z = k.add(0, "zero");
  const uint32_t o = k.add(1, "one");
  EXPECT_EQ(k.find(0, "zero"), z);
  EXPECT_EQ(k.find(1, "one"), o);
  EXPECT_TRUE(k.erase(z));
  EXPECT_EQ(k.find(0, "zero"), -1);
  EXPECT_EQ(k.find(1, "one"), o);
}

TEST(HashIndex, RemovingInsideAProbeRunKeepsTheRestFindable) {
  // Hashes 5, 5+64, 5+128 share home place 5 of the first 64-place array; 6 lives at home right
  // after them and is pushed along by the run. Removing from the front or middle of the run must
  // not hide the entries behind it.
  Keys k;
  const uint32_t a = k.add(5, "a");
  const uint32_t b = k.add(5 + 64, "b");
  const uint32_t c = k.add(6, "c");  // home 6, taken by b: goes to 7
  const uint32_t d = k.add(5 + 128, "d");
  ASSERT_EQ(k.index().capacity(), 64u);

  EXPECT_TRUE(k.erase(a));
  EXPECT_EQ(k.find(5 + 64, "b"), b);
  EXPECT_EQ(k.find(6, "c"), c);
  EXPECT_EQ(k.find(5 + 128, "d"), d);
  EXPECT_EQ(k.find(5, "a"), -1);

  EXPECT_TRUE(k.erase(c));
  EXPECT_EQ(k.find(5 + 64, "b"), b);
  EXPECT_EQ(k.find(5 + 128, "d"), d);

  EXPECT_TRUE(k.erase(b));
  EXPECT_EQ(k.find(5 + 128, "d"), d);
  EXPECT_FALSE(k.erase(b));  // already gone
  EXPECT_EQ(k.index().size(), 1u);
}

TEST(HashIndex, ProbeRunsWrapAroundTheEndOfTheArray) {
  // Home 63 is the last place of the 64-place array: the run goes on at places 0 and 1, where
  // an entry whose home is 0 then has to wait behind it.
  Keys k;
  const uint32_t a = k.add(63, "a");
  const uint32_t b = k.add(63 + 64, "b");   // place 0
  const uint32_t c = k.add(63 + 128, "c");  // place 1
  const uint32_t d = k.add(64, "d");        // home 0: place 2
  ASSERT_EQ(k.index().capacity(), 64u);
  EXPECT_EQ(k.find(63 + 128, "c"), c);
  EXPECT_EQ(k.find(64, "d"), d);

  EXPECT_TRUE(k.erase(a));  // b, c and d move back across the end
  EXPECT_EQ(k.find(63 + 64, "b"), b);
  EXPECT_EQ(k.find(63 + 128, "c"), c);
  EXPECT_EQ(k.find(64, "d"), d);
  EXPECT_TRUE(k.erase(b));
  EXPECT_EQ(k.find(63 + 128, "c"), c);
  EXPECT_EQ(k.find(64, "d"), d);
}

TEST(HashIndex, GrowsBeforeThreeQuartersFullAndKeepsEveryEntry) {
  // 64 places hold 48 entries (3/4); the 49th doubles the array. Every entry shares home 0, the
  // worst case: one run of the whole table.
  Keys k;
  for (uint32_t i = 0; i < 48; ++i) k.add(uint64_t{i} * 64, named("k", i));
  EXPECT_EQ(k.index().capacity(), 64u);
  k.add(48 * 64, "k48");
  EXPECT_EQ(k.index().capacity(), 128u);
  EXPECT_EQ(k.index().size(), 49u);
  for (uint32_t i = 0; i < 49; ++i) {
    EXPECT_EQ(k.find(uint64_t{i} * 64, named("k", i)), i) << i;
  }
}

TEST(HashIndex, ReusedPlacesNeverNeedARehash) {
  // Insert and remove far more entries than the array has places, a few alive at a time:
  // removals leave no tombstones, so the array stays at its first size.
  Keys k;
  std::vector<uint32_t> alive;
  for (uint32_t i = 0; i < 10000; ++i) {
    alive.push_back(k.add(uint64_t{i} * 2654435761u, named("call-", i)));
    if (alive.size() > 20) {
      ASSERT_TRUE(k.erase(alive.front()));
      alive.erase(alive.begin());
    }
  }
  EXPECT_EQ(k.index().capacity(), 64u);
  EXPECT_EQ(k.index().size(), 20u);
  for (uint32_t item : alive)
    EXPECT_EQ(k.find(uint64_t{item} * 2654435761u, named("call-", item)), item);
}

TEST(HashIndex, AgreesWithAnOrderedMapUnderMixedInsertsAndRemovals) {
  // Hashes drawn from 0..199 over up to 300 live keys: long runs, equal hashes, wrap-around,
  // growth and removals everywhere. After every step each key is where the model says.
  Keys k;
  std::map<std::string, uint32_t> model;  // live key -> item
  std::vector<uint64_t> hash_of;
  std::mt19937 rng(12345);  // fixed: the same run every time
  for (int step = 0; step < 4000; ++step) {
    const bool add = model.size() < 30 || (model.size() < 300 && rng() % 3 != 0);
    if (add) {
      const std::string key = named("key-", static_cast<uint32_t>(step));
      const uint64_t h = rng() % 200;
      const uint32_t item = k.add(h, key);
      hash_of.resize(item + 1);
      hash_of[item] = h;
      model[key] = item;
    } else {
      auto it = model.begin();
      std::advance(it, static_cast<long>(rng() % model.size()));
      ASSERT_TRUE(k.erase(it->second));
      model.erase(it);
    }
    if (step % 97 == 0 || step > 3900) {
      for (const auto& [key, item] : model) ASSERT_EQ(k.find(hash_of[item], key), item) << step;
    }
    ASSERT_EQ(k.index().size(), model.size());
    ASSERT_LE(k.index().size() * 4, k.index().capacity() * 3);
  }
}

// The hash the tracker feeds this index (calls/src/call_state.h hash64).
TEST(Hash64, ReadsOnlyItsOwnBytesAndEveryByteCounts) {
  // Each length from 1 to 64 in a buffer of exactly that size (the sanitizer build catches a
  // read past it); changing any single byte changes the hash, the same bytes elsewhere do not.
  EXPECT_EQ(hash64(std::string_view()), hash64(""));
  for (size_t n = 1; n <= 64; ++n) {
    std::string pattern;
    for (size_t i = 0; i < n; ++i) pattern += static_cast<char>('a' + (i * 7) % 26);
    std::vector<char> buf(pattern.begin(), pattern.end());  // exactly n bytes on the heap
    const std::vector<char> copy = buf;
    const uint64_t h = hash64(std::string_view(buf.data(), n));
    EXPECT_EQ(hash64(std::string_view(copy.data(), n)), h) << n;
    for (size_t i = 0; i < n; ++i) {
      buf[i] = static_cast<char>(buf[i] ^ 1);
      EXPECT_NE(hash64(std::string_view(buf.data(), n)), h) << "length " << n << " byte " << i;
      buf[i] = static_cast<char>(buf[i] ^ 1);
    }
  }
  EXPECT_NE(hash64("a84b4c76e66710@pc33.atlanta.example.com"),
            hash64("a84b4c76e66710@pc33.atlanta.example.co"));  // a prefix is another key
}

TEST(Hash64, SpreadsSimilarCallIdsOverTheIndexsHomePlaces) {
  // The index places an entry by the hash's low bits. 4096 Call-IDs differing only in a counter
  // must land on the 64 home places of the first array about evenly (64 each on average; a hash
  // that kept the counter's structure in its low bits would leave places empty or crowded).
  std::vector<int> per_home(64, 0);
  std::set<uint64_t> distinct;
  for (uint32_t i = 0; i < 4096; ++i) {
    std::string id = named("a84b4c76e66710-", i);
    id += "@192.0.2.4";
    const uint64_t h = hash64(id);
    distinct.insert(h);
    ++per_home[h & 63];
  }
  EXPECT_EQ(distinct.size(), 4096u);
  for (size_t home = 0; home < 64; ++home) {
    EXPECT_GE(per_home[home], 32) << home;
    EXPECT_LE(per_home[home], 100) << home;
  }
}

}  // namespace
}  // namespace mcn::calls::detail
