#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace replideploy::edge {

// A thread-safe least-recently-used map of shared immutable values by string key, bounded by the
// sum of the values' costs (bytes, or 1 per value to bound a count). A value taken out stays
// valid while it is held, also after it was evicted.
template <class Value>
class SharedLru {
 public:
  explicit SharedLru(std::uint64_t budget) : budget_(budget) {}

  // The value under `key`, now the most recently used; null when absent.
  std::shared_ptr<const Value> Find(const std::string& key) {
    std::lock_guard lock(mu_);
    auto it = index_.find(key);
    if (it == index_.end()) return nullptr;
    order_.splice(order_.begin(), order_, it->second);
    return it->second->value;
  }

  // Keeps `value` under `key` unless one is there already (the one kept is returned), then
  // evicts the least recently used values until the costs fit the budget. A value costing more
  // than the whole budget is returned but not kept.
  std::shared_ptr<const Value> Insert(const std::string& key, std::shared_ptr<const Value> value,
                                      std::uint64_t cost) {
    if (cost > budget_) return value;
    std::lock_guard lock(mu_);
    if (auto it = index_.find(key); it != index_.end()) return it->second->value;
    order_.push_front(Item{key, value, cost});
    index_.emplace(key, order_.begin());
    used_ += cost;
    while (used_ > budget_ && !order_.empty()) {
      used_ -= order_.back().cost;
      index_.erase(order_.back().key);
      order_.pop_back();
    }
    return value;
  }

  std::size_t Size() const {
    std::lock_guard lock(mu_);
    return index_.size();
  }

 private:
  struct Item {
    std::string key;
    std::shared_ptr<const Value> value;
    std::uint64_t cost = 0;
  };

  const std::uint64_t budget_;
  mutable std::mutex mu_;
  std::list<Item> order_;  // most recently used first
  std::unordered_map<std::string, typename std::list<Item>::iterator> index_;
  std::uint64_t used_ = 0;
};

}  // namespace replideploy::edge
