# Redirect/header rules (`_redirects`, `_headers`, `netlify.toml`) and request path safety.
# For src/edge/CMakeLists.txt:
#   include(${CMAKE_CURRENT_SOURCE_DIR}/rules.cmake)
#   replideploy_component(edge
#     SOURCES ... ${RD_EDGE_RULES_SOURCES}
#     DEPS ... PkgConfig::TOMLPP
#     TESTS ... ${RD_EDGE_RULES_TESTS})
#   rd_edge_rules_targets()  # after replideploy_component(edge ...)
set(RD_EDGE_RULES_SOURCES paths.cpp rules_parse.cpp rules_headers.cpp rules_toml.cpp rules_match.cpp)
set(RD_EDGE_RULES_TESTS paths_test.cpp rules_test.cpp)

function(rd_edge_rules_targets)
  if(REPLIDEPLOY_TESTS)
    # Golden files of the parser tests.
    target_compile_definitions(rd_edge_test PRIVATE
      RD_EDGE_TESTDATA_DIR="${CMAKE_CURRENT_SOURCE_DIR}/testdata")
    # Reads rule sets and requests as JSON lines, prints our matcher's answers: the C++ side of
    # tests/oracle/compare.mjs, which runs Netlify's own engine (netlify-redirector) beside it.
    add_executable(rd_rules_oracle rules_oracle_main.cpp)
    target_link_libraries(rd_rules_oracle PRIVATE rd_edge Boost::json)
    # Registered whether or not npm is here now: without node and npm the test fails and says
    # so (it never drops out of the run unnoticed).
    add_test(NAME edge_rules_oracle
      COMMAND ${CMAKE_SOURCE_DIR}/tests/oracle/run.sh $<TARGET_FILE:rd_rules_oracle>)
    set_tests_properties(edge_rules_oracle PROPERTIES TIMEOUT 600)
  endif()
endfunction()
