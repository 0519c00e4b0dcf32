#pragma once

// The body every daemon's main shares: flags, validation, logging, then the App.

#include <csignal>
#include <iostream>
#include <string>
#include <utility>

#include <CLI/CLI.hpp>

#include "yurt/base/clock.hpp"
#include "yurt/base/log.hpp"

namespace yurt::cmd {

/// Parses the flags (exit 0 after --help, 2 on a parse error), prints every validation problem
/// at once (exit 2), sets up logging, then starts the App (exit 1 when that fails, with the
/// reason logged) and runs it until it stops (its exit code).
///
/// `Options` has add_flags(CLI::App&, Options&) bound by the caller, validate() → messages,
/// complete() → Result<settings>, log_format and verbosity. `App` is constructed from the
/// settings and a clock and has start() → Result<void> and run() → int.
template <class App, class Options>
int daemon_main(int argc,
                char** argv,
                const std::string& name,
                const std::string& about,
                void (*add_flags)(CLI::App&, Options&)) {
  Options options;
  CLI::App cli{name + ": " + about};
  add_flags(cli, options);
  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = cli.exit(e);  // prints the help or the parse error
    return code == 0 ? 0 : 2;
  }
  if (auto errors = options.validate(); !errors.empty()) {
    for (const auto& e : errors) {
      std::cerr << name << ": " << e << "\n";
    }
    return 2;
  }
  auto settings = options.complete();
  if (!settings) {
    std::cerr << name << ": " << settings.error().what() << "\n";
    return 2;
  }
  log::setup(options.log_format == "json" ? log::Format::Json : log::Format::Text,
             options.verbosity);
  std::signal(SIGPIPE, SIG_IGN);  // a peer that went away is an error value, not a signal
  SystemClock clock;
  App app(std::move(*settings), clock);
  if (auto started = app.start(); !started) {
    log::get(name).error("{}", started.error().what());
    return 1;
  }
  return app.run();
}

}  // namespace yurt::cmd
