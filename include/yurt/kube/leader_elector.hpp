#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include "yurt/base/clock.hpp"
#include "yurt/base/result.hpp"
#include "yurt/kube/rest_client.hpp"
#include "yurt/kube/sleep.hpp"
#include "yurt/kube/time.hpp"

namespace yurt::kube {

/// The leader-election fields of a `coordination.k8s.io/v1` Lease's spec (client-go's
/// LeaderElectionRecord).
struct LeaderElectionRecord {
  std::string holder_identity;  ///< "" = nobody (released)
  std::int64_t lease_duration_seconds = 0;
  std::optional<Timestamp> acquire_time;  ///< MicroTime on the wire
  std::optional<Timestamp> renew_time;    ///< MicroTime on the wire
  std::int64_t lease_transitions = 0;

  friend bool operator==(const LeaderElectionRecord&, const LeaderElectionRecord&) = default;
};

/// Reads the record from a Lease object. Absent fields are zero/empty; fields of the wrong type
/// or unparsable times are Errc::Malformed.
[[nodiscard]] Result<LeaderElectionRecord> record_from_lease(const nlohmann::json& lease);

/// Writes `record` into `lease.spec` (other spec fields, e.g. strategy, are kept; empty
/// holder and absent times are written as absent).
void apply_record(nlohmann::json& lease, const LeaderElectionRecord& record);

/// Access to the one Lease an elector competes for (client-go's resourcelock.Interface). The seam
/// that lets the election logic be tested against an in-memory fake.
///
/// @par Thread Safety
/// Used from one executor, one call at a time.
/// @par Lifetime
/// Must outlive the elector's run().
/// @par Errors
/// get(): Errc::NotFound when there is no such Lease. create(): Errc::AlreadyExists when someone
/// was faster. update(): Errc::Conflict when `metadata.resourceVersion` is stale. Others as the
/// RestClient's.
class LeaseLock {
 public:
  virtual ~LeaseLock() = default;
  virtual boost::asio::awaitable<Result<nlohmann::json>> get() = 0;
  virtual boost::asio::awaitable<Result<nlohmann::json>> create(nlohmann::json lease) = 0;
  virtual boost::asio::awaitable<Result<nlohmann::json>> update(nlohmann::json lease) = 0;
  /// "namespace/name", for logs.
  [[nodiscard]] virtual std::string describe() const = 0;
  /// The object's namespace and name (a created Lease gets them).
  [[nodiscard]] virtual std::string namespace_name() const = 0;
  [[nodiscard]] virtual std::string name() const = 0;
};

/// A LeaseLock over a RestClient (`client` must outlive it).
class RestLeaseLock final : public LeaseLock {
 public:
  RestLeaseLock(RestClient& client, std::string namespace_name, std::string name);
  boost::asio::awaitable<Result<nlohmann::json>> get() override;
  boost::asio::awaitable<Result<nlohmann::json>> create(nlohmann::json lease) override;
  boost::asio::awaitable<Result<nlohmann::json>> update(nlohmann::json lease) override;
  [[nodiscard]] std::string describe() const override;
  [[nodiscard]] std::string namespace_name() const override { return namespace_; }
  [[nodiscard]] std::string name() const override { return name_; }

 private:
  RestClient& client_;
  std::string namespace_;
  std::string name_;
};

/// Timing and identity of an elector. Defaults are those of Kubernetes' own components
/// (component-base: 15 s / 10 s / 2 s).
struct LeaderElectionConfig {
  /// Unique per contender; conventionally "<hostname>_<uuid>".
  std::string identity;
  /// How long others wait, from when they saw the lease last change, before taking it over.
  std::chrono::seconds lease_duration{15};
  /// The leader steps down if it could not renew for this long; < lease_duration so it stops
  /// before anyone else may start.
  std::chrono::seconds renew_deadline{10};
  /// Between attempts (acquiring: plus up to 1.2× jitter, client-go's JitterFactor).
  std::chrono::seconds retry_period{2};
  /// On cancellation of run() while leading, hand the lease back (holder "", duration 1 s) so a
  /// successor need not wait out the lease (client-go's ReleaseOnCancel).
  bool release_on_cancel = true;

