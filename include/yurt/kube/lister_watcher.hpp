#pragma once

#include <chrono>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "yurt/base/result.hpp"
#include "yurt/kube/rest_client.hpp"
#include "yurt/kube/watch.hpp"

namespace yurt::kube {

/// Where a Reflector gets a resource's objects from: a complete LIST and a WATCH from a
/// resourceVersion (client-go's ListerWatcher). The seam between the reflector's state machine
/// and the network: RestListerWatcher talks to an apiserver, FakeListerWatcher
/// (test/fakes/fake_lister_watcher.hpp) scripts events and 410s for tests.
///
/// @par Thread Safety
/// Implementations are used from one executor, one call at a time.
/// @par Lifetime
/// Must outlive the reflector that uses it; streams it returns may outlive it.
/// @par Errors
/// As the apiserver's: Errc::Gone when `resource_version` is too old (for list, an expired
/// continue token that could not be recovered), transport errors, Malformed bodies.
class ListerWatcher {
 public:
  virtual ~ListerWatcher() = default;

  /// Every object (all pages). `resource_version`: "" = most recent (consistent), "0" = any,
  /// "N" = not older than N.
  virtual boost::asio::awaitable<Result<ObjectList>> list(std::string resource_version) = 0;

  /// Events after `resource_version` (a list's or an event's RV), with bookmarks; the server
  /// ends the watch cleanly after `timeout`.
  virtual boost::asio::awaitable<Result<WatchStreamPtr>> watch(std::string resource_version,
                                                               std::chrono::seconds timeout) = 0;
};

/// A ListerWatcher over a RestClient for one resource, optionally in one namespace and with
/// label/field selectors. Lists page with `page_size` (client-go's pager: 500) via list_all;
/// watches ask for bookmarks.
class RestListerWatcher final : public ListerWatcher {
 public:
  /// `selection`: only label_selector, field_selector and limit (the page size; 0 = the
  /// client's default, 500) are used. `client` must outlive this object.
  RestListerWatcher(RestClient& client,
                    GroupVersionResource resource,
                    std::string namespace_name = {},
                    ListOptions selection = {});

  boost::asio::awaitable<Result<ObjectList>> list(std::string resource_version) override;
  boost::asio::awaitable<Result<WatchStreamPtr>> watch(std::string resource_version,
                                                       std::chrono::seconds timeout) override;

 private:
  RestClient& client_;
  GroupVersionResource resource_;
  std::string namespace_;
  ListOptions selection_;
};

}  // namespace yurt::kube
