#include "builder/build_logs.hpp"

#include <spdlog/spdlog.h>

#include <chrono>

#include "deploys/env_vars.hpp"

namespace replideploy::builder {

Status BuildLogStore::Append(std::string_view deploy_id, const std::vector<LogLine>& lines) {
  if (lines.empty()) return {};
  std::string sql = "INSERT INTO build_logs (deploy_id, seq, ts, stream, line) VALUES ";
  db::Params params;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    sql += i == 0 ? "(?, ?, ?, ?, ?)" : ", (?, ?, ?, ?, ?)";
    params.insert(params.end(), {std::string(deploy_id), lines[i].seq, lines[i].ts, lines[i].stream,
                                 lines[i].line});
  }
  RD_TRY_STATUS(db_.Exec(sql, params));
  return {};
}

Result<std::vector<LogLine>> BuildLogStore::Read(std::string_view deploy_id, std::int64_t from_seq,
                                                 int limit) {
  std::string sql =
      "SELECT seq, ts, stream, line FROM build_logs WHERE deploy_id = ? AND seq >= ? "
      "ORDER BY seq";
  if (limit > 0) sql += " LIMIT " + std::to_string(limit);
  RD_TRY(db::Rows rows, db_.Exec(sql, {std::string(deploy_id), from_seq}));
  std::vector<LogLine> out;
  out.reserve(rows.rows.size());
  for (const auto& r : rows.rows) out.push_back({r.Int(0), r.Int(1), r.Text(2), r.Text(3)});
  return out;
}

Result<bool> BuildLogStore::HasLinesFrom(std::string_view deploy_id, std::int64_t from_seq) {
  RD_TRY(db::Rows rows, db_.Exec("SELECT COUNT(*) FROM build_logs WHERE deploy_id = ? AND seq >= ?",
                                 {std::string(deploy_id), from_seq}));
  return !rows.empty() && rows.rows.front().Int(0) > 0;
}

Result<std::int64_t> BuildLogStore::NextSeq(std::string_view deploy_id) {
  RD_TRY(db::Rows rows,
         db_.Exec("SELECT COALESCE(MAX(seq) + 1, 0) FROM build_logs WHERE deploy_id = ?",
                  {std::string(deploy_id)}));
  return rows.empty() ? 0 : rows.rows.front().Int(0);
}

BuildLogWriter::BuildLogWriter(BuildLogStore& store, std::string deploy_id,
                               std::function<void(const std::string&)> on_log)
    : store_(store), deploy_id_(std::move(deploy_id)), on_log_(std::move(on_log)) {
  auto next = store_.NextSeq(deploy_id_);
  if (next.ok()) {
    next_seq_ = *next;
  } else {
    // Numbered from 0: lines that collide with an earlier attempt's are lost (and said so).
    spdlog::error("deploy {}: cannot read its log's last line: {}", deploy_id_,
                  next.error().message);
  }
}

void BuildLogWriter::SetSecrets(std::vector<std::string> secrets) {
  std::lock_guard lock(mu_);
  secrets_ = std::move(secrets);
}

void BuildLogWriter::Line(std::string_view stream, std::int64_t ts, std::string_view text) {
  bool full = false;
  {
    std::lock_guard lock(mu_);
    pending_.push_back(
        {next_seq_++, ts, std::string(stream), deploys::MaskSecrets(text, secrets_)});
    full = pending_.size() >= 50;
  }
  if (full) Flush();
}

void BuildLogWriter::Info(std::string_view text) {
  Line("info",
       std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::system_clock::now().time_since_epoch())
           .count(),
       text);
}

void BuildLogWriter::Flush() {
  std::lock_guard flush_lock(flush_mu_);  // batches reach the table in order
  std::vector<LogLine> batch;
  {
    std::lock_guard lock(mu_);
    batch.swap(pending_);
  }
  if (batch.empty()) return;
  if (Status st = store_.Append(deploy_id_, batch); !st.ok()) {
    spdlog::error("deploy {}: cannot store log lines: {}", deploy_id_, st.error().message);
  }
  if (on_log_) on_log_(deploy_id_);
}

}  // namespace replideploy::builder
