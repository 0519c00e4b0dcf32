// The kube client against a real apiserver: the cluster of the e2e harness
// (docs/e2e-harness.md). Needs KUBECONFIG; fault injection (killing kube-apiserver, compacting
// etcd) also needs E2E_NAME, and only touches the cluster whose admin.conf KUBECONFIG is.
// Without them the tests skip with the reason; with YURT_E2E_REQUIRED=1 they fail instead.

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include "yurt/base/clock.hpp"
#include "yurt/kube/informer.hpp"
#include "yurt/kube/kubeconfig.hpp"
#include "yurt/kube/leader_elector.hpp"
#include "yurt/kube/lister_watcher.hpp"
#include "yurt/kube/resource_version.hpp"
#include "yurt/kube/rest_client.hpp"
#include "yurt/kube/sleep.hpp"

#include "test/unit/kube/async_util.hpp"

#include <sys/wait.h>
#include <unistd.h>

namespace yurt::kube {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;
namespace asio = boost::asio;

net::Request get_request(std::string target) {
  net::Request r;
  r.target = std::move(target);
  return r;
}
using test::Task;
using SteadyClock = std::chrono::steady_clock;

bool required() {
  const char* v = std::getenv("YURT_E2E_REQUIRED");  // NOLINT(concurrency-mt-unsafe)
  return v != nullptr && std::string(v) == "1";
}

std::string env(const char* name) {
  const char* v = std::getenv(name);  // NOLINT(concurrency-mt-unsafe)
  return v == nullptr ? std::string() : std::string(v);
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

struct Shell {
  int status = -1;
  std::string out;
};

// Runs argv through /bin/sh (quoted), capturing stdout; stderr goes to the test log.
Shell run_command(const std::vector<std::string>& argv) {
  std::string command;
  for (const auto& a : argv) {
    command += shell_quote(a) + " ";
  }
  Shell result;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) {
    return result;
  }
  char buf[4096];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) {
    result.out.append(buf, n);
  }
  const int status = ::pclose(pipe);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

// `cluster.sh exec master-node -- args…` for our own cluster (E2E_NAME from the environment).
Shell on_master(std::vector<std::string> args) {
  std::vector<std::string> argv = {YURT_E2E_CLUSTER_SH, "exec", "master-node", "--"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv);
}

std::string unique_suffix() {
  std::random_device rd;
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string s;
  for (int i = 0; i < 6; ++i) {
    s += kAlphabet[rd() % 36];
  }
  return s;
}

json config_map(const std::string& ns,
                const std::string& name,
                const json& data = json::object(),
                const json& labels = json::object()) {
  json meta = {{"name", name}, {"namespace", ns}};
  if (!labels.empty()) {
    meta["labels"] = labels;
  }
  return {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", meta}, {"data", data}};
}

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (env("KUBECONFIG").empty()) {
      if (required()) {
        FAIL() << "YURT_E2E_REQUIRED=1 but KUBECONFIG is not set; bring a cluster up with "
                  "test/e2e/cluster.sh up and eval \"$(test/e2e/cluster.sh env)\"";
      }
      GTEST_SKIP() << "KUBECONFIG is not set: no cluster to run against (see "
                      "docs/e2e-harness.md)";
    }
    auto config = RestConfig::from_env(process_env());
    ASSERT_TRUE(config) << config.error().what();
    config_ = *config;
    client_ = make_client();
    ASSERT_TRUE(wait_ready(120s)) << "the apiserver at " << config_.server << " is not ready";
    namespace_ = "kc-" + unique_suffix();
    json ns = {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", namespace_}}}};
    auto created = run(client_->create(resources::namespaces(), "", ns));
    ASSERT_TRUE(created) << created.error().what();
  }

  void TearDown() override {
    if (client_ && !namespace_.empty()) {
      // Deleting the namespace deletes everything the test made (asynchronously).
      (void)run(client_->remove(resources::namespaces(), "", namespace_));
    }
  }

  // The fault-injection tests run only against the harness cluster KUBECONFIG points at.
  void require_harness() {
    const auto name = env("E2E_NAME");
    const auto dir = env("E2E_DIR").empty() ? "/var/lib/" + name + "-e2e" : env("E2E_DIR");
    std::string why;
    if (name.empty()) {
      why = "E2E_NAME is not set (eval \"$(E2E_NAME=<name> test/e2e/cluster.sh env)\")";
    } else if (std::filesystem::path(env("KUBECONFIG")) !=
               std::filesystem::path(dir) / "admin.conf") {
      why = "KUBECONFIG is not " + dir + "/admin.conf of harness cluster " + name;
    } else if (::geteuid() != 0) {
      why = "fault injection into the harness needs root";
    }
    if (!why.empty()) {
      if (required()) {
        FAIL() << why;
      }
      GTEST_SKIP() << why;
    }
  }

  std::unique_ptr<RestClient> make_client() {
    auto made = RestClient::create(io_.get_executor(), config_);
    EXPECT_TRUE(made) << made.error().what();
    return made ? std::move(*made) : nullptr;
  }

  template <class T>
  T run(asio::awaitable<T> coro, std::chrono::milliseconds deadline = 120s) {
    return test::run(io_, std::move(coro), deadline);
  }

  // Runs the io_context (informers, electors) until `done` or `deadline`.
  bool drive_until(const std::function<bool()>& done, std::chrono::milliseconds deadline) {
    const auto until = SteadyClock::now() + deadline;
    while (!done()) {
      if (SteadyClock::now() >= until) {
        return false;
      }
      io_.restart();
      io_.run_for(50ms);
    }
    return true;
  }

  void drive_for(std::chrono::milliseconds d) {
    drive_until([] { return false; }, d);
  }

  bool wait_ready(std::chrono::milliseconds deadline) {
    const auto until = SteadyClock::now() + deadline;
    while (SteadyClock::now() < until) {
      auto r = run(client_->raw(get_request("/readyz")), 10s);
      if (r && r->status == 200) {
        return true;
      }
      drive_for(1s);
    }
    return false;
  }

  // SIGKILLs the running kube-apiserver container on master-node; the kubelet restarts the
  // static pod. Returns the killed container's id.
  std::string kill_apiserver() {
    const std::string script =
        "for id in $(ctr -n k8s.io containers ls -q "
        "'labels.\"io.kubernetes.container.name\"==kube-apiserver'); do "
        "  if ctr -n k8s.io tasks ls | awk '$3==\"RUNNING\"{print $1}' | grep -qx \"$id\"; then "
        "    ctr -n k8s.io tasks kill -s SIGKILL \"$id\" >/dev/null && echo \"$id\"; "
        "  fi; "
        "done";
    auto r = on_master({"sh", "-c", script});
    EXPECT_EQ(r.status, 0);
    std::string id = r.out.substr(0, r.out.find('\n'));
    EXPECT_FALSE(id.empty()) << "no running kube-apiserver container found";
    return id;
  }

  // POSTs a JSON body to etcd's gRPC gateway on the master, with the apiserver's etcd client
  // certificate.
  Shell etcd_gateway(const std::string& method, const std::string& body) {
    return on_master({"curl", "-sS", "--fail", "--cacert", "/etc/kubernetes/pki/etcd/ca.crt",
                      "--cert", "/etc/kubernetes/pki/apiserver-etcd-client.crt", "--key",
                      "/etc/kubernetes/pki/apiserver-etcd-client.key", "-X", "POST", "-d", body,
                      "https://127.0.0.1:2379/v3/" + method});
  }

  // Compacts etcd (physically) at its current revision; returns that revision.
  std::uint64_t compact_etcd() {
    auto range = etcd_gateway("kv/range", R"({"key":"AA=="})");
    EXPECT_EQ(range.status, 0) << range.out;
    auto header = json::parse(range.out, nullptr, false);
    EXPECT_TRUE(header.is_object()) << range.out;
    const std::string revision = header.value("/header/revision"_json_pointer, std::string());
    EXPECT_FALSE(revision.empty()) << range.out;
    auto compacted =
        etcd_gateway("kv/compaction", json{{"revision", revision}, {"physical", true}}.dump());
    EXPECT_EQ(compacted.status, 0) << compacted.out;
    return revision.empty() ? 0 : std::stoull(revision);
  }

  // Writes the key "yurt-test/bump", outside /registry: it only advances etcd's revision.
  void bump_etcd_revision() {
    auto put = etcd_gateway("kv/put", R"({"key":"eXVydC10ZXN0L2J1bXA=","value":"MQ=="})");
    EXPECT_EQ(put.status, 0) << put.out;
  }

  // name → resourceVersion of the namespace's ConfigMaps, as the server has them now.
  std::map<std::string, std::string> server_state() {
    auto list = run(client_->list_all(resources::config_maps(), namespace_));
    EXPECT_TRUE(list) << list.error().what();
    std::map<std::string, std::string> out;
    if (list) {
      for (const auto& item : list->items) {
        out[*object_key(item)] = resource_version_of(item);
      }
    }
    return out;
  }

  asio::io_context io_;
  RestConfig config_;
  std::unique_ptr<RestClient> client_;
  std::string namespace_;
};

// ---- CRUD ----

TEST_F(ClusterTest, ConfigMapCrud) {
  const auto cms = resources::config_maps();
  auto created =
      run(client_->create(cms, namespace_, config_map(namespace_, "crud", {{"a", "1"}})));
  ASSERT_TRUE(created) << created.error().what();
  const auto rv1 = resource_version_of(*created);
  EXPECT_FALSE(rv1.empty());

  auto again = run(client_->create(cms, namespace_, config_map(namespace_, "crud")));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error(), make_error_code(Errc::AlreadyExists)) << again.error().what();

