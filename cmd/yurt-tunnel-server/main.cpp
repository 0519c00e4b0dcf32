// yurt-tunnel-server: carries the apiserver's connections to edge kubelets (docs/yurt-tunnel.md).
#include "src/apps/tunnel/app.hpp"

#include "cmd/daemon_main.hpp"
#include "cmd/yurt-tunnel-server/options.hpp"

int main(int argc, char** argv) {
  return yurt::cmd::daemon_main<yurt::tunnel_app::ServerApp, yurt::tunnel_app::ServerOptions>(
      argc, argv, "yurt-tunnel-server", "reach kubelets of edge nodes nobody can dial",
      &yurt::tunnel_app::add_flags);
}
