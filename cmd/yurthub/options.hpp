#pragma once

#include <CLI/CLI.hpp>

#include "src/apps/hub/options.hpp"

namespace yurt::hub {

/// Registers yurthub's flags (OpenYurt's names) on `app`, bound to `options`.
void add_flags(CLI::App& app, HubOptions& options);

}  // namespace yurt::hub
