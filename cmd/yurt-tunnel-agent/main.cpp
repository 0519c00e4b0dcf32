// yurt-tunnel-agent: keeps the edge node reachable through yurt-tunnel-server
// (docs/yurt-tunnel.md).
#include "src/apps/tunnel/app.hpp"

#include "cmd/daemon_main.hpp"
#include "cmd/yurt-tunnel-agent/options.hpp"

int main(int argc, char** argv) {
  return yurt::cmd::daemon_main<yurt::tunnel_app::AgentApp, yurt::tunnel_app::AgentOptions>(
      argc, argv, "yurt-tunnel-agent", "dials out so the cloud can reach this node's kubelet",
      &yurt::tunnel_app::add_flags);
}