  auto got = run(client_->get(cms, namespace_, "crud"));
  ASSERT_TRUE(got) << got.error().what();
  EXPECT_EQ((*got)["data"]["a"], "1");

  json changed = *got;
  changed["data"]["a"] = "2";
  auto updated = run(client_->update(cms, namespace_, changed));
  ASSERT_TRUE(updated) << updated.error().what();
  EXPECT_EQ((*updated)["data"]["a"], "2");
  EXPECT_NE(resource_version_of(*updated), rv1);

  // The same update again carries the old resourceVersion: optimistic concurrency says no.
  auto stale = run(client_->update(cms, namespace_, changed));
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error(), make_error_code(Errc::Conflict)) << stale.error().what();

  auto merged =
      run(client_->patch(cms, namespace_, "crud", PatchType::Merge, R"({"data":{"b":"merge"}})"));
  ASSERT_TRUE(merged) << merged.error().what();
  auto strategic = run(client_->patch(cms, namespace_, "crud", PatchType::Strategic,
                                      R"({"metadata":{"labels":{"via":"strategic"}}})"));
  ASSERT_TRUE(strategic) << strategic.error().what();
  auto jsonpatch = run(client_->patch(cms, namespace_, "crud", PatchType::Json,
                                      R"([{"op":"replace","path":"/data/a","value":"3"}])"));
  ASSERT_TRUE(jsonpatch) << jsonpatch.error().what();
  EXPECT_EQ((*jsonpatch)["data"], (json{{"a", "3"}, {"b", "merge"}}));
  EXPECT_EQ((*jsonpatch)["metadata"]["labels"]["via"], "strategic");

  auto bad_patch = run(client_->patch(cms, namespace_, "crud", PatchType::Json,
                                      R"([{"op":"replace","path":"/nope/x","value":"3"}])"));
  ASSERT_FALSE(bad_patch);

  ASSERT_TRUE(
      run(client_->create(cms, namespace_, config_map(namespace_, "other", {}, {{"team", "x"}}))));
  ListOptions by_label;
  by_label.label_selector = *LabelSelector::parse("team=x");
  auto labelled = run(client_->list(cms, namespace_, by_label));
  ASSERT_TRUE(labelled) << labelled.error().what();
  ASSERT_EQ(labelled->items.size(), 1U);
  EXPECT_EQ(labelled->items[0]["metadata"]["name"], "other");
  ListOptions by_field;
  by_field.field_selector = *FieldSelector::parse("metadata.name=crud");
  auto named = run(client_->list(cms, namespace_, by_field));
  ASSERT_TRUE(named) << named.error().what();
  ASSERT_EQ(named->items.size(), 1U);
  EXPECT_FALSE(named->resource_version.empty());

  DeleteOptions wrong;
  wrong.precondition_resource_version = rv1;
  auto refused = run(client_->remove(cms, namespace_, "crud", wrong));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), make_error_code(Errc::Conflict)) << refused.error().what();
  auto removed = run(client_->remove(cms, namespace_, "crud"));
  ASSERT_TRUE(removed) << removed.error().what();
  auto gone = run(client_->get(cms, namespace_, "crud"));
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error(), make_error_code(Errc::NotFound));
  EXPECT_EQ(gone.error().message(), "configmaps \"crud\" not found");
}

