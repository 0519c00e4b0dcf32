#pragma once

#include <CLI/CLI.hpp>

#include "src/apps/tunnel/options.hpp"

namespace yurt::tunnel_app {

/// Registers yurt-tunnel-agent's flags on `app`, bound to `options`.
void add_flags(CLI::App& app, AgentOptions& options);

}  // namespace yurt::tunnel_app
