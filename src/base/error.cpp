#include "yurt/base/result.hpp"