// ---- pagination ----

json page_object(const std::string& ns, int i) {
  return config_map(ns, "page-" + std::to_string(i), {{"i", std::to_string(i)}});
}

asio::awaitable<void> create_range(
    RestClient& client, std::string ns, int& next, int total, std::vector<std::string>& errors) {
  while (next < total) {
    const int i = next++;
    // (Built outside the co_await: GCC 12 miscompiles braced initializers in there.)
    json object = page_object(ns, i);
    auto r = co_await client.create(resources::config_maps(), ns, std::move(object));
    if (!r) {
      errors.push_back(r.error().what());
    }
  }
}

TEST_F(ClusterTest, PaginatedListOfMoreThan500Objects) {
  constexpr int kObjects = 520;
  constexpr int kWorkers = 16;
  int next = 0;
  std::vector<std::string> errors;
  std::vector<Task> workers;
  const auto started = SteadyClock::now();
  for (int w = 0; w < kWorkers; ++w) {
    workers.push_back(Task::spawn(io_, create_range(*client_, namespace_, next, kObjects, errors)));
  }
  ASSERT_TRUE(drive_until(
      [&] { return std::all_of(workers.begin(), workers.end(), [](auto& t) { return t.done(); }); },
      300s));
  for (auto& w : workers) {
    w.rethrow();
  }
  ASSERT_TRUE(errors.empty()) << errors.size() << " creates failed, first: " << errors.front();
  std::cout
      << "[ created " << kObjects << " ConfigMaps in "
      << std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - started).count()
      << " ms with " << kWorkers << " concurrent requests ]\n";
  // kube-controller-manager publishes kube-root-ca.crt into every namespace, but only while it
  // leads: after a restart of it (an earlier scenario reconfigures it) that can take a lease term.
  ASSERT_TRUE(drive_until(
      [&] {
        return run(client_->get(resources::config_maps(), namespace_, "kube-root-ca.crt"))
            .has_value();
      },
      120s))
      << "kube-root-ca.crt never appeared in " << namespace_;

  // Page by page, by hand.
  ListOptions o;
  o.limit = 100;
  std::set<std::string> names;
  int pages = 0;
  std::string list_rv;
  for (;;) {
    auto page = run(client_->list(resources::config_maps(), namespace_, o));
    ASSERT_TRUE(page) << page.error().what();
    ++pages;
    EXPECT_LE(page->items.size(), 100U);
    if (pages == 1) {
      list_rv = page->resource_version;
      ASSERT_TRUE(page->remaining_item_count);
      EXPECT_EQ(*page->remaining_item_count, kObjects + 1 - 100);  // + kube-root-ca.crt
    } else {
      EXPECT_EQ(page->resource_version, list_rv);  // one consistent snapshot
    }
    for (const auto& item : page->items) {
      EXPECT_TRUE(names.insert(item["metadata"]["name"].get<std::string>()).second)
          << "duplicate " << item["metadata"]["name"];
    }
    if (page->continue_token.empty()) {
      break;
    }
    o.continue_token = page->continue_token;
  }
  EXPECT_EQ(pages, 6);
  EXPECT_EQ(names.size(), static_cast<std::size_t>(kObjects) + 1);

  // And with list_all (the reflector's path), default page size 500.
  auto all = run(client_->list_all(resources::config_maps(), namespace_));
  ASSERT_TRUE(all) << all.error().what();
  std::set<std::string> all_names;
  for (const auto& item : all->items) {
    all_names.insert(item["metadata"]["name"].get<std::string>());
  }
  EXPECT_EQ(all_names, names);
  ListOptions labelled;
  labelled.limit = 50;
  labelled.field_selector = *FieldSelector::parse("metadata.name!=kube-root-ca.crt");
  auto filtered = run(client_->list_all(resources::config_maps(), namespace_, labelled));
  ASSERT_TRUE(filtered) << filtered.error().what();
  EXPECT_EQ(filtered->items.size(), static_cast<std::size_t>(kObjects));
}

