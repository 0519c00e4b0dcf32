#include "yurt/kube/leader_elector.hpp"

#include <exception>
#include <stdexcept>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/multiple_exceptions.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include "yurt/base/log.hpp"

#include "src/kube/json_util.hpp"

namespace yurt::kube {

namespace asio = boost::asio;
using json = nlohmann::json;

namespace {

// client-go's wait.Jitter factor for the acquire loop: attempts spread over
// [retry_period, 2.2 × retry_period) so contenders started together do not collide forever.
constexpr double kJitterFactor = 1.2;

spdlog::logger& logger() {
  return log::get("kube");
}

Timestamp now_micro(const Clock& clock) {
  return std::chrono::time_point_cast<std::chrono::microseconds>(clock.now());
}

Result<std::optional<Timestamp>> read_time(const json& spec, const char* field) {
  auto it = spec.find(field);
  if (it == spec.end() || it->is_null()) {
    return std::optional<Timestamp>();
  }
  if (!it->is_string()) {
    return fail(Errc::Malformed, std::string("lease spec.") + field + " is a " +
                                     std::string(json_util::type_name(*it)) + ", not a string");
  }
  auto t = parse_rfc3339(it->get_ref<const std::string&>());
  if (!t) {
    return fail(Errc::Malformed, std::string("lease spec.") + field + ": " + t.error().message());
  }
  return std::optional<Timestamp>(*t);
}

Result<std::int64_t> read_int(const json& spec, const char* field) {
  auto it = spec.find(field);
  if (it == spec.end() || it->is_null()) {
    return std::int64_t{0};
  }
  if (!it->is_number_integer()) {
    return fail(Errc::Malformed, std::string("lease spec.") + field + " is not an integer");
  }
  return it->get<std::int64_t>();
}

template <class T>
asio::awaitable<T> accept_all_cancellation(asio::awaitable<T> op) {
  // A side of an `||` race runs as its own coroutine that by default lets only terminal
  // cancellation through; a graceful (total) stop must reach our own waits too.
  co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());
  co_return co_await std::move(op);
}

// The void form (nothing to co_return).
asio::awaitable<void> accept_all_cancellation(asio::awaitable<void> op) {
  co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());
  co_await std::move(op);
}

// `op`, unless `limit` passes first (then nullopt, and `op` has been cancelled).
template <class T>
asio::awaitable<std::optional<T>> within(asio::awaitable<T> op,
                                         const SleepFunction& sleep,
                                         std::chrono::nanoseconds limit) {
  using namespace asio::experimental::awaitable_operators;
  // Named locals rather than prvalue awaitables as arguments (the style guide's GCC advice).
  auto slept = sleep(limit);
  auto work = accept_all_cancellation(std::move(op));
  auto timer = accept_all_cancellation(std::move(slept));
  auto result = co_await (std::move(work) || std::move(timer));
  if (result.index() == 0) {
    co_return std::get<0>(std::move(result));
  }
  co_return std::nullopt;
}

// Like accept_all_cancellation, but a cancellation ends `op` *normally*: an `||` waits for one
// side to succeed, and a side that only threw would leave the race waiting for the other.
asio::awaitable<void> end_quietly_on_cancel(asio::awaitable<void> op) {
  co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());
  try {
    co_await std::move(op);
  } catch (const boost::system::system_error& e) {
    if (e.code() != asio::error::operation_aborted) {
      throw;
    }
  }
}

// operation_aborted, also as the first of the exceptions of an `||` whose sides both threw.
bool is_cancellation(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const boost::system::system_error& error) {
    return error.code() == asio::error::operation_aborted;
  } catch (const asio::multiple_exceptions& both) {
    return is_cancellation(both.first_exception());
  } catch (...) {
    return false;
  }
}

asio::awaitable<void> wait_until_cancelled() {
  asio::steady_timer forever(co_await asio::this_coro::executor,
                             asio::steady_timer::time_point::max());
  co_await forever.async_wait(asio::as_tuple(asio::use_awaitable));
}

}  // namespace

// ---- record <-> Lease ----

