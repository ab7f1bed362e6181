# One helper creates every component's targets, so that every component is built the same way.
#
#   puff_component(<name>
#     SOURCES <files...>          static library puff_<name>
#     DEPS <targets...>           public link dependencies
#     [PYTHON]                    Python-facing: may include Python.h (headers only; the
#                                 executable links libpython, extension modules do not)
#     TESTS <files...>)           GoogleTest unit tests -> puff_<name>_test, registered with ctest
#
# Only PYTHON components get Python's include path, so a pure C++ component that includes
# Python.h fails to compile: the layering rule is enforced by the build.
function(puff_component name)
  cmake_parse_arguments(C "PYTHON" "" "SOURCES;DEPS;TESTS" ${ARGN})
  set(target puff_${name})
  add_library(${target} STATIC ${C_SOURCES})
  target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR}/runtime)
  target_compile_features(${target} PUBLIC cxx_std_20)
  target_compile_options(${target} PRIVATE ${PUFF_WARNINGS})
  set_target_properties(${target} PROPERTIES POSITION_INDEPENDENT_CODE ON)
  target_link_libraries(${target} PUBLIC ${C_DEPS})
  if(C_PYTHON)
    target_link_libraries(${target} PUBLIC Python3::Module)
    target_include_directories(${target} PUBLIC ${PUFF_GREENLET_INCLUDE_DIR})
    # The CPython API relies on type punning.
    target_compile_options(${target} PUBLIC -fno-strict-aliasing)
  endif()
  if(C_TESTS AND PUFF_BUILD_TESTS)
    add_executable(${target}_test ${C_TESTS})
    target_compile_options(${target}_test PRIVATE ${PUFF_WARNINGS})
    target_link_libraries(${target}_test PRIVATE ${target} GTest::gtest_main)
    gtest_discover_tests(${target}_test DISCOVERY_MODE PRE_TEST
                         PROPERTIES LABELS ${name})
  endif()
endfunction()
