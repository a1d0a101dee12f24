#include "core/metrics.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <stdexcept>
#include <unordered_map>

namespace replideploy::core::metrics {

namespace {

constexpr std::array<std::string_view, 5> kStatusClasses = {"1xx", "2xx", "3xx", "4xx", "5xx"};

std::string_view TypeName(int type) {
  switch (type) {
    case 0:
      return "counter";
    case 1:
      return "gauge";
    default:
      return "histogram";
  }
}

// `{a="x",b="y"}` with `extra` (le="...") last; "" without any label.
std::string RenderLabels(const Labels& labels, std::string_view extra_name = {},
                         std::string_view extra_value = {}) {
  if (labels.empty() && extra_name.empty()) return {};
  std::string out = "{";
  bool first = true;
  for (const auto& [name, value] : labels) {
    if (!first) out += ',';
    first = false;
    out += name;
    out += "=\"";
    out += EscapeLabelValue(value);
    out += '"';
  }
  if (!extra_name.empty()) {
    if (!first) out += ',';
    out += extra_name;
    out += "=\"";
    out += extra_value;
    out += '"';
  }
  out += '}';
  return out;
}

// HELP text escapes only \ and newline.
std::string EscapeHelp(std::string_view help) {
  std::string out;
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_([&] {
        std::sort(bounds.begin(), bounds.end());
        bounds.erase(std::unique(bounds.begin(), bounds.end()), bounds.end());
        return std::move(bounds);
      }()),
      counts_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size() + 1)) {}

void Histogram::Observe(double value) {
  // A handful of bounds: a linear scan beats a binary search's branches.
  std::size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) ++i;
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::Read() const {
  Snapshot s;
  s.bounds = bounds_;
  std::uint64_t running = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    running += counts_[i].load(std::memory_order_relaxed);
    s.cumulative.push_back(running);
  }
  s.count = running;
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

std::vector<double> LatencyBuckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

std::vector<double> BuildDurationBuckets() {
  return {5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600};
}

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    return fmt::format("{}", static_cast<long long>(value));
  }
  return fmt::format("{}", value);
}

Registry::Series& Registry::FindOrAdd(std::string_view name, std::string_view help, Type type,
                                      const Labels& labels, bool& added) {
  added = false;
  auto it = families_.find(name);
  if (it == families_.end()) {
    it = families_.emplace(std::string(name), Family{std::string(help), type, {}}).first;
  } else if (it->second.type != type) {
    throw std::logic_error("metric " + std::string(name) + " registered with another type");
  }
  for (auto& series : it->second.series) {
    if (series->labels == labels && series->callback_id == 0) return *series;
  }
  auto& series = it->second.series.emplace_back(std::make_unique<Series>());
  series->labels = labels;
  added = true;
  return *series;
}

Counter& Registry::GetCounter(std::string_view name, std::string_view help, const Labels& labels) {
  std::lock_guard lock(mu_);
  bool added = false;
  Series& s = FindOrAdd(name, help, Type::kCounter, labels, added);
  if (added) s.counter = std::make_unique<Counter>();
  return *s.counter;
}

Gauge& Registry::GetGauge(std::string_view name, std::string_view help, const Labels& labels) {
  std::lock_guard lock(mu_);
  bool added = false;
  Series& s = FindOrAdd(name, help, Type::kGauge, labels, added);
  if (added) s.gauge = std::make_unique<Gauge>();
  if (!s.gauge) throw std::logic_error("metric " + std::string(name) + " is a callback gauge");
  return *s.gauge;
}

Histogram& Registry::GetHistogram(std::string_view name, std::string_view help,
                                  std::vector<double> bounds, const Labels& labels) {
  std::lock_guard lock(mu_);
  bool added = false;
  Series& s = FindOrAdd(name, help, Type::kHistogram, labels, added);
  if (added) s.histogram = std::make_unique<Histogram>(std::move(bounds));
  return *s.histogram;
}

std::uint64_t Registry::AddCallbackGauge(std::string_view name, std::string_view help,
                                         const Labels& labels,
                                         std::function<std::optional<double>()> read) {
  std::lock_guard lock(mu_);
  auto it = families_.find(name);
  if (it == families_.end()) {
    it = families_.emplace(std::string(name), Family{std::string(help), Type::kGauge, {}}).first;
  } else if (it->second.type != Type::kGauge) {
    throw std::logic_error("metric " + std::string(name) + " registered with another type");
  }
  auto& series = it->second.series.emplace_back(std::make_unique<Series>());
  series->labels = labels;
  series->callback_id = next_callback_id_++;
  series->read = std::move(read);
  return series->callback_id;
}

void Registry::RemoveCallback(std::uint64_t id) {
  std::lock_guard callbacks(callbacks_mu_);
  std::lock_guard lock(mu_);
  for (auto& [name, family] : families_) {
    std::erase_if(family.series, [id](const auto& s) { return s->callback_id == id; });
  }
}

