#include "yurt/certs/csr_object.hpp"

#include "yurt/base/strings.hpp"
#include "yurt/certs/certificate.hpp"
#include "yurt/certs/csr.hpp"
#include "yurt/kube/base64.hpp"

namespace yurt::certs {
namespace {

using nlohmann::json;

Error malformed(std::string message) {
  return fail(Errc::Malformed, std::move(message));
}

const char* type_name(const json& j) {
  return j.type_name();
}

// Optional string field: absent or null → "", other types → error.
Result<std::string> string_field(const json& object, const char* key, const std::string& path) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) {
    return std::string();
  }
  if (!it->is_string()) {
    return malformed(path + "." + key + " is a " + type_name(*it) + ", expected a string");
  }
  return it->get<std::string>();
}

Result<std::vector<std::string>> string_list(const json& object,
                                             const char* key,
                                             const std::string& path) {
  std::vector<std::string> out;
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) {
    return out;
  }
  if (!it->is_array()) {
    return malformed(path + "." + key + " is a " + type_name(*it) + ", expected an array");
  }
  for (const auto& item : *it) {
    if (!item.is_string()) {
      return malformed(path + "." + key + " has a " + type_name(item) + " item, expected strings");
    }
    out.push_back(item.get<std::string>());
  }
  return out;
}

// A []byte field: base64 of the bytes.
Result<std::string> bytes_field(const json& object, const char* key, const std::string& path) {
  auto text = string_field(object, key, path);
  if (!text) {
    return text.error();
  }
  auto bytes = kube::base64_decode(*text);
  if (!bytes) {
    return malformed(path + "." + key + ": " + bytes.error().message());
  }
  return bytes;
}

}  // namespace

Result<json> build_csr_object(const CsrObjectOptions& options) {
  if (options.signer_name.empty()) {
    return fail(Errc::InvalidArgument, "CSR object needs a signerName");
  }
  if (options.usages.empty()) {
    return fail(Errc::InvalidArgument, "CSR object needs at least one usage");
  }
  if (options.expiration && *options.expiration < kMinCsrExpiration) {
    return fail(Errc::InvalidArgument, "CSR expirationSeconds " +
                                           std::to_string(options.expiration->count()) +
                                           " is below the apiserver's minimum of 600");
  }
  if (options.name.empty() && options.generate_name.empty()) {
    return fail(Errc::InvalidArgument, "CSR object needs a name or a generateName");
  }
  if (auto request = parse_csr(options.request_pem); !request) {
    return Error(request.error().code(), "spec.request: " + request.error().message());
  }
  json usages = json::array();
  for (const Usage u : options.usages) {
    usages.push_back(std::string(to_string(u)));
  }
  json spec{{"request", kube::base64_encode(options.request_pem)},
            {"signerName", options.signer_name},
            {"usages", std::move(usages)}};
  if (options.expiration) {
    spec["expirationSeconds"] = options.expiration->count();
  }
  json metadata = json::object();
  if (!options.name.empty()) {
    metadata["name"] = options.name;
  } else {
    metadata["generateName"] = options.generate_name;
  }
  return json{{"apiVersion", "certificates.k8s.io/v1"},
              {"kind", "CertificateSigningRequest"},
              {"metadata", std::move(metadata)},
              {"spec", std::move(spec)}};
}

std::string_view to_string(CsrPhase p) noexcept {
  switch (p) {
    case CsrPhase::Pending:
      return "Pending";
    case CsrPhase::Approved:
      return "Approved";
    case CsrPhase::Issued:
      return "Issued";
    case CsrPhase::Denied:
      return "Denied";
    case CsrPhase::Failed:
      return "Failed";
  }
  return "Unknown";
}

