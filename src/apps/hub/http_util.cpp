#include "src/apps/hub/http_util.hpp"

#include <algorithm>
#include <cctype>
#include <vector>

#include "yurt/base/strings.hpp"

namespace yurt::hub {
namespace {

constexpr std::string_view kJson = "application/json";

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

}  // namespace

std::string rewrite_accept(std::string_view accept) {
  std::vector<std::string> clauses;
  for (auto raw : split(accept, ',')) {
    auto clause = trim(raw);
    if (clause.empty()) {
      continue;
    }
    const auto semi = clause.find(';');
    const auto media = lower(trim(clause.substr(0, semi)));
    std::string out;
    if (media == "application/vnd.kubernetes.protobuf" || media == "application/cbor" ||
        media == "application/cbor-seq") {
      out = std::string(kJson);
      if (semi != std::string_view::npos) {
        for (auto param : split(clause.substr(semi + 1), ';')) {
          auto p = trim(param);
          const auto name = lower(trim(p.substr(0, p.find('='))));
          if (p.empty() || name == "stream") {
            continue;
          }
          out += ';';
          out += p;
        }
      }
    } else {
      out = std::string(clause);
    }
    if (std::find(clauses.begin(), clauses.end(), out) == clauses.end()) {
      clauses.push_back(std::move(out));
    }
  }
  if (clauses.empty()) {
    return std::string(kJson);
  }
  std::string joined;
  for (const auto& c : clauses) {
    if (!joined.empty()) {
      joined += ", ";
    }
    joined += c;
  }
  return joined;
}

bool is_hop_by_hop(std::string_view name, std::string_view connection) {
  static constexpr std::string_view kFields[] = {
      "connection", "keep-alive",          "proxy-connection", "proxy-authenticate",
      "te",         "proxy-authorization", "trailer",          "transfer-encoding",
      "upgrade"};
  for (auto f : kFields) {
    if (net::iequals(name, f)) {
      return true;
    }
  }
  return net::has_token(connection, name);
}

bool is_upgrade_request(const net::Headers& headers) {
  for (auto c : headers.get_all("Connection")) {
    if (net::has_token(c, "upgrade")) {
      return headers.contains("Upgrade");
    }
  }
  return false;
}

std::string component_of(std::string_view user_agent) {
  auto first = trim(user_agent.substr(0, user_agent.find('/')));
  return lower(first);
}

bool has_own_credentials(const net::Headers& headers) {
  return !trim(headers.get("Authorization")).empty();
}

net::Response status_response(const kube::Status& status) {
  net::Response r;
  r.status = status.code > 0 ? status.code : 500;
  r.headers.set("Content-Type", std::string(kJson));
  r.headers.set("Cache-Control", "no-cache, private");
  r.body = kube::status_body(status);
  return r;
}

bool is_json(std::string_view content_type) {
  auto media = lower(trim(content_type.substr(0, content_type.find(';'))));
  return media == kJson;
}

}  // namespace yurt::hub