// ---- reflector / informer through apiserver restarts and 410 ----

// What a handler builds from the callbacks; counts every add of a known key and every
// update/delete of an unknown one.
struct Replay {
  std::map<std::string, std::string> state;
  int violations = 0;
  ResourceEventHandlers handlers() {
    ResourceEventHandlers h;
    h.on_add = [this](const json& o) {
      auto key = *object_key(o);
      violations += state.contains(key) ? 1 : 0;
      state[key] = resource_version_of(o);
    };
    h.on_update = [this](const json& /*old_object*/, const json& o) {
      auto key = *object_key(o);
      violations += state.contains(key) ? 0 : 1;
      state[key] = resource_version_of(o);
    };
    h.on_delete = [this](const json& o) { violations += state.erase(*object_key(o)) == 1 ? 0 : 1; };
    return h;
  }
};

std::map<std::string, std::string> versions(const ObjectStore& store) {
  std::map<std::string, std::string> out;
  for (const auto& key : store.keys()) {
    out[key] = resource_version_of(*store.get(key));
  }
  return out;
}

// Holds watch() calls while closed, so a test decides when the reflector re-watches.
class GatedListerWatcher final : public ListerWatcher {
 public:
  GatedListerWatcher(ListerWatcher& inner, asio::any_io_executor ex) : inner_(inner), open_(ex) {
    open_.expires_at(asio::steady_timer::time_point::max());
  }
  asio::awaitable<Result<ObjectList>> list(std::string resource_version) override {
    co_return co_await inner_.list(std::move(resource_version));
  }
  asio::awaitable<Result<WatchStreamPtr>> watch(std::string resource_version,
                                                std::chrono::seconds timeout) override {
    while (closed) {
      waiting = true;
      co_await open_.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    waiting = false;
    watched_from.push_back(resource_version);
    auto stream = co_await inner_.watch(std::move(resource_version), timeout);
    if (!stream) {
      watch_errors.push_back(stream.error());
    }
    co_return stream;
  }
  void open() {
    closed = false;
    open_.cancel();
  }

  bool closed = false;
  bool waiting = false;
  std::vector<std::string> watched_from;
  std::vector<Error> watch_errors;

 private:
  ListerWatcher& inner_;
  asio::steady_timer open_;
};

struct InformerRig {
  InformerRig(asio::io_context& io, RestClient& client, const std::string& ns)
      : rest(client, resources::config_maps(), ns),
        gated(rest, io.get_executor()),
        informer(io.get_executor(),
                 gated,
                 clock,
                 steady_sleep(),
                 ReflectorOptions{.name = "configmaps " + ns}) {
    informer.add_handlers(replay.handlers());
  }
  SystemClock clock;
  RestListerWatcher rest;
  GatedListerWatcher gated;
  Informer informer;
  Replay replay;
};

TEST_F(ClusterTest, ReflectorSurvivesAnApiserverRestart) {
  require_harness();
  const auto cms = resources::config_maps();
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(
        run(client_->create(cms, namespace_, config_map(namespace_, "x" + std::to_string(i)))));
  }
  InformerRig rig(io_, *client_, namespace_);
  auto task = Task::spawn(io_, rig.informer.run());
  ASSERT_TRUE(drive_until([&] { return rig.informer.has_synced(); }, 60s));
  ASSERT_TRUE(run(client_->remove(cms, namespace_, "x0")));
  ASSERT_TRUE(drive_until([&] { return versions(rig.informer.store()) == server_state(); }, 30s));
  const auto before = rig.informer.reflector().stats();

