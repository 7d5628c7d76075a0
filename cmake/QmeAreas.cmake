# One library per area (docs/architecture.md §1): qme_add_area declares an area's sources and the
# areas it uses, so that the link line, not a comment, states the layers. A torch-free area that
# reached for LibTorch would fail to link.
#
#   qme_add_area(NAME SOURCES file... [DEPENDS area...] [LINK target...] [PRIVATE_LINK target...])
#
# makes the library qme_NAME (alias and export name qme::NAME), links the qme_<area> of each
# DEPENDS and the LINK targets PUBLIC, and adds it to the installed package (QmeInstall.cmake).

# qme_export(TARGET EXPORT_NAME): the alias qme::EXPORT_NAME, and TARGET joins the installed set.
function(qme_export target export_name)
  set_target_properties(${target} PROPERTIES EXPORT_NAME ${export_name})
  add_library(qme::${export_name} ALIAS ${target})
  set_property(GLOBAL APPEND PROPERTY QME_INSTALLED_TARGETS ${target})
endfunction()

function(qme_add_area name)
  cmake_parse_arguments(PARSE_ARGV 1 AREA "" "" "SOURCES;DEPENDS;LINK;PRIVATE_LINK")
  add_library(qme_${name} ${AREA_SOURCES})
  target_include_directories(qme_${name} PUBLIC
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include> $<INSTALL_INTERFACE:include>)
  target_compile_features(qme_${name} PUBLIC cxx_std_17)
  list(TRANSFORM AREA_DEPENDS PREPEND qme_)
  target_link_libraries(qme_${name} PUBLIC ${AREA_DEPENDS} ${AREA_LINK} PRIVATE ${AREA_PRIVATE_LINK})
  # Position-independent: the Python modules and the qme_tables QME module link them.
  set_target_properties(qme_${name} PROPERTIES POSITION_INDEPENDENT_CODE ON UNITY_BUILD ${QME_UNITY_BUILD})
  qme_set_warnings(qme_${name})
  qme_export(qme_${name} ${name})
endfunction()

# qme_add_bundle(NAME TARGET...): an interface target over several areas (exported as qme::NAME),
# for programs that use them all.
function(qme_add_bundle name)
  add_library(qme_${name} INTERFACE)
  target_link_libraries(qme_${name} INTERFACE ${ARGN})
  qme_export(qme_${name} ${name})
endfunction()
