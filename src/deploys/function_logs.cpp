#include "deploys/function_logs.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace replideploy::deploys {

namespace {

// Rows per INSERT: 7 parameters each, well under SQLite's and libpq's limits.
constexpr std::size_t kRowsPerInsert = 200;

FunctionLogLine LineOf(const db::Row& r, std::string_view deploy_id,
                       std::string_view function_name) {
  FunctionLogLine l;
  l.deploy_id = std::string(deploy_id);
  l.function_name = std::string(function_name);
  l.seq = r.Int(0);
  l.ts = r.Int(1);
  l.stream = r.Text(2);
  l.request_id = r.Text(3);
  l.line = r.Text(4);
  return l;
}

// Stores one function's lines (all of `lines` share deploy and function) and numbers them.
Status AppendOne(db::Session& s, std::int64_t now, std::int64_t lines_kept,
                 const std::vector<FunctionLogLine*>& lines) {
  const FunctionLogLine& first = *lines.front();
  RD_TRY_STATUS(
      s.Exec("INSERT INTO function_log_heads (deploy_id, function_name, site_id, next_seq, "
             "updated_at) VALUES (?, ?, ?, 0, ?) ON CONFLICT (deploy_id, function_name) DO NOTHING",
             {first.deploy_id, first.function_name, first.site_id, now}));
  const auto n = static_cast<std::int64_t>(lines.size());
  // Takes the head's row lock until the transaction ends: batches commit in seq order.
  RD_TRY(db::Rows head, s.Exec("UPDATE function_log_heads SET next_seq = next_seq + ?, "
                               "updated_at = ? WHERE deploy_id = ? AND function_name = ? "
                               "RETURNING next_seq",
                               {n, now, first.deploy_id, first.function_name}));
  if (head.empty()) return MakeError(ErrorCode::kInternal, "function log head vanished");
  const std::int64_t next = head.rows.front().Int(0);
  std::int64_t seq = next - n;
  for (std::size_t from = 0; from < lines.size(); from += kRowsPerInsert) {
    const std::size_t to = std::min(lines.size(), from + kRowsPerInsert);
    std::string sql =
        "INSERT INTO function_logs (deploy_id, function_name, seq, ts, stream, request_id, line) "
        "VALUES ";
    db::Params params;
    params.reserve((to - from) * 7);
    for (std::size_t i = from; i < to; ++i) {
      FunctionLogLine& l = *lines[i];
      l.seq = seq++;
      sql += i == from ? "(?, ?, ?, ?, ?, ?, ?)" : ", (?, ?, ?, ?, ?, ?, ?)";
      params.insert(params.end(),
                    {l.deploy_id, l.function_name, l.seq, l.ts, l.stream, l.request_id, l.line});
    }
    RD_TRY_STATUS(s.Exec(sql, params));
  }
  if (next > lines_kept) {
    RD_TRY_STATUS(
        s.Exec("DELETE FROM function_logs WHERE deploy_id = ? AND function_name = ? AND seq < ?",
               {first.deploy_id, first.function_name, next - lines_kept}));
  }
  return {};
}

}  // namespace

Status FunctionLogStore::Append(std::vector<FunctionLogLine>& lines) {
  if (lines.empty()) return {};
  std::map<std::pair<std::string, std::string>, std::vector<FunctionLogLine*>> by_function;
  for (FunctionLogLine& l : lines) by_function[{l.deploy_id, l.function_name}].push_back(&l);
  const std::int64_t now = clock_.NowMillis();
  // Heads are locked in key order (the map's), so two processes' batches cannot deadlock.
  return db_.Transaction([&](db::Session& s) -> Status {
    for (const auto& [key, group] : by_function) {
      RD_TRY_STATUS(AppendOne(s, now, options_.lines_kept, group));
    }
    return {};
  });
}

Result<std::vector<FunctionLogLine>> FunctionLogStore::Read(std::string_view deploy_id,
                                                            std::string_view function_name,
                                                            std::int64_t from_seq, int limit) {
  RD_TRY(db::Rows rows,
         db_.Exec("SELECT seq, ts, stream, request_id, line FROM function_logs "
                  "WHERE deploy_id = ? AND function_name = ? AND seq >= ? ORDER BY seq LIMIT " +
                      std::to_string(std::max(limit, 0)),
                  {std::string(deploy_id), std::string(function_name), from_seq}));
  std::vector<FunctionLogLine> out;
  out.reserve(rows.rows.size());
  for (const auto& r : rows.rows) out.push_back(LineOf(r, deploy_id, function_name));
  return out;
}

