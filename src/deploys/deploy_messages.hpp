// A deploy's summary messages (Deploy::messages), kept in the deploy_messages table: the part of
// DeployService that writes and reads them (deploys.cpp calls these; FillMessages is defined
// in deploy_messages.cpp).
#pragma once

#include <string>
#include <vector>

#include "core/result.hpp"
#include "db/database.hpp"
#include "deploys/deploys.hpp"

namespace replideploy::deploys {

// The first kMaxDeployMessages of `messages`, and one more saying how many were left out.
std::vector<DeployMessage> CapDeployMessages(std::vector<DeployMessage> messages);

// Inserts `messages` for a deploy that has none yet, in order, inside the caller's transaction.
Status StoreDeployMessages(db::Session& session, const std::string& deploy_id,
                           const std::vector<DeployMessage>& messages);

}  // namespace replideploy::deploys
