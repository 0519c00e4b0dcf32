// Benchmark of yurthub's cache recording (issue 4, acceptance 6: the online LIST tail). Records
// a PodList of realistic pods (as the apiserver sends them: managedFields, status, defaults) into
// a DiskStore-backed cache the way the proxy does, and prints per LIST the time to record it when
// every item is new, when none changed (the steady state: a relist) and when every item changed;
// beside it the floor of any parsing recorder in the same run: one nlohmann::json::parse of the
// body. Also watch events per second. Asserts nothing about time.
//
//   cmake --build build/release --target hub_recording_bench
//   build/release/test/bench/hub_recording_bench [pods...]   (default: 100 1000)

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "yurt/base/clock.hpp"
#include "yurt/kube/request_info.hpp"
#include "yurt/storage/disk_store.hpp"

#include "src/apps/hub/cache/cache_manager.hpp"

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// One pod as a kubelet's LIST returns it (no kind/apiVersion inside a list), ~3 KB.
json bench_pod(int i, int generation) {
  const std::string name = "bench-" + std::to_string(i);
  json env = json::array();
  for (int k = 0; k < 5; ++k) {
    env.push_back({{"name", "SETTING_" + std::to_string(k)},
                   {"value", "value-" + std::to_string(k) + "-" + std::to_string(i)}});
  }
  return json::parse(R"({
    "metadata": {"name": "", "namespace": "yurt-bench", "uid": "6f1c7f3e-1d7b-4c1e-9f3a-000000000000",
      "resourceVersion": "", "creationTimestamp": "2026-11-27T10:00:00Z",
      "labels": {"app": "yurt-bench", "bench-group": "g1", "tier": "edge"},
      "annotations": {"yurt.dev/bench": "pod of 1000"},
      "managedFields": [{"manager": "kubectl-create", "operation": "Update", "apiVersion": "v1",
        "time": "2026-11-27T10:00:00Z", "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata":
        {"f:annotations": {".": {}, "f:yurt.dev/bench": {}}, "f:labels": {".": {}, "f:app": {},
        "f:bench-group": {}, "f:tier": {}}}, "f:spec": {"f:automountServiceAccountToken": {},
        "f:containers": {"k:{\"name\":\"app\"}": {".": {}, "f:command": {}, "f:env": {".": {},
        "k:{\"name\":\"SETTING_0\"}": {".": {}, "f:name": {}, "f:value": {}}}, "f:image": {},
        "f:imagePullPolicy": {}, "f:name": {}, "f:ports": {".": {}}, "f:readinessProbe": {".": {},
        "f:httpGet": {".": {}, "f:path": {}, "f:port": {}}}, "f:resources": {".": {}},
        "f:volumeMounts": {".": {}}}}, "f:nodeName": {}, "f:tolerations": {}, "f:volumes": {}}}}]},
    "spec": {"volumes": [{"name": "data", "emptyDir": {}}],
      "containers": [{"name": "app", "image": "registry.local/yurt/workload:e2e",
        "command": ["httpd", "-f", "-p", "8080"], "env": [],
        "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
        "resources": {"limits": {"cpu": "100m", "memory": "64Mi"},
                      "requests": {"cpu": "10m", "memory": "16Mi"}},
        "volumeMounts": [{"name": "data", "mountPath": "/data"}],
        "readinessProbe": {"httpGet": {"path": "/", "port": 8080, "scheme": "HTTP"},
          "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3},
        "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
        "imagePullPolicy": "Never"}],
      "restartPolicy": "Always", "terminationGracePeriodSeconds": 0, "dnsPolicy": "ClusterFirst",
      "automountServiceAccountToken": false, "serviceAccountName": "default",
      "serviceAccount": "default", "nodeName": "bench-node", "securityContext": {},
      "schedulerName": "default-scheduler", "tolerations": [{"operator": "Exists"}],
      "priority": 0, "enableServiceLinks": true, "preemptionPolicy": "PreemptLowerPriority"},
    "status": {"phase": "Pending", "qosClass": "Burstable"}})")
      .patch(json{{{"op", "replace"}, {"path", "/metadata/name"}, {"value", name}},
                  {{"op", "replace"},
                   {"path", "/metadata/resourceVersion"},
                   {"value", std::to_string(1000 + i + generation * 100000)}},
                  {{"op", "replace"}, {"path", "/spec/containers/0/env"}, {"value", env}}});
}

