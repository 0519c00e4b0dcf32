// yurt-controller-manager: autonomy-aware node lifecycle and the suite's CSR approver
// (docs/controller.md).
#include "src/apps/controller/app.hpp"

#include "cmd/daemon_main.hpp"
#include "cmd/yurt-controller-manager/options.hpp"

int main(int argc, char** argv) {
  return yurt::cmd::daemon_main<yurt::controller::App, yurt::controller::ControllerOptions>(
      argc, argv, "yurt-controller-manager", "node lifecycle that honours autonomy; CSR approver",
      &yurt::controller::add_flags);
}
