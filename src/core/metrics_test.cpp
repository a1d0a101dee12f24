#include "core/metrics.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "core/metrics_testing.hpp"

namespace replideploy::core::metrics {
namespace {

TEST(Metrics, CounterAndGaugeRenderWithHelpTypeAndLabels) {
  Registry registry;
  Counter& a = registry.GetCounter("rd_things_total", "Things seen.", {{"kind", "a"}});
  Counter& b = registry.GetCounter("rd_things_total", "Things seen.", {{"kind", "b"}});
  // The same name and labels are the same series.
  EXPECT_EQ(&a, &registry.GetCounter("rd_things_total", "Things seen.", {{"kind", "a"}}));
  a.Add();
  a.Add(2);
  b.Add();
  registry.GetGauge("rd_level", "A level.").Set(2.5);
  EXPECT_EQ(registry.Render(),
            "# HELP rd_level A level.\n"
            "# TYPE rd_level gauge\n"
            "rd_level 2.5\n"
            "# HELP rd_things_total Things seen.\n"
            "# TYPE rd_things_total counter\n"
            "rd_things_total{kind=\"a\"} 3\n"
            "rd_things_total{kind=\"b\"} 1\n");
}

TEST(Metrics, HistogramBucketsAreCumulativeWithInfSumAndCount) {
  Registry registry;
  Histogram& h = registry.GetHistogram("rd_latency_seconds", "Latency.", {0.1, 1}, {{"r", "x"}});
  h.Observe(0.05);
  h.Observe(0.1);  // on the bound: counted in le="0.1"
  h.Observe(0.5);
  h.Observe(7);
  EXPECT_EQ(registry.Render(),
            "# HELP rd_latency_seconds Latency.\n"
            "# TYPE rd_latency_seconds histogram\n"
            "rd_latency_seconds_bucket{r=\"x\",le=\"0.1\"} 2\n"
            "rd_latency_seconds_bucket{r=\"x\",le=\"1\"} 3\n"
            "rd_latency_seconds_bucket{r=\"x\",le=\"+Inf\"} 4\n"
            "rd_latency_seconds_sum{r=\"x\"} 7.65\n"
            "rd_latency_seconds_count{r=\"x\"} 4\n");
}

TEST(Metrics, LabelValuesAndHelpAreEscaped) {
  EXPECT_EQ(EscapeLabelValue("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
  Registry registry;
  registry.GetCounter("rd_x_total", "line one\nback\\slash", {{"site", "we\"ird"}}).Add();
  EXPECT_EQ(registry.Render(),
            "# HELP rd_x_total line one\\nback\\\\slash\n"
            "# TYPE rd_x_total counter\n"
            "rd_x_total{site=\"we\\\"ird\"} 1\n");
}

TEST(Metrics, FormatValue) {
  EXPECT_EQ(FormatValue(3), "3");
  EXPECT_EQ(FormatValue(-2), "-2");
  EXPECT_EQ(FormatValue(0.25), "0.25");
  EXPECT_EQ(FormatValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatValue(std::numeric_limits<double>::quiet_NaN()), "NaN");
}

TEST(Metrics, CallbackGaugeIsReadAtRenderAndCanBeRemoved) {
  Registry registry;
  int reads = 0;
  const auto id = registry.AddCallbackGauge("rd_depth", "Depth.", {{"state", "queued"}},
                                            [&]() -> std::optional<double> { return ++reads; });
  registry.AddCallbackGauge("rd_depth", "Depth.", {{"state", "broken"}},
                            []() -> std::optional<double> { return std::nullopt; });
  EXPECT_NE(registry.Render().find("rd_depth{state=\"queued\"} 1\n"), std::string::npos);
  const std::string second = registry.Render();
  EXPECT_NE(second.find("rd_depth{state=\"queued\"} 2\n"), std::string::npos) << second;
  // A series that cannot be read is left out of the scrape.
  EXPECT_EQ(second.find("broken"), std::string::npos) << second;
  registry.RemoveCallback(id);
  EXPECT_EQ(registry.Render().find("queued"), std::string::npos);
  EXPECT_EQ(reads, 2);
}

TEST(Metrics, ACallbackIsReadWithoutTheRegistryLock) {
  // A read that makes a series (as a slow database read may while the edge makes a site's
  // series): it would deadlock if the registry were locked around reads.
  Registry registry;
  registry.AddCallbackGauge("rd_depth", "Depth.", {}, [&]() -> std::optional<double> {
    registry.GetCounter("rd_made_total", "Made during a scrape.").Add();
    return 4;
  });
  registry.GetGauge("rd_zz", "After.").Set(1);
  const std::string text = registry.Render();
  EXPECT_EQ(text,
            "# HELP rd_depth Depth.\n# TYPE rd_depth gauge\nrd_depth 4\n"
            "# HELP rd_zz After.\n# TYPE rd_zz gauge\nrd_zz 1\n");
  EXPECT_NE(registry.Render().find("rd_made_total 1\n"), std::string::npos);
}

TEST(Metrics, TypeMismatchIsAProgrammingError) {
  Registry registry;
  registry.GetCounter("rd_a", "A.");
  EXPECT_THROW(registry.GetGauge("rd_a", "A."), std::logic_error);
}

TEST(Metrics, CountsFromManyThreadsAddUp) {
  Registry registry;
  Counter& c = registry.GetCounter("rd_n_total", "N.");
  Histogram& h = registry.GetHistogram("rd_h", "H.", {1});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        c.Add();
        h.Observe(0.5);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.Value(), 40000u);
  const Histogram::Snapshot s = h.Read();
  EXPECT_EQ(s.count, 40000u);
  EXPECT_EQ(s.cumulative.front(), 40000u);
  EXPECT_DOUBLE_EQ(s.sum, 20000);
}

TEST(Metrics, RequestMetricsCountByStatusClass) {
  Registry registry;
  RequestMetrics requests(registry, "edge");
  requests.Record(200, 0.002);
  requests.Record(204, 0.002);
  requests.Record(404, 0.3);
  requests.Record(999, 0.3);  // out of range: 5xx
  const std::string text = registry.Render();
  EXPECT_NE(
      text.find("replideploy_http_request_duration_seconds_count{role=\"edge\",code=\"2xx\"} 2\n"),
      std::string::npos)
      << text;
  EXPECT_NE(
      text.find("replideploy_http_request_duration_seconds_count{role=\"edge\",code=\"4xx\"} 1\n"),
      std::string::npos);
  EXPECT_NE(
      text.find("replideploy_http_request_duration_seconds_count{role=\"edge\",code=\"5xx\"} 1\n"),
      std::string::npos);
  EXPECT_NE(text.find("replideploy_http_request_duration_seconds_bucket{role=\"edge\",code=\"2xx\","
                      "le=\"0.0025\"} 2\n"),
            std::string::npos);
}

TEST(Metrics, SiteSeriesAreBounded) {
  // The process's registry: the first kMaxSites sites get series, the rest share "_other".
  SiteRequests& first = SiteRequestsFor("bounded-0");
  EXPECT_EQ(&first, &SiteRequestsFor("bounded-0"));
  for (std::size_t i = 1; i < kMaxSites + 10; ++i) SiteRequestsFor("bounded-" + std::to_string(i));
  SiteRequests& late = SiteRequestsFor("bounded-late");
  EXPECT_EQ(&late, &SiteRequestsFor("another-late-site"));
  late.Count(503);
  const std::string text = Default().Render();
  EXPECT_NE(text.find("replideploy_edge_site_requests_total{site=\"_other\",code=\"5xx\"} 1\n"),
            std::string::npos);
  EXPECT_EQ(text.find("bounded-late"), std::string::npos);
  EXPECT_NE(text.find("process_start_time_seconds "), std::string::npos);
}

TEST(Metrics, RenderIsValidExpositionText) {
  Registry registry;
  registry.GetCounter("rd_a_total", "A \\ b\nc.", {{"site", "x\"y\\z\nw"}, {"code", "2xx"}}).Add(3);
  registry.GetCounter("rd_a_total", "A.", {{"site", "other"}, {"code", "5xx"}});
  registry.GetGauge("rd_g", "G.").Set(-1.5);
  registry.AddCallbackGauge("rd_cb", "Cb.", {{"state", "queued"}},
                            []() -> std::optional<double> { return 7; });
  Histogram& h = registry.GetHistogram("rd_h_seconds", "H.", LatencyBuckets(), {{"role", "api"}});
  registry.GetHistogram("rd_h_seconds", "H.", LatencyBuckets(), {{"role", "edge"}}).Observe(99);
  h.Observe(0.0001);
  h.Observe(0.3);
  RequestMetrics requests(registry, "edge");
  requests.Record(200, 0.01);
  const std::string text = registry.Render();
  EXPECT_EQ(testing::CheckExposition(text), "") << text;
}

// The checker the binary tests read /metrics with: each of these breaks the format.
TEST(Metrics, ExpositionCheckerRefusesBrokenText) {
  const std::string good =
      "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\"} 2\n"
      "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3.5\nh_count 2\n";
  EXPECT_EQ(testing::CheckExposition(good), "");
  for (const std::string& bad : {
           std::string("a_total 1"),                             // no final newline
           std::string("1a 1\n"),                                // bad metric name
           std::string("a{1x=\"v\"} 1\n"),                       // bad label name
           std::string("a{x=\"v} 1\n"),                          // unterminated value
           std::string("a{x=\"\\t\"} 1\n"),                      // bad escape
           std::string("a{x=\"1\",x=\"2\"} 1\n"),                // label twice
           std::string("a one\n"),                               // bad value
           std::string("a\n"),                                   // no value
           std::string("a 1\na 2\n"),                            // series twice
           std::string("a 1\nb 1\na{x=\"1\"} 1\n"),              // family split
           std::string("# TYPE a counter\n# TYPE a counter\n"),  // TYPE twice
           std::string("# TYPE a kounter\n"),                    // unknown type
           std::string("a 1\n# TYPE a counter\n"),               // TYPE after samples
           std::string("# TYPE a counter\na -1\n"),              // negative counter
           std::string("# TYPE h histogram\nh_bucket 1\nh_sum 1\nh_count 1\n"),  // no le
           std::string("# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n"),
           std::string("# TYPE h histogram\nh_bucket{le=\"2\"} 2\nh_bucket{le=\"1\"} 2\n"
                       "h_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 2\n"),
           std::string("# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\n"
                       "h_sum 1\nh_count 1\n"),
           std::string("# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n"),
           std::string("# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_count 2\n"),
       }) {
    EXPECT_NE(testing::CheckExposition(bad), "") << bad;
  }
}

}  // namespace
}  // namespace replideploy::core::metrics
