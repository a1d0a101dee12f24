#include "sandbox/output_lines.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace replideploy::sandbox {
namespace {

TEST(LineSplitter, SplitsAcrossFeedsAndStripsCarriageReturn) {
  LineSplitter splitter(100);
  std::vector<std::string> lines;
  splitter.Feed("one\r\ntw", lines);
  splitter.Feed("o\n\nthr", lines);
  EXPECT_EQ(lines, (std::vector<std::string>{"one", "two", ""}));
  splitter.Finish(lines);
  EXPECT_EQ(lines, (std::vector<std::string>{"one", "two", "", "thr"}));
}

TEST(LineSplitter, CutsLongLinesIntoPiecesOfTheMaximum) {
  LineSplitter splitter(4);
  std::vector<std::string> lines;
  splitter.Feed("abcdefghij\nxy", lines);
  splitter.Feed("zw\n", lines);
  EXPECT_EQ(lines, (std::vector<std::string>{"abcd", "efgh", "ij", "xyzw"}));
}

TEST(LineSplitter, LineOfExactlyTheMaximumLeavesNoEmptyLine) {
  LineSplitter splitter(4);
  std::vector<std::string> lines;
  splitter.Feed("abcd", lines);
  splitter.Feed("\nef", lines);
  splitter.Finish(lines);
  EXPECT_EQ(lines, (std::vector<std::string>{"abcd", "ef"}));
}

TEST(LineSplitter, FinishWithNothingPendingAddsNothing) {
  LineSplitter splitter(8);
  std::vector<std::string> lines;
  splitter.Feed("a\n", lines);
  splitter.Finish(lines);
  EXPECT_EQ(lines, (std::vector<std::string>{"a"}));
}

}  // namespace
}  // namespace replideploy::sandbox