std::string pod_list(int pods, int generation) {
  json items = json::array();
  for (int i = 0; i < pods; ++i) {
    items.push_back(bench_pod(i, generation));
  }
  return json{{"kind", "PodList"},
              {"apiVersion", "v1"},
              {"metadata", {{"resourceVersion", std::to_string(500000 + generation)}}},
              {"items", std::move(items)}}
      .dump();
}

struct Request {
  yurt::net::Request request;
  yurt::hub::RequestContext ctx;
};

Request list_request(const std::string& target) {
  Request r;
  r.request.method = "GET";
  r.request.target = target;
  r.request.headers.add("Accept", "application/json");
  r.ctx.component = "kubelet";
  r.ctx.info = *yurt::kube::parse_request_info("GET", target);
  r.ctx.node_name = "bench-node";
  return r;
}

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// Median of `runs` runs of `f`, in ms.
template <typename F>
double median_ms(int runs, F f) {
  std::vector<double> times;
  for (int i = 0; i < runs; ++i) {
    const auto start = Clock::now();
    f(i);
    times.push_back(ms_since(start));
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

// Feeds `body` to a recorder as the proxy does (64 KiB pieces).
void record(yurt::hub::CacheManager& cache, Request& req, std::string_view body) {
  req.ctx.request = &req.request;
  yurt::net::Response head;
  head.status = 200;
  head.headers.add("Content-Type", "application/json");
  auto recorder = cache.record(req.ctx, head);
  if (!recorder) {
    std::fprintf(stderr, "the cache refused to record the LIST\n");
    std::exit(1);
  }
  constexpr std::size_t kPiece = 64 * 1024;
  for (std::size_t at = 0; at < body.size(); at += kPiece) {
    recorder->on_data(body.substr(at, kPiece));
  }
  recorder->finish(true);
  cache.settle();
}

void bench_list(int pods, const std::filesystem::path& dir) {
  std::filesystem::remove_all(dir);
  auto store = yurt::storage::DiskStore::open(dir);
  if (!store) {
    std::fprintf(stderr, "cannot open %s: %s\n", dir.c_str(), store.error().what().c_str());
    std::exit(1);
  }
  yurt::SystemClock clock;
  auto cache = yurt::hub::make_cache_manager(**store, {}, clock);
  if (!cache) {
    std::fprintf(stderr, "cannot open the cache: %s\n", cache.error().what().c_str());
    std::exit(1);
  }
  auto req =
      list_request("/api/v1/namespaces/yurt-bench/pods?fieldSelector=spec.nodeName%3Dbench-node");
  constexpr int kRuns = 9;
  std::vector<std::string> bodies;
  for (int g = 0; g <= kRuns; ++g) {
    bodies.push_back(pod_list(pods, g));
  }
  const double parse = median_ms(kRuns, [&](int g) {
    auto parsed = json::parse(bodies[g]);
    (void)parsed;
  });
  const double first = median_ms(1, [&](int) { record(**cache, req, bodies[0]); });
  const double unchanged = median_ms(kRuns, [&](int) { record(**cache, req, bodies[0]); });
  const double changed = median_ms(kRuns, [&](int g) { record(**cache, req, bodies[g + 1]); });
  const double mb = static_cast<double>(bodies[0].size()) / 1e6;
  std::printf(
      "%5d pods %6.2f MB | all new %7.2f ms | unchanged %7.2f ms | all changed %7.2f ms |"
      " json::parse alone %7.2f ms\n",
      pods, mb, first, unchanged, changed, parse);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> sizes;
  for (int i = 1; i < argc; ++i) {
    sizes.push_back(std::stoi(argv[i]));
  }
  if (sizes.empty()) {
    sizes = {100, 1000};
  }
  const auto dir = std::filesystem::temp_directory_path() / "yurt-hub-recording-bench";
  std::printf("LIST recording into a DiskStore (median of 9; 'all new' is one run)\n");
  for (int pods : sizes) {
    bench_list(pods, dir);
  }
  std::filesystem::remove_all(dir);
}
