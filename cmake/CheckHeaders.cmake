# Every public header must compile on its own (Seastar's CheckHeaders idea): one tiny translation
# unit per header, built by the `check-headers` target, which CI builds.
function(yurt_check_headers)
  file(GLOB_RECURSE headers RELATIVE ${PROJECT_SOURCE_DIR}/include
    CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/include/yurt/*.hpp)
  set(sources)
  foreach(h IN LISTS headers)
    string(MAKE_C_IDENTIFIER ${h} id)
    set(src ${CMAKE_BINARY_DIR}/check_headers/${id}.cpp)
    file(CONFIGURE OUTPUT ${src} CONTENT "#include \"${h}\"\n")
    list(APPEND sources ${src})
  endforeach()
  if(NOT sources)
    return()
  endif()
  add_library(check-headers OBJECT EXCLUDE_FROM_ALL ${sources})
  # Only include paths and third-party flags: a header that needs more must include it itself.
  get_property(modules GLOBAL PROPERTY YURT_MODULES)
  target_include_directories(check-headers PRIVATE ${PROJECT_SOURCE_DIR}/include)
  target_link_libraries(check-headers PRIVATE yurt_options yurt_asio
    nlohmann_json::nlohmann_json spdlog::spdlog yaml-cpp OpenSSL::SSL)
endfunction()
