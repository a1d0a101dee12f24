#include "edge/shared_lru.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace replideploy::edge {
namespace {

std::shared_ptr<const std::string> Value(const std::string& s) {
  return std::make_shared<const std::string>(s);
}

TEST(SharedLru, KeepsWithinTheBudgetDroppingTheLeastRecentlyUsedFirst) {
  SharedLru<std::string> lru(10);
  lru.Insert("a", Value("A"), 4);
  lru.Insert("b", Value("B"), 4);
  ASSERT_NE(lru.Find("a"), nullptr);  // "a" is now the most recently used
  lru.Insert("c", Value("C"), 4);     // 12 > 10: "b" goes
  EXPECT_EQ(lru.Find("b"), nullptr);
  ASSERT_NE(lru.Find("a"), nullptr);
  EXPECT_EQ(*lru.Find("a"), "A");
  EXPECT_EQ(*lru.Find("c"), "C");
  EXPECT_EQ(lru.Size(), 2u);
}

TEST(SharedLru, TheFirstValueUnderAKeyStays) {
  SharedLru<std::string> lru(10);
  auto first = lru.Insert("k", Value("first"), 1);
  auto second = lru.Insert("k", Value("second"), 1);
  EXPECT_EQ(*first, "first");
  EXPECT_EQ(*second, "first") << "the one already kept is handed back";
  EXPECT_EQ(lru.Size(), 1u);
}

TEST(SharedLru, AValueOverTheWholeBudgetIsReturnedButNotKept) {
  SharedLru<std::string> lru(10);
  lru.Insert("small", Value("s"), 5);
  auto big = lru.Insert("big", Value("B"), 11);
  ASSERT_NE(big, nullptr);
  EXPECT_EQ(*big, "B");
  EXPECT_EQ(lru.Find("big"), nullptr);
  EXPECT_NE(lru.Find("small"), nullptr) << "nothing else was evicted for it";
}

TEST(SharedLru, AnEvictedValueStaysValidForItsHolder) {
  SharedLru<std::string> lru(1);
  auto held = lru.Insert("a", Value("kept by its holder"), 1);
  lru.Insert("b", Value("B"), 1);
  EXPECT_EQ(lru.Find("a"), nullptr);
  EXPECT_EQ(*held, "kept by its holder");
}

}  // namespace
}  // namespace replideploy::edge