Result<CsrStatus> csr_status(const json& csr) {
  if (!csr.is_object()) {
    return malformed("CSR object is a " + std::string(type_name(csr)) + ", expected an object");
  }
  CsrStatus out;
  const auto status = csr.find("status");
  if (status == csr.end() || status->is_null()) {
    return out;
  }
  if (!status->is_object()) {
    return malformed("CSR status is a " + std::string(type_name(*status)) + ", expected an object");
  }
  const json* approved = nullptr;
  const json* denied = nullptr;
  const json* failed = nullptr;
  if (const auto conditions = status->find("conditions");
      conditions != status->end() && !conditions->is_null()) {
    if (!conditions->is_array()) {
      return malformed("status.conditions is not an array");
    }
    for (const auto& condition : *conditions) {
      if (!condition.is_object()) {
        return malformed("status.conditions has a non-object item");
      }
      auto type = string_field(condition, "type", "status.conditions[]");
      auto state = string_field(condition, "status", "status.conditions[]");
      if (!type) {
        return type.error();
      }
      if (!state) {
        return state.error();
      }
      // client-go's WaitForCertificate looks at the type only; an explicit "False" is no vote.
      if (*state == "False") {
        continue;
      }
      if (*type == "Approved") {
        approved = &condition;
      } else if (*type == "Denied") {
        denied = &condition;
      } else if (*type == "Failed") {
        failed = &condition;
      }
    }
  }
  auto describe = [&](const json* condition, CsrPhase phase) -> Result<CsrStatus> {
    out.phase = phase;
    auto reason = string_field(*condition, "reason", "status.conditions[]");
    auto message = string_field(*condition, "message", "status.conditions[]");
    if (!reason) {
      return reason.error();
    }
    if (!message) {
      return message.error();
    }
    out.reason = std::move(*reason);
    out.message = std::move(*message);
    return out;
  };
  if (denied != nullptr) {
    return describe(denied, CsrPhase::Denied);
  }
  if (failed != nullptr) {
    return describe(failed, CsrPhase::Failed);
  }
  if (approved == nullptr) {
    return out;
  }
  auto certificate = bytes_field(*status, "certificate", "status");
  if (!certificate) {
    return certificate.error();
  }
  auto result = describe(approved, CsrPhase::Approved);
  if (!result || certificate->empty()) {
    return result;
  }
  if (auto certs = parse_certificates(*certificate); !certs) {
    return Error(certs.error().code(), "status.certificate: " + certs.error().message());
  }
  result->phase = CsrPhase::Issued;
  result->certificate_pem = std::move(*certificate);
  return result;
}

Result<CsrSpec> csr_spec(const json& csr) {
  if (!csr.is_object()) {
    return malformed("CSR object is a " + std::string(type_name(csr)) + ", expected an object");
  }
  CsrSpec out;
  if (const auto metadata = csr.find("metadata"); metadata != csr.end() && metadata->is_object()) {
    auto name = string_field(*metadata, "name", "metadata");
    if (!name) {
      return name.error();
    }
    out.name = std::move(*name);
  }
  const auto spec = csr.find("spec");
  if (spec == csr.end() || !spec->is_object()) {
    return malformed("CSR object has no spec");
  }
  auto request = bytes_field(*spec, "request", "spec");
  if (!request) {
    return request.error();
  }
  auto signer = string_field(*spec, "signerName", "spec");
  if (!signer) {
    return signer.error();
  }
  auto usages = string_list(*spec, "usages", "spec");
  if (!usages) {
    return usages.error();
  }
  auto username = string_field(*spec, "username", "spec");
  if (!username) {
    return username.error();
  }
  auto uid = string_field(*spec, "uid", "spec");
  if (!uid) {
    return uid.error();
  }
  auto groups = string_list(*spec, "groups", "spec");
  if (!groups) {
    return groups.error();
  }
  if (request->empty()) {
    return malformed("spec.request is missing or empty");
  }
  if (signer->empty()) {
    return malformed("spec.signerName is missing or empty");
  }
  out.request_pem = std::move(*request);
  out.signer_name = std::move(*signer);
  out.usages = std::move(*usages);
  out.username = std::move(*username);
  out.uid = std::move(*uid);
  out.groups = std::move(*groups);
  if (const auto exp = spec->find("expirationSeconds"); exp != spec->end() && !exp->is_null()) {
    if (!exp->is_number_integer() || exp->get<std::int64_t>() < 0) {
      return malformed("spec.expirationSeconds is not a non-negative integer");
    }
    out.expiration = std::chrono::seconds(exp->get<std::int64_t>());
  }
  return out;
}

}  // namespace yurt::certs
