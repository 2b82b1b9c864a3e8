#pragma once
// Where the data path gets its Directory from. current() is cheap and never blocks on a store.

#include <functional>
#include <memory>
#include <string_view>

#include "mcn/subscribers/directory.h"

namespace mcn::subscribers {

class DirectorySource {
 public:
  virtual ~DirectorySource() = default;
  // The latest good snapshot (never null). Hold the pointer for as long as the data is used.
  virtual std::shared_ptr<const Directory> current() const = 0;
  // Stable counter names, fixed order, zeros included.
  virtual void forEachCounter(
      const std::function<void(std::string_view name, uint64_t value)>& fn) const = 0;
};

// A snapshot that never changes (the TOML file store, tests).
class StaticDirectorySource final : public DirectorySource {
 public:
  explicit StaticDirectorySource(std::shared_ptr<const Directory> dir) : dir_(std::move(dir)) {}
  std::shared_ptr<const Directory> current() const override { return dir_; }
  // subscribers.version, subscribers.people
  void forEachCounter(const std::function<void(std::string_view, uint64_t)>& fn) const override {
    fn("subscribers.version", dir_->version());
    fn("subscribers.people", dir_->people().size());
  }

 private:
  std::shared_ptr<const Directory> dir_;
};

}  // namespace mcn::subscribers