Result<LeaderElectionRecord> record_from_lease(const json& lease) {
  if (!lease.is_object()) {
    return fail(Errc::Malformed, "lease: not a JSON object");
  }
  LeaderElectionRecord r;
  auto spec_it = lease.find("spec");
  if (spec_it == lease.end() || spec_it->is_null()) {
    return r;
  }
  if (!spec_it->is_object()) {
    return fail(Errc::Malformed, "lease spec is not an object");
  }
  const json& spec = *spec_it;
  if (auto h = spec.find("holderIdentity"); h != spec.end() && !h->is_null()) {
    if (!h->is_string()) {
      return fail(Errc::Malformed, "lease spec.holderIdentity is not a string");
    }
    r.holder_identity = h->get<std::string>();
  }
  auto duration = read_int(spec, "leaseDurationSeconds");
  if (!duration) {
    return duration.error();
  }
  r.lease_duration_seconds = *duration;
  auto transitions = read_int(spec, "leaseTransitions");
  if (!transitions) {
    return transitions.error();
  }
  r.lease_transitions = *transitions;
  auto acquire = read_time(spec, "acquireTime");
  if (!acquire) {
    return acquire.error();
  }
  r.acquire_time = *acquire;
  auto renew = read_time(spec, "renewTime");
  if (!renew) {
    return renew.error();
  }
  r.renew_time = *renew;
  return r;
}

void apply_record(json& lease, const LeaderElectionRecord& record) {
  json& spec = lease["spec"];
  if (!spec.is_object()) {
    spec = json::object();
  }
  if (record.holder_identity.empty()) {
    spec.erase("holderIdentity");
  } else {
    spec["holderIdentity"] = record.holder_identity;
  }
  spec["leaseDurationSeconds"] = record.lease_duration_seconds;
  if (record.acquire_time) {
    spec["acquireTime"] = format_rfc3339_micro(*record.acquire_time);
  } else {
    spec.erase("acquireTime");
  }
  if (record.renew_time) {
    spec["renewTime"] = format_rfc3339_micro(*record.renew_time);
  } else {
    spec.erase("renewTime");
  }
  spec["leaseTransitions"] = record.lease_transitions;
}

// ---- RestLeaseLock ----

RestLeaseLock::RestLeaseLock(RestClient& client, std::string namespace_name, std::string name)
    : client_(client), namespace_(std::move(namespace_name)), name_(std::move(name)) {}

asio::awaitable<Result<json>> RestLeaseLock::get() {
  co_return co_await client_.get(resources::leases(), namespace_, name_);
}

asio::awaitable<Result<json>> RestLeaseLock::create(json lease) {
  co_return co_await client_.create(resources::leases(), namespace_, std::move(lease));
}

asio::awaitable<Result<json>> RestLeaseLock::update(json lease) {
  co_return co_await client_.update(resources::leases(), namespace_, std::move(lease));
}

std::string RestLeaseLock::describe() const {
  return namespace_ + "/" + name_;
}

// ---- LeaderElectionConfig ----

Result<void> LeaderElectionConfig::validate() const {
  if (identity.empty()) {
    return fail(Errc::InvalidConfig, "leader election: identity must not be empty");
  }
  if (retry_period.count() <= 0) {
    return fail(Errc::InvalidConfig, "leader election: retryPeriod must be positive");
  }
  if (lease_duration <= renew_deadline) {
    return fail(Errc::InvalidConfig,
                "leader election: leaseDuration must be greater than renewDeadline");
  }
  if (static_cast<double>(renew_deadline.count()) <=
      kJitterFactor * static_cast<double>(retry_period.count())) {
    return fail(Errc::InvalidConfig,
                "leader election: renewDeadline must be greater than retryPeriod*1.2");
  }
  return {};
}

// ---- LeaderElector ----

std::string_view to_string(LeaderState state) noexcept {
  switch (state) {
    case LeaderState::Idle:
      return "Idle";
    case LeaderState::Acquiring:
      return "Acquiring";
    case LeaderState::Leading:
      return "Leading";
    case LeaderState::Releasing:
      return "Releasing";
    case LeaderState::Stopped:
      return "Stopped";
  }
  return "Unknown";
}

LeaderElector::LeaderElector(LeaseLock& lock,
                             LeaderElectionConfig config,
                             const Clock& clock,
                             SleepFunction sleep,
                             std::uint64_t seed)
    : lock_(lock),
      config_(std::move(config)),
      clock_(clock),
      sleep_(std::move(sleep)),
      random_(seed) {
  if (auto ok = config_.validate(); !ok) {
    throw std::invalid_argument(ok.error().message());
  }
}

