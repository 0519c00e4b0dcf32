// yurthub: the edge node's proxy and cache (docs/yurthub.md).
#include <iostream>

#include <CLI/CLI.hpp>

#include "yurt/base/clock.hpp"
#include "yurt/base/log.hpp"

#include "src/apps/hub/app.hpp"

#include "cmd/yurthub/options.hpp"

int main(int argc, char** argv) {
  yurt::hub::HubOptions options;
  CLI::App cli{"yurthub: keeps an edge node working when the cloud is gone"};
  yurt::hub::add_flags(cli, options);
  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = cli.exit(e);  // prints help or the parse error
    return code == 0 ? 0 : 2;
  }
  if (auto errors = options.validate(); !errors.empty()) {
    for (const auto& e : errors) {
      std::cerr << "yurthub: " << e << "\n";
    }
    return 2;
  }
  yurt::log::setup(options.log_format == "json" ? yurt::log::Format::Json : yurt::log::Format::Text,
                   options.verbosity);
  yurt::SystemClock clock;
  yurt::hub::App app(*options.complete(), clock);
  if (auto started = app.start(); !started) {
    yurt::log::get("hub").error("{}", started.error().what());
    return 1;
  }
  return app.run();
}