  const auto killed = kill_apiserver();
  std::cout << "[ killed kube-apiserver container " << killed.substr(0, 12) << " ]\n";
  const auto down = SteadyClock::now();
  ASSERT_TRUE(wait_ready(180s)) << "kube-apiserver did not come back";
  std::cout << "[ apiserver ready again after "
            << std::chrono::duration_cast<std::chrono::seconds>(SteadyClock::now() - down).count()
            << " s ]\n";
  // Changes after the restart must reach the informer, whatever path it took back.
  ASSERT_TRUE(run(client_->create(cms, namespace_, config_map(namespace_, "after"))));
  ASSERT_TRUE(run(client_->remove(cms, namespace_, "x1")));
  auto x2 = run(client_->get(cms, namespace_, "x2"));
  ASSERT_TRUE(x2);
  (*x2)["data"] = {{"changed", "yes"}};
  ASSERT_TRUE(run(client_->update(cms, namespace_, *x2)));
  std::map<std::string, std::string> truth;
  ASSERT_TRUE(drive_until(
      [&] {
        truth = server_state();
        return versions(rig.informer.store()) == truth;
      },
      120s))
      << "informer state " << json(versions(rig.informer.store())).dump() << " vs server "
      << json(truth).dump();
  EXPECT_EQ(rig.replay.state, truth);
  EXPECT_EQ(rig.replay.violations, 0);
  const auto& after = rig.informer.reflector().stats();
  EXPECT_GT(after.failures + after.gone, before.failures + before.gone)
      << "the reflector never noticed the restart";
  std::cout << "[ reflector: lists=" << after.lists << " watches=" << after.watches
            << " gone=" << after.gone << " failures=" << after.failures << " ]\n";
  task.cancel(asio::cancellation_type::total);
  ASSERT_TRUE(drive_until([&] { return task.done(); }, 10s));
  EXPECT_EQ(rig.informer.reflector().state(), ReflectorState::Stopped);
}