  /// identity non-empty; lease_duration > renew_deadline > 1.2 × retry_period > 0 (client-go's
  /// checks). Errors: Errc::InvalidConfig naming the rule.
  [[nodiscard]] Result<void> validate() const;
};

/// What the elector calls. Each may be empty.
struct LeaderCallbacks {
  /// Started when we become leader; cancelled when leadership is lost (terminal) or when run()
  /// is cancelled (with run()'s cancellation type: a graceful stop is a total one, which `lead`
  /// must honour or finish soon). If it returns, run() steps down (and releases, with
  /// release_on_cancel).
  std::function<boost::asio::awaitable<void>()> lead;
  /// After leading ended, for whatever reason (after `lead` has finished).
  std::function<void()> on_stopped_leading;
  /// Whenever the observed holder changes (to us as well), with its identity.
  std::function<void(const std::string& identity)> on_new_leader;
};

enum class LeaderState {
  Idle,       ///< run() not started
  Acquiring,  ///< trying every retry_period
  Leading,    ///< holding the lease, renewing
  Releasing,  ///< giving the lease back after cancellation
  Stopped,    ///< run() returned
};

[[nodiscard]] std::string_view to_string(LeaderState state) noexcept;

/// Lease-based leader election as client-go's leaderelection package:
///
/// - Acquire/renew (`try_acquire_or_renew`): GET the Lease (create it if absent); if someone
///   else holds it and it has not expired, give up for now; else PUT our record with the
///   resourceVersion we read — optimistic concurrency, so of two contenders racing for an
///   expired lease exactly one wins and the other gets 409 and tries again later. A leader
///   first tries a PUT on the record it observed last (one request instead of two).
/// - **Expiry is judged by our monotonic clock**: a lease held by someone else expires
///   lease_duration after the moment *we observed* its record change, never by comparing its
///   renewTime with our wall clock (clocks of different machines disagree).
/// - acquireTime/renewTime are written as MicroTime (RFC 3339, 6 digits); leaseTransitions grows
///   by one on each change of holder.
/// - The leader renews every retry_period; if no renewal succeeded for renew_deadline, it stops
///   leading (each attempt is itself bounded by the deadline, so a hung request cannot keep a
///   stale leader alive).
///
/// @par Thread Safety
/// Not thread-safe: everything on the executor of run().
/// @par Lifetime
/// `lock` and `clock` must outlive run().
class LeaderElector {
 public:
  /// @throws std::invalid_argument when config.validate() fails (a configuration error).
  LeaderElector(LeaseLock& lock,
                LeaderElectionConfig config,
                const Clock& clock,
                SleepFunction sleep,
                std::uint64_t seed);

  /// Acquires, leads (running callbacks.lead) and renews; returns when leadership was lost, when
  /// `lead` returned, or when cancelled (any type; then, if leading and release_on_cancel, the
  /// lease is released first, bounded by renew_deadline). Call at most once.
  boost::asio::awaitable<void> run(LeaderCallbacks callbacks);

  [[nodiscard]] LeaderState state() const noexcept { return state_; }
  [[nodiscard]] bool is_leader() const noexcept { return state_ == LeaderState::Leading; }
  /// The holder we saw last ("" when none or not yet known).
  [[nodiscard]] const std::string& observed_leader() const noexcept {
    return observed_record_.holder_identity;
  }
  [[nodiscard]] const LeaderElectionRecord& observed_record() const noexcept {
    return observed_record_;
  }

  /// One attempt (exposed for tests): true when we hold the lease afterwards.
  boost::asio::awaitable<bool> try_acquire_or_renew();

 private:
  boost::asio::awaitable<void> acquire();
  boost::asio::awaitable<void> renew_loop();
  boost::asio::awaitable<void> lead_then_return(LeaderCallbacks& callbacks);
  boost::asio::awaitable<void> release();
  boost::asio::awaitable<bool> renew_within(std::chrono::steady_clock::time_point deadline);
  void observe(LeaderElectionRecord record, nlohmann::json lease);
  [[nodiscard]] bool holds_lease() const;
  [[nodiscard]] nlohmann::json new_lease(const LeaderElectionRecord& record) const;

  LeaseLock& lock_;
  LeaderElectionConfig config_;
  const Clock& clock_;
  SleepFunction sleep_;
  std::mt19937_64 random_;
  LeaderState state_ = LeaderState::Idle;
  LeaderElectionRecord observed_record_;
  nlohmann::json observed_lease_;  // as last read or written (carries its resourceVersion)
  std::chrono::steady_clock::time_point observed_time_{};
  std::function<void(const std::string&)> on_new_leader_;
  std::string reported_leader_;
};

}  // namespace yurt::kube
