# Turns tools/viewer/viewer.html into a C++ header holding it as one raw string literal, so the
# simfs binary carries the viewer and `simfs view` needs no files at run time.
# Run as: cmake -DIN=viewer.html -DOUT=viewer_html.h -P embed.cmake
file(READ "${IN}" content)
set(delim "SIMFS_VIEWER")
string(FIND "${content}" ")${delim}\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${IN} contains the raw string delimiter )${delim}\"")
endif()
file(WRITE "${OUT}.tmp"
  "// Generated from tools/viewer/viewer.html by tools/viewer/embed.cmake. Do not edit.\n"
  "#pragma once\n#include <string_view>\n"
  "namespace tools {\n"
  "inline constexpr std::string_view kViewerHtml = R\"${delim}(${content})${delim}\";\n"
  "}  // namespace tools\n")
# Only touch the header when it changed, so an unrelated re-run rebuilds nothing.
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUT}.tmp")