TEST_F(ClusterTest, ReflectorRelistsAfterA410FromEtcdCompaction) {
  require_harness();
  const auto cms = resources::config_maps();
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(
        run(client_->create(cms, namespace_, config_map(namespace_, "y" + std::to_string(i)))));
  }
  InformerRig rig(io_, *client_, namespace_);
  auto task = Task::spawn(io_, rig.informer.run());
  ASSERT_TRUE(drive_until([&] { return rig.informer.has_synced(); }, 60s));
  ASSERT_TRUE(run(client_->remove(cms, namespace_, "y0")));
  ASSERT_TRUE(drive_until([&] { return versions(rig.informer.store()) == server_state(); }, 30s));
  const auto resume_from = rig.informer.reflector().last_sync_resource_version();

  // Hold the reflector's next watch, break the current one (restart), change things it will not
  // see as events, and compact etcd past its resourceVersion.
  rig.gated.closed = true;
  kill_apiserver();
  // The apiserver's watch cache serves any resourceVersion at or after the revision it listed at
  // start, compaction or not. Advancing etcd's revision before the restarted apiserver lists puts
  // the reflector's resourceVersion out of the new cache's window, so the 410 is certain.
  bump_etcd_revision();
  ASSERT_TRUE(drive_until([&] { return rig.gated.waiting; }, 120s))
      << "the reflector did not notice the apiserver going away";
  ASSERT_TRUE(wait_ready(180s)) << "kube-apiserver did not come back";
  ASSERT_TRUE(run(client_->create(cms, namespace_, config_map(namespace_, "unseen"))));
  ASSERT_TRUE(run(client_->remove(cms, namespace_, "y1")));
  auto y2 = run(client_->get(cms, namespace_, "y2"));
  ASSERT_TRUE(y2);
  (*y2)["data"] = {{"changed", "yes"}};
  ASSERT_TRUE(run(client_->update(cms, namespace_, *y2)));
  const auto revision = compact_etcd();
  std::cout << "[ compacted etcd at revision " << revision << "; the reflector resumes from "
            << resume_from << " ]\n";
  ASSERT_GT(revision, std::stoull(resume_from));

  // The apiserver itself now refuses that resourceVersion…
  ListOptions probe;
  probe.resource_version = rig.informer.reflector().last_sync_resource_version();
  auto expired_watch =
      run([](RestClient& c, std::string ns, ListOptions o) -> asio::awaitable<Error> {
        auto stream = co_await c.watch(resources::config_maps(), std::move(ns), std::move(o));
        if (!stream) {
          co_return stream.error();
        }
        auto e = co_await (*stream)->next();
        co_return e ? Error() : e.error();
      }(*client_, namespace_, probe));
  EXPECT_EQ(expired_watch, make_error_code(Errc::Gone)) << expired_watch.what();

  // …and the reflector, let go, gets the 410 and relists.
  const auto gone_before = rig.informer.reflector().stats().gone;
  rig.gated.open();
  std::map<std::string, std::string> truth;
  ASSERT_TRUE(drive_until(
      [&] {
        truth = server_state();
        return versions(rig.informer.store()) == truth;
      },
      120s))
      << "informer state " << json(versions(rig.informer.store())).dump() << " vs server "
      << json(truth).dump();
  EXPECT_GT(rig.informer.reflector().stats().gone, gone_before);
  EXPECT_TRUE(truth.contains(namespace_ + "/unseen"));
  EXPECT_FALSE(truth.contains(namespace_ + "/y1"));
  EXPECT_EQ(rig.replay.state, truth);
  EXPECT_EQ(rig.replay.violations, 0);
  const auto& stats = rig.informer.reflector().stats();
  std::cout << "[ reflector: lists=" << stats.lists << " watches=" << stats.watches
            << " gone=" << stats.gone << " failures=" << stats.failures
            << "; last error: " << rig.informer.reflector().last_error().what() << " ]\n";
  task.cancel(asio::cancellation_type::total);
  ASSERT_TRUE(drive_until([&] { return task.done(); }, 10s));
}