Result<std::vector<FunctionLogLine>> FunctionLogStore::Tail(std::string_view deploy_id,
                                                            std::string_view function_name,
                                                            int limit) {
  RD_TRY(db::Rows rows,
         db_.Exec("SELECT seq, ts, stream, request_id, line FROM function_logs "
                  "WHERE deploy_id = ? AND function_name = ? ORDER BY seq DESC LIMIT " +
                      std::to_string(std::max(limit, 0)),
                  {std::string(deploy_id), std::string(function_name)}));
  std::vector<FunctionLogLine> out;
  out.reserve(rows.rows.size());
  for (auto it = rows.rows.rbegin(); it != rows.rows.rend(); ++it) {
    out.push_back(LineOf(*it, deploy_id, function_name));
  }
  return out;
}

Status FunctionLogStore::Prune() {
  const std::int64_t cutoff = clock_.NowMillis() - options_.retention.count();
  RD_TRY_STATUS(db_.Exec("DELETE FROM function_logs WHERE ts < ?", {cutoff}));
  RD_TRY_STATUS(db_.Exec("DELETE FROM function_log_heads WHERE updated_at < ?", {cutoff}));
  return {};
}

FunctionLogQueue::FunctionLogQueue(FunctionLogStore& store, const core::Clock& clock,
                                   Options options, StoredCallback on_stored)
    : store_(store),
      clock_(clock),
      options_(options),
      on_stored_(std::move(on_stored)),
      thread_([this](const std::stop_token& stop) { Loop(stop); }) {}

FunctionLogQueue::~FunctionLogQueue() {
  thread_.request_stop();
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  Flush();
}

void FunctionLogQueue::Push(FunctionLogLine line) {
  bool full_batch = false;
  {
    std::lock_guard lock(mu_);
    if (queued_.size() >= options_.capacity) {
      Dropped& d = dropped_[{line.deploy_id, line.function_name}];
      if (d.site_id.empty()) d.site_id = line.site_id;
      ++d.count;
      ++dropped_total_;
      return;
    }
    queued_.push_back(std::move(line));
    full_batch = queued_.size() == options_.batch;
  }
  if (full_batch) cv_.notify_all();
}

std::uint64_t FunctionLogQueue::DroppedCount() const {
  std::lock_guard lock(mu_);
  return dropped_total_;
}

void FunctionLogQueue::Flush() {
  std::lock_guard flush_lock(flush_mu_);
  std::vector<FunctionLogLine> lines;
  std::map<Key, Dropped> dropped;
  {
    std::lock_guard lock(mu_);
    lines.swap(queued_);
    dropped.swap(dropped_);
  }
  const std::int64_t now = clock_.NowMillis();
  for (auto& [key, d] : dropped) {
    lines.push_back({d.site_id, key.first, key.second, 0, now, "platform", "",
                     std::to_string(d.count) + " lines dropped (the log queue was full)"});
  }
  if (lines.empty()) return;
  std::vector<Key> touched;
  for (std::size_t from = 0; from < lines.size(); from += options_.batch) {
    const std::size_t to = std::min(lines.size(), from + options_.batch);
    std::vector<FunctionLogLine> batch(std::make_move_iterator(lines.begin() + from),
                                       std::make_move_iterator(lines.begin() + to));
    if (Status st = store_.Append(batch); !st.ok()) {
      spdlog::error("function logs: {} lines not stored: {}", batch.size(), st.error().message);
      continue;
    }
    for (const auto& l : batch) touched.emplace_back(l.deploy_id, l.function_name);
  }
  std::sort(touched.begin(), touched.end());
  touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
  if (on_stored_ && !touched.empty()) on_stored_(touched);
}

void FunctionLogQueue::Loop(const std::stop_token& stop) {
  while (!stop.stop_requested()) {
    {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, stop, options_.flush_interval,
                   [this] { return queued_.size() >= options_.batch; });
    }
    if (stop.stop_requested()) return;
    Flush();
  }
}

}  // namespace replideploy::deploys
