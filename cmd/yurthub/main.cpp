// yurthub: the edge node's proxy and cache (docs/yurthub.md).
#include "src/apps/hub/app.hpp"

#include "cmd/daemon_main.hpp"
#include "cmd/yurthub/options.hpp"

int main(int argc, char** argv) {
  return yurt::cmd::daemon_main<yurt::hub::App, yurt::hub::HubOptions>(
      argc, argv, "yurthub", "keeps an edge node working when the cloud is gone",
      &yurt::hub::add_flags);
}
