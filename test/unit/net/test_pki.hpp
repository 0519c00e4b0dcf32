#pragma once

// A throwaway certificate authority, built in memory with OpenSSL at test start (EC P-256 keys:
// fast to generate).

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace yurt::net::test {

struct IssuedCert {
  std::string cert_pem;
  std::string key_pem;
};

struct CertSpec {
  std::string common_name;
  std::vector<std::string> organizations;
  std::vector<std::string> dns_names;
  std::vector<std::string> ip_addresses;
  std::uint64_t serial = 2;
  bool server = true;  ///< serverAuth EKU
  bool client = true;  ///< clientAuth EKU
};

class TestPki {
 public:
  explicit TestPki(const std::string& ca_name = "yurt test CA");
  ~TestPki();
  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;

  [[nodiscard]] const std::string& ca_pem() const;
  [[nodiscard]] IssuedCert issue(const CertSpec& spec) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace yurt::net::test