// ---- leader election ----

TEST_F(ClusterTest, LeaderElectionHandsOverWithinTheLeaseWhenTheLeaderDies) {
  LeaderElectionConfig base;
  base.lease_duration = 6s;
  base.renew_deadline = 4s;
  base.retry_period = 1s;
  const std::string lease_name = "kc-leader";
  SystemClock clock;
  auto client_a = make_client();
  auto client_b = make_client();
  RestLeaseLock lock_a(*client_a, namespace_, lease_name);
  RestLeaseLock lock_b(*client_b, namespace_, lease_name);
  auto config_a = base;
  config_a.identity = "a_" + unique_suffix();
  config_a.release_on_cancel = false;  // it will be "killed"
  auto config_b = base;
  config_b.identity = "b_" + unique_suffix();
  LeaderElector a(lock_a, config_a, clock, steady_sleep(), 1);
  LeaderElector b(lock_b, config_b, clock, steady_sleep(), 2);
  std::vector<std::string> b_saw;
  auto task_a = Task::spawn(io_, a.run({}));
  ASSERT_TRUE(drive_until([&] { return a.is_leader(); }, 30s));
  LeaderCallbacks callbacks_b;
  callbacks_b.on_new_leader = [&](const std::string& id) { b_saw.push_back(id); };
  auto task_b = Task::spawn(io_, b.run(callbacks_b));
  drive_for(4s);
  EXPECT_TRUE(a.is_leader());
  EXPECT_EQ(b.state(), LeaderState::Acquiring);
  EXPECT_EQ(b.observed_leader(), config_a.identity);

  task_a.cancel();  // dies without releasing
  const auto killed = SteadyClock::now();
  ASSERT_TRUE(drive_until([&] { return b.is_leader(); }, 30s));
  const auto handover = SteadyClock::now() - killed;
  std::cout << "[ handover after "
            << std::chrono::duration_cast<std::chrono::milliseconds>(handover).count()
            << " ms (lease 6 s, retry 1 s) ]\n";
  // Not before the lease (renewed at most one retry period before the kill) ran out, and at the
  // latest two jittered retry periods after.
  EXPECT_GE(handover, base.lease_duration - base.retry_period - 500ms);
  EXPECT_LE(handover, base.lease_duration + 2 * 2200ms + 1s);
  auto lease = run(client_->get(resources::leases(), namespace_, lease_name));
  ASSERT_TRUE(lease) << lease.error().what();
  auto record = record_from_lease(*lease);
  ASSERT_TRUE(record) << record.error().what();
  EXPECT_EQ(record->holder_identity, config_b.identity);
  EXPECT_EQ(record->lease_transitions, 1);
  EXPECT_EQ(record->lease_duration_seconds, 6);
  EXPECT_EQ(b_saw, (std::vector<std::string>{config_a.identity, config_b.identity}));
  // The MicroTime the apiserver stored is ours, to the microsecond.
  EXPECT_EQ((*lease)["spec"]["renewTime"].get<std::string>().size(),
            std::string("2026-07-24T10:03:12.418221Z").size());

  // B stops gracefully: it releases, and a newcomer need not wait out the lease.
  auto config_c = base;
  config_c.identity = "c_" + unique_suffix();
  LeaderElector c(lock_a, config_c, clock, steady_sleep(), 3);
  auto task_c = Task::spawn(io_, c.run({}));
  drive_for(2s);
  EXPECT_FALSE(c.is_leader());
  task_b.cancel(asio::cancellation_type::total);
  ASSERT_TRUE(drive_until([&] { return task_b.done(); }, 10s));
  const auto released = SteadyClock::now();
  ASSERT_TRUE(drive_until([&] { return c.is_leader(); }, 30s));
  EXPECT_LT(SteadyClock::now() - released, base.lease_duration);
  auto after = run(client_->get(resources::leases(), namespace_, lease_name));
  ASSERT_TRUE(after);
  EXPECT_EQ(record_from_lease(*after)->lease_transitions, 2);
  task_c.cancel(asio::cancellation_type::total);
  ASSERT_TRUE(drive_until([&] { return task_c.done(); }, 10s));
}

}  // namespace
}  // namespace yurt::kube