json LeaderElector::new_lease(const LeaderElectionRecord& record) const {
  json lease = {{"apiVersion", "coordination.k8s.io/v1"},
                {"kind", "Lease"},
                {"metadata", {{"name", lock_.name()}, {"namespace", lock_.namespace_name()}}}};
  apply_record(lease, record);
  return lease;
}

void LeaderElector::observe(LeaderElectionRecord record, json lease) {
  observed_record_ = std::move(record);
  observed_lease_ = std::move(lease);
  observed_time_ = clock_.monotonic();
  const auto& holder = observed_record_.holder_identity;
  if (!holder.empty() && holder != reported_leader_) {
    reported_leader_ = holder;
    logger().info("lease {}: leader is now {}", lock_.describe(), holder);
    if (on_new_leader_) {
      on_new_leader_(holder);
    }
  }
}

bool LeaderElector::holds_lease() const {
  return observed_record_.holder_identity == config_.identity && !observed_lease_.is_null() &&
         clock_.monotonic() < observed_time_ + config_.lease_duration;
}

asio::awaitable<bool> LeaderElector::try_acquire_or_renew() {
  const Timestamp now = now_micro(clock_);
  LeaderElectionRecord desired;
  desired.holder_identity = config_.identity;
  desired.lease_duration_seconds = config_.lease_duration.count();
  desired.acquire_time = now;
  desired.renew_time = now;

  // Fast path: a leader whose lease is still valid updates the record it last saw (one request;
  // a 409 means someone changed it, and the slow path below finds out what).
  if (holds_lease()) {
    auto record = observed_record_;
    record.renew_time = now;
    record.lease_duration_seconds = desired.lease_duration_seconds;
    json lease = observed_lease_;
    apply_record(lease, record);
    auto updated = co_await lock_.update(std::move(lease));
    if (updated) {
      observe(std::move(record), std::move(*updated));
      co_return true;
    }
    logger().debug("lease {}: renewal on the observed record failed: {}", lock_.describe(),
                   updated.error().what());
  }

  auto current = co_await lock_.get();
  if (!current) {
    if (current.error() != make_error_code(Errc::NotFound)) {
      logger().warn("lease {}: get failed: {}", lock_.describe(), current.error().what());
      co_return false;
    }
    auto created = co_await lock_.create(new_lease(desired));
    if (!created) {
      logger().debug("lease {}: create failed: {}", lock_.describe(), created.error().what());
      co_return false;
    }
    observe(std::move(desired), std::move(*created));
    co_return true;
  }
  auto record = record_from_lease(*current);
  if (!record) {
    logger().warn("lease {}: {}", lock_.describe(), record.error().message());
    co_return false;
  }
  // Expiry runs from when *we* saw the record change, on our monotonic clock.
  if (*record != observed_record_ || observed_lease_.is_null()) {
    observe(*record, *current);
  } else {
    observed_lease_ = *current;  // same record, maybe a newer resourceVersion
  }
  const auto& holder = record->holder_identity;
  if (!holder.empty() && holder != config_.identity &&
      clock_.monotonic() < observed_time_ + std::chrono::seconds(record->lease_duration_seconds)) {
    co_return false;  // held by someone else and not expired
  }
  if (holder == config_.identity) {
    desired.acquire_time = record->acquire_time;
    desired.lease_transitions = record->lease_transitions;
  } else {
    desired.lease_transitions = record->lease_transitions + 1;
  }
  json lease = *current;  // carries the resourceVersion: a concurrent writer makes this a 409
  apply_record(lease, desired);
  auto updated = co_await lock_.update(std::move(lease));
  if (!updated) {
    logger().debug("lease {}: update failed: {}", lock_.describe(), updated.error().what());
    co_return false;
  }
  observe(std::move(desired), std::move(*updated));
  co_return true;
}

asio::awaitable<void> LeaderElector::acquire() {
  std::uniform_real_distribution<double> spread(0.0, 1.0);
  for (;;) {
    auto attempt = try_acquire_or_renew();
    auto ok = co_await within(std::move(attempt), sleep_, config_.renew_deadline);
    if (ok && *ok) {
      co_return;
    }
    const double factor = 1.0 + kJitterFactor * spread(random_);
    co_await sleep_(std::chrono::duration_cast<std::chrono::nanoseconds>(
        std::chrono::duration<double>(static_cast<double>(config_.retry_period.count()) * factor)));
  }
}