std::string Registry::Render() const {
  // The text is made under mu_ except for callback gauges: their lines are left as gaps,
  // filled in once mu_ is released (a read may query the database).
  struct Gap {
    std::size_t at;      // offset in `out`
    std::string prefix;  // name{labels}
    const std::function<std::optional<double>()>* read;
  };
  std::lock_guard callbacks(callbacks_mu_);
  std::vector<Gap> gaps;
  std::string out;
  {
    std::lock_guard lock(mu_);
    for (const auto& [name, family] : families_) {
      if (family.series.empty()) continue;
      out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, EscapeHelp(family.help), name,
                         TypeName(static_cast<int>(family.type)));
      for (const auto& series : family.series) {
        if (series->counter) {
          out += fmt::format("{}{} {}\n", name, RenderLabels(series->labels),
                             series->counter->Value());
        } else if (series->gauge) {
          out += fmt::format("{}{} {}\n", name, RenderLabels(series->labels),
                             FormatValue(series->gauge->Value()));
        } else if (series->read) {
          // The series stays (callbacks_mu_ keeps RemoveCallback out), so does its function.
          gaps.push_back({out.size(), name + RenderLabels(series->labels), &series->read});
        } else if (series->histogram) {
          const Histogram::Snapshot s = series->histogram->Read();
          for (std::size_t i = 0; i < s.cumulative.size(); ++i) {
            const std::string le = i < s.bounds.size() ? FormatValue(s.bounds[i]) : "+Inf";
            out += fmt::format("{}_bucket{} {}\n", name, RenderLabels(series->labels, "le", le),
                               s.cumulative[i]);
          }
          out +=
              fmt::format("{}_sum{} {}\n", name, RenderLabels(series->labels), FormatValue(s.sum));
          out += fmt::format("{}_count{} {}\n", name, RenderLabels(series->labels), s.count);
        }
      }
    }
  }
  if (gaps.empty()) return out;
  std::string filled;
  std::size_t from = 0;
  for (const Gap& gap : gaps) {
    filled.append(out, from, gap.at - from);
    from = gap.at;
    if (const std::optional<double> value = (*gap.read)()) {
      filled += fmt::format("{} {}\n", gap.prefix, FormatValue(*value));
    }
  }
  filled.append(out, from, std::string::npos);
  return filled;
}

Registry& Default() {
  // Never destroyed: threads may still count while the process exits.
  static Registry* registry = [] {
    auto* r = new Registry();
    const double start =
        std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    r->GetGauge("process_start_time_seconds",
                "Start time of the process since the Unix epoch in seconds.")
        .Set(std::floor(start));
    return r;
  }();
  return *registry;
}

int StatusClassIndex(int status) {
  if (status < 100 || status > 599) return 4;
  return status / 100 - 1;
}

RequestMetrics::RequestMetrics(Registry& registry, std::string_view role) {
  for (std::size_t i = 0; i < kStatusClasses.size(); ++i) {
    by_class_[i] = &registry.GetHistogram(
        "replideploy_http_request_duration_seconds",
        "HTTP requests by role and status class: time from the request's first byte to the end "
        "of the answer (the _count is the number of requests).",
        LatencyBuckets(), {{"role", std::string(role)}, {"code", std::string(kStatusClasses[i])}});
  }
}

void RequestMetrics::Record(int status, double seconds) {
  by_class_[StatusClassIndex(status)]->Observe(seconds);
}

RequestMetrics& RoleRequests(std::string_view role) {
  static std::mutex mu;
  static auto* roles = new std::map<std::string, std::unique_ptr<RequestMetrics>, std::less<>>();
  std::lock_guard lock(mu);
  auto it = roles->find(role);
  if (it == roles->end()) {
    it = roles->emplace(std::string(role), std::make_unique<RequestMetrics>(Default(), role)).first;
  }
  return *it->second;
}

SiteRequests::SiteRequests(Registry& registry, std::string_view site) {
  for (std::size_t i = 0; i < kStatusClasses.size(); ++i) {
    by_class_[i] = &registry.GetCounter(
        "replideploy_edge_site_requests_total",
        "Requests the edge answered for a site, by status class (sites past the first 500 seen "
        "share site=\"_other\").",
        {{"site", std::string(site)}, {"code", std::string(kStatusClasses[i])}});
  }
}

void SiteRequests::Count(int status) { by_class_[StatusClassIndex(status)]->Add(); }

SiteRequests& SiteRequestsFor(std::string_view site) {
  static std::mutex mu;
  static auto* sites =
      new std::unordered_map<std::string, std::unique_ptr<SiteRequests>>();  // never freed
  std::lock_guard lock(mu);
  const std::string key = sites->size() >= kMaxSites && !sites->contains(std::string(site))
                              ? std::string("_other")
                              : std::string(site);
  auto it = sites->find(key);
  if (it == sites->end()) {
    it = sites->emplace(key, std::make_unique<SiteRequests>(Default(), key)).first;
  }
  return *it->second;
}

}  // namespace replideploy::core::metrics
