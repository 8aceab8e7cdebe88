# Boost >= 1.83, header-only parts (Asio, Beast). The system copy wins when it is new
# enough; otherwise scripts/setup.sh unpacks Debian 13's headers into .deps/boost.
function(evald_boost_version dir out)
  set(ver 0)
  if(EXISTS "${dir}/boost/version.hpp")
    file(STRINGS "${dir}/boost/version.hpp" line REGEX "^#define BOOST_VERSION [0-9]+")
    string(REGEX REPLACE "^#define BOOST_VERSION ([0-9]+).*" "\\1" ver "${line}")
  endif()
  set(${out} ${ver} PARENT_SCOPE)
endfunction()

set(EVALD_BOOST_INCLUDE_DIR "" CACHE PATH "Directory holding boost/ (>= 1.83); empty = detect")
if(NOT EVALD_BOOST_INCLUDE_DIR)
  foreach(candidate /usr/include /usr/local/include "${PROJECT_SOURCE_DIR}/.deps/boost/usr/include")
    evald_boost_version("${candidate}" ver)
    if(ver GREATER_EQUAL 108300)
      set(EVALD_BOOST_INCLUDE_DIR "${candidate}")
      break()
    endif()
  endforeach()
endif()
evald_boost_version("${EVALD_BOOST_INCLUDE_DIR}" EVALD_BOOST_VERSION)
if(EVALD_BOOST_VERSION LESS 108300)
  message(FATAL_ERROR "Boost >= 1.83 headers not found (Boost 1.81's io_uring backend crashes on "
    "cancel/close). Run scripts/setup.sh, or pass -DEVALD_BOOST_INCLUDE_DIR=<dir containing boost/>.")
endif()
message(STATUS "evald: Boost ${EVALD_BOOST_VERSION} from ${EVALD_BOOST_INCLUDE_DIR}")

add_library(evald_boost INTERFACE)
target_include_directories(evald_boost SYSTEM INTERFACE "${EVALD_BOOST_INCLUDE_DIR}")
target_compile_definitions(evald_boost INTERFACE
  BOOST_ASIO_SEPARATE_COMPILATION BOOST_BEAST_SEPARATE_COMPILATION BOOST_ASIO_NO_DEPRECATED
  BOOST_ASIO_DISABLE_BOOST_COROUTINE)
