#pragma once

#include <CLI/CLI.hpp>

#include "src/apps/controller/options.hpp"

namespace yurt::controller {

/// Registers yurt-controller-manager's flags (kube-controller-manager's names) on `app`.
void add_flags(CLI::App& app, ControllerOptions& options);

}  // namespace yurt::controller
