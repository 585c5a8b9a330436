# acxConfig.cmake - find_package(acx) support for an installed acx.
#
#   find_package(acx 0.1 REQUIRED)
#   add_executable(server main.c)
#   acx_add_sources(server server.acx worker.acx)  # acxc runs at build time
#   target_link_libraries(server PRIVATE acx::acx)
#
# Provides
#   acx::acx          libacx: the shared library, or the static one when
#                     ACX_USE_STATIC_LIBS is ON or no shared one is
#                     installed; its include dir; pthread
#   acx::acx_static, acx::acx_shared   each kind explicitly (when installed)
#   acx::acxc         the generator, an imported executable
#   ACX_EXECUTABLE, ACX_INCLUDE_DIR, acx_VERSION
#   acx_add_sources(<target> <file.acx>...)
#                     generates <binary dir>/<file>.c from each .acx with
#                     acxc and adds it to <target>; the .acx's headers are
#                     tracked through a depfile (CMake >= 3.20 with the
#                     Makefile or Ninja generators)
#   acx_generate(<out_var> <file.acx>... [TARGET <t>])
#                     the same, returning the generated .c paths
#   ACXFLAGS          (a list, set by you) extra acxc options for both,
#                     e.g. --no-line or -Werror
#
# acxc runs the preprocessor of CMAKE_C_COMPILER with the target's
# include directories and compile definitions, so an .acx sees the
# headers its C will be compiled with.
# The functions below keep the policies set here: the newest this CMake
# knows (up to 3.31), so DEPFILE follows CMP0116's rules on 3.20 and later.
cmake_policy(VERSION 3.13...3.31)

