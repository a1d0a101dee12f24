#include "deploys/deploy_messages.hpp"

#include <map>

namespace replideploy::deploys {

std::vector<DeployMessage> CapDeployMessages(std::vector<DeployMessage> messages) {
  if (messages.size() <= kMaxDeployMessages) return messages;
  const std::size_t more = messages.size() - kMaxDeployMessages;
  messages.resize(kMaxDeployMessages);
  DeployMessage last;
  last.title = "And " + std::to_string(more) + " more";
  last.description = "and " + std::to_string(more) + " more warning" + (more == 1 ? "" : "s") +
                     " not listed (only the first " + std::to_string(kMaxDeployMessages) +
                     " are kept)";
  messages.push_back(std::move(last));
  return messages;
}

Status StoreDeployMessages(db::Session& s, const std::string& deploy_id,
                           const std::vector<DeployMessage>& messages) {
  std::int64_t seq = 0;
  for (const DeployMessage& m : messages) {
    RD_TRY_STATUS(
        s.Exec("INSERT INTO deploy_messages (deploy_id, seq, kind, title, description, details, "
               "file_name, line_number) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
               {deploy_id, seq++, m.type, m.title, m.description, m.details, m.file, m.line}));
  }
  return {};
}

Status DeployService::FillMessages(std::vector<Deploy*> deploys) {
  std::erase_if(deploys, [](const Deploy* d) { return d->state != kStateReady; });
  if (deploys.empty()) return {};
  std::string sql =
      "SELECT deploy_id, kind, title, description, details, file_name, line_number "
      "FROM deploy_messages WHERE deploy_id IN (";
  db::Params ids;
  std::map<std::string, Deploy*> by_id;
  for (Deploy* d : deploys) {
    sql += ids.empty() ? "?" : ", ?";
    ids.emplace_back(d->id);
    by_id[d->id] = d;
  }
  sql += ") ORDER BY deploy_id, seq";
  RD_TRY(db::Rows rows, db_.Exec(sql, ids));
  for (const auto& r : rows.rows) {
    by_id.at(r.Text(0))->messages.push_back(
        DeployMessage{r.Text(1), r.Text(2), r.Text(3), r.Text(4), r.Text(5), r.Int(6)});
  }
  return {};
}

}  // namespace replideploy::deploys