asio::awaitable<bool> LeaderElector::renew_within(std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    const auto remaining = deadline - clock_.monotonic();
    if (remaining <= std::chrono::steady_clock::duration::zero()) {
      co_return false;
    }
    auto attempt = try_acquire_or_renew();
    auto ok = co_await within(std::move(attempt), sleep_,
                              std::chrono::duration_cast<std::chrono::nanoseconds>(remaining));
    if (ok && *ok) {
      co_return true;
    }
    if (clock_.monotonic() + config_.retry_period >= deadline) {
      co_return false;  // no time left for another attempt
    }
    co_await sleep_(config_.retry_period);
  }
}

asio::awaitable<void> LeaderElector::renew_loop() {
  for (;;) {
    co_await sleep_(config_.retry_period);
    // (Not `if (!co_await …)`: GCC 12 lays out this frame wrongly with a co_await in a
    // condition.)
    const auto deadline = clock_.monotonic() + config_.renew_deadline;
    const bool renewed = co_await renew_within(deadline);
    if (!renewed) {
      logger().info("lease {}: could not renew within {} s; stepping down", lock_.describe(),
                    config_.renew_deadline.count());
      co_return;
    }
  }
}

asio::awaitable<void> LeaderElector::lead_then_return(LeaderCallbacks& callbacks) {
  if (callbacks.lead) {
    co_await callbacks.lead();
  } else {
    co_await wait_until_cancelled();
  }
}

asio::awaitable<void> LeaderElector::release() {
  if (observed_record_.holder_identity != config_.identity || observed_lease_.is_null()) {
    co_return;
  }
  const Timestamp now = now_micro(clock_);
  LeaderElectionRecord record;
  record.lease_duration_seconds = 1;  // client-go: successors see it expire at once
  record.acquire_time = now;
  record.renew_time = now;
  record.lease_transitions = observed_record_.lease_transitions;
  json lease = observed_lease_;
  apply_record(lease, record);
  auto update = lock_.update(std::move(lease));
  auto updated = co_await within(std::move(update), sleep_, config_.renew_deadline);
  if (!updated) {
    logger().warn("lease {}: release timed out", lock_.describe());
  } else if (!*updated) {
    logger().warn("lease {}: release failed: {}", lock_.describe(), updated->error().what());
  } else {
    logger().info("lease {}: released", lock_.describe());
    observe(std::move(record), std::move(**updated));
  }
}

asio::awaitable<void> LeaderElector::run(LeaderCallbacks callbacks) {
  using namespace asio::experimental::awaitable_operators;
  co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());
  on_new_leader_ = callbacks.on_new_leader;
  bool release_wanted = false;
  std::exception_ptr failure;
  state_ = LeaderState::Acquiring;
  try {
    co_await acquire();
    state_ = LeaderState::Leading;
    logger().info("lease {}: {} became leader", lock_.describe(), config_.identity);
    // When renewing ends (leadership lost) the group cancels `lead`. A cancellation of run()
    // reaches both sides with its own type; Boost 1.81's group forwards only the first request
    // it gets, so both sides accept a graceful (total) one instead of waiting for a terminal
    // one that would never come. Renewing ends *normally* when cancelled: the group waits for a
    // side to succeed.
    auto lead = lead_then_return(callbacks);
    auto leading = accept_all_cancellation(std::move(lead));
    auto renew = renew_loop();
    auto renewing = end_quietly_on_cancel(std::move(renew));
    auto ended = co_await (std::move(leading) || std::move(renewing));
    auto cs = co_await asio::this_coro::cancellation_state;
    release_wanted = ended.index() == 0 || cs.cancelled() != asio::cancellation_type::none;
  } catch (...) {
    if (is_cancellation(std::current_exception())) {
      release_wanted = true;
    } else {
      failure = std::current_exception();
    }
  }
  if (state_ == LeaderState::Leading) {
    state_ = LeaderState::Releasing;
    if (callbacks.on_stopped_leading) {
      callbacks.on_stopped_leading();
    }
    if (release_wanted && config_.release_on_cancel) {
      // We were asked to stop: do the release with a fresh cancellation state, bounded by
      // renew_deadline; a later terminal cancellation still cuts it short.
      co_await asio::this_coro::reset_cancellation_state();
      co_await release();
    }
  }
  state_ = LeaderState::Stopped;
  if (failure) {
    std::rethrow_exception(failure);
  }
}

}  // namespace yurt::kube
