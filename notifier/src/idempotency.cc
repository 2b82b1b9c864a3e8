#include "mcn/notifier/idempotency.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cassert>

namespace mcn::notifier {

std::string sha256Hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  // One-shot digest: no context to leak. It only fails on allocation failure inside OpenSSL.
  const int ok = EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  assert(ok == 1 && len == 32);
  if (ok != 1) return std::string();
  return fmt::format("{:02x}", fmt::join(md, md + len, ""));
}

std::string idempotencyKey(std::string_view person_id, std::vector<std::string> call_ids) {
  std::sort(call_ids.begin(), call_ids.end());
  call_ids.erase(std::unique(call_ids.begin(), call_ids.end()), call_ids.end());
  std::string input(person_id);
  for (const auto& id : call_ids) {
    input.push_back('\n');
    input += id;
  }
  return sha256Hex(input).substr(0, 32);
}

std::string idempotencyKey(std::string_view person_id,
                           const std::vector<calls::CallRecord>& calls) {
  std::vector<std::string> ids;
  ids.reserve(calls.size());
  for (const auto& c : calls) ids.push_back(c.call_id);
  return idempotencyKey(person_id, std::move(ids));
}

}  // namespace mcn::notifier
