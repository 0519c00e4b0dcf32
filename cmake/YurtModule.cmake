# Shared compile options, one static library per module, and test executables.

add_library(yurt_options INTERFACE)
target_compile_options(yurt_options INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Woverloaded-virtual
  -Wimplicit-fallthrough -Wformat=2
  # GCC 12 at -O2 misreads Asio's coroutine-frame allocator (operator new/delete of
  # awaitable_frame_base) as a mismatched pair: a known false positive, not our code.
  $<$<CXX_COMPILER_ID:GNU>:-Wno-mismatched-new-delete>)
if(YURT_WERROR)
  target_compile_options(yurt_options INTERFACE -Werror)
endif()
if(YURT_SANITIZE)
  target_compile_options(yurt_options INTERFACE
    -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  target_link_options(yurt_options INTERFACE -fsanitize=address,undefined)
endif()

# yurt_module(NAME <m> SOURCES <files…> [DEPS <public deps…>] [PRIVATE_DEPS <…>])
# Builds yurt_<m> (alias yurt::<m>). Public headers live in include/yurt/<m>/, private ones in
# src/<m>/ and are included as "src/<m>/x.hpp". Links point only downwards (architecture §2).
function(yurt_module)
  cmake_parse_arguments(M "" "NAME" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  set(target yurt_${M_NAME})
  add_library(${target} STATIC ${M_SOURCES})
  add_library(yurt::${M_NAME} ALIAS ${target})
  target_include_directories(${target}
    PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
    PRIVATE ${PROJECT_SOURCE_DIR})
  target_link_libraries(${target} PUBLIC ${M_DEPS} PRIVATE yurt_options ${M_PRIVATE_DEPS})
endfunction()

# yurt_test(NAME <exe> LABEL unit|integration SOURCES <files…> DEPS <libs…>)
function(yurt_test)
  cmake_parse_arguments(T "" "NAME;LABEL" "SOURCES;DEPS" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES})
  target_include_directories(${T_NAME} PRIVATE ${PROJECT_SOURCE_DIR})
  target_link_libraries(${T_NAME} PRIVATE yurt_options ${T_DEPS} GTest::gmock GTest::gtest_main)
  gtest_discover_tests(${T_NAME}
    PROPERTIES LABELS ${T_LABEL}
    DISCOVERY_TIMEOUT 60)
endfunction()