# This file lives in PREFIX/lib/cmake/acx: the install is relocatable.
get_filename_component(_acx_prefix "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)
set(ACX_INCLUDE_DIR "${_acx_prefix}/include/acx")

find_program(ACX_EXECUTABLE acxc PATHS "${_acx_prefix}/bin" NO_DEFAULT_PATH)
find_library(ACX_STATIC_LIBRARY NAMES libacx.a
             PATHS "${_acx_prefix}/lib" NO_DEFAULT_PATH)
find_library(ACX_SHARED_LIBRARY NAMES libacx.so
             PATHS "${_acx_prefix}/lib" NO_DEFAULT_PATH)
find_package(Threads QUIET)

set(acx_FOUND TRUE)
foreach(_acx_need ACX_EXECUTABLE)
  if(NOT ${_acx_need})
    set(acx_FOUND FALSE)
    set(acx_NOT_FOUND_MESSAGE "acxc is missing from ${_acx_prefix}/bin")
  endif()
endforeach()
if(NOT EXISTS "${ACX_INCLUDE_DIR}/acx.h")
  set(acx_FOUND FALSE)
  set(acx_NOT_FOUND_MESSAGE "acx.h is missing from ${ACX_INCLUDE_DIR}")
endif()
if(NOT ACX_STATIC_LIBRARY AND NOT ACX_SHARED_LIBRARY)
  set(acx_FOUND FALSE)
  set(acx_NOT_FOUND_MESSAGE "libacx is missing from ${_acx_prefix}/lib")
endif()
if(NOT Threads_FOUND)
  set(acx_FOUND FALSE)
  set(acx_NOT_FOUND_MESSAGE "libacx needs threads (find_package(Threads))")
endif()

if(acx_FOUND AND NOT TARGET acx::acx)
  add_executable(acx::acxc IMPORTED)
  set_target_properties(acx::acxc PROPERTIES
    IMPORTED_LOCATION "${ACX_EXECUTABLE}")
  foreach(_acx_kind static shared)
    string(TOUPPER "${_acx_kind}" _acx_KIND)
    if(ACX_${_acx_KIND}_LIBRARY)
      add_library(acx::acx_${_acx_kind} ${_acx_KIND} IMPORTED)
      set_target_properties(acx::acx_${_acx_kind} PROPERTIES
        IMPORTED_LOCATION "${ACX_${_acx_KIND}_LIBRARY}"
        INTERFACE_INCLUDE_DIRECTORIES "${ACX_INCLUDE_DIR}"
        INTERFACE_LINK_LIBRARIES Threads::Threads)
      if(_acx_kind STREQUAL "shared")
        set_target_properties(acx::acx_shared PROPERTIES
          IMPORTED_SONAME "libacx.so.0")
      endif()
    endif()
  endforeach()
  # An imported target cannot be aliased before CMake 3.18, so acx::acx
  # is an interface target that links the chosen kind.
  add_library(acx::acx INTERFACE IMPORTED)
  if(TARGET acx::acx_shared AND NOT (ACX_USE_STATIC_LIBS AND TARGET acx::acx_static))
    set_target_properties(acx::acx PROPERTIES INTERFACE_LINK_LIBRARIES acx::acx_shared)
  else()
    set_target_properties(acx::acx PROPERTIES INTERFACE_LINK_LIBRARIES acx::acx_static)
  endif()
endif()

# acx_generate(<out_var> <file.acx>...): a custom command per file, run
# whenever the .acx or (through acxc's depfile) a header it includes
# changes.  TARGET, if given after the files as TARGET <t>, lends its
# include directories and compile definitions to the preprocessor.
function(acx_generate out_var)
  cmake_parse_arguments(PARSE_ARGV 1 _acx "" "TARGET" "")
  set(_outs)
  foreach(_src IN LISTS _acx_UNPARSED_ARGUMENTS)
    get_filename_component(_abs "${_src}" ABSOLUTE)
    file(RELATIVE_PATH _rel "${CMAKE_CURRENT_SOURCE_DIR}" "${_abs}")
    if(_rel MATCHES "^\\.\\./")  # outside the source dir: flatten its name
      get_filename_component(_rel "${_abs}" NAME)
    endif()
    string(REGEX REPLACE "\\.acx$" "" _rel "${_rel}")
    set(_out "${CMAKE_CURRENT_BINARY_DIR}/${_rel}.c")
    set(_dep "${CMAKE_CURRENT_BINARY_DIR}/${_rel}.acx.d")
    get_filename_component(_outdir "${_out}" DIRECTORY)
    # Each of these is one argument holding a list (the ';' of JOIN);
    # COMMAND_EXPAND_LISTS splits it once evaluated, and drops it when
    # the property is empty.
    set(_incs "")
    set(_defs "")
    if(_acx_TARGET)
      set(_inc "$<TARGET_PROPERTY:${_acx_TARGET},INCLUDE_DIRECTORIES>")
      set(_def "$<TARGET_PROPERTY:${_acx_TARGET},COMPILE_DEFINITIONS>")
      set(_incs "$<$<BOOL:${_inc}>:-I$<JOIN:${_inc},;-I>>")
      set(_defs "$<$<BOOL:${_def}>:-D$<JOIN:${_def},;-D>>")
    endif()
    set(_depargs)
    if(NOT CMAKE_VERSION VERSION_LESS 3.20 AND
       CMAKE_GENERATOR MATCHES "Make|Ninja")
      set(_depargs DEPFILE "${_dep}")
    endif()
    add_custom_command(
      OUTPUT "${_out}"
      COMMAND "${CMAKE_COMMAND}" -E make_directory "${_outdir}"
      COMMAND "${ACX_EXECUTABLE}" --cc "${CMAKE_C_COMPILER}" "${_incs}" "${_defs}" ${ACXFLAGS}
              -MD -MF "${_dep}" -o "${_out}" "${_abs}"
      MAIN_DEPENDENCY "${_abs}"
      DEPENDS "${ACX_EXECUTABLE}"  # a new acxc regenerates
      ${_depargs}
      COMMAND_EXPAND_LISTS
      COMMENT "acxc ${_rel}.acx"
      VERBATIM)
    list(APPEND _outs "${_out}")
  endforeach()
  set(${out_var} "${_outs}" PARENT_SCOPE)
endfunction()

# acx_add_sources(<target> <file.acx>...): generate and add to <target>.
function(acx_add_sources target)
  acx_generate(_acx_c ${ARGN} TARGET ${target})
  target_sources(${target} PRIVATE ${_acx_c})
endfunction()

unset(_acx_prefix)
