# The installed package: `cmake --install build --prefix P` puts the libraries, the headers and
# a CMake package in P, so that another project can
#
#   find_package(qme REQUIRED)
#   target_link_libraries(app PRIVATE qme::eval)   # or qme::fusion, qme::scores, ...
#
# Consumers link an area by name (docs/architecture.md §1.3). Each area target names the
# library that holds its sources today: the torch-free areas qme_base, the LibTorch areas
# qme_torch (qme_data and qme_checkpoint are their own libraries), so the torch-free ones never
# bring LibTorch onto a link line.
include(CMakePackageConfigHelpers)
include(GNUInstallDirs)

set(QME_CMAKE_INSTALL_DIR "${CMAKE_INSTALL_LIBDIR}/cmake/qme")

# qme_area(NAME LIBRARY): the interface target qme_NAME (exported as qme::NAME) over LIBRARY.
function(qme_area name library)
  add_library(qme_${name} INTERFACE)
  target_link_libraries(qme_${name} INTERFACE ${library})
  set_target_properties(qme_${name} PROPERTIES EXPORT_NAME ${name})
  add_library(qme::${name} ALIAS qme_${name})
  set_property(GLOBAL APPEND PROPERTY QME_INSTALLED_TARGETS qme_${name})
endfunction()

function(qme_install_library target export_name)
  set_target_properties(${target} PROPERTIES EXPORT_NAME ${export_name})
  add_library(qme::${export_name} ALIAS ${target})
  set_property(GLOBAL APPEND PROPERTY QME_INSTALLED_TARGETS ${target})
endfunction()

qme_install_library(qme_base base)
foreach(area core models io config cache eval analysis)
  qme_area(${area} qme_base)
endforeach()
if(QME_WITH_TORCH)
  qme_install_library(qme_checkpoint checkpoint)
  qme_install_library(qme_data data)
  qme_install_library(qme_torch torch_areas)
  foreach(area kernels scores fusion loss backbone train)
    qme_area(${area} qme_torch)
  endforeach()
endif()
# The executables' jobs: the table job is torch-free, the score and gather jobs are not.
if(QME_WITH_TORCH)
  qme_area(pipeline qme_torch)
else()
  qme_area(pipeline qme_base)
endif()

get_property(qme_installed GLOBAL PROPERTY QME_INSTALLED_TARGETS)
install(TARGETS ${qme_installed} EXPORT qmeTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY "${PROJECT_SOURCE_DIR}/include/qme" DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT qmeTargets NAMESPACE qme:: DESTINATION ${QME_CMAKE_INSTALL_DIR})

configure_package_config_file("${PROJECT_SOURCE_DIR}/cmake/qmeConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/qmeConfig.cmake" INSTALL_DESTINATION ${QME_CMAKE_INSTALL_DIR})
write_basic_package_version_file("${PROJECT_BINARY_DIR}/qmeConfigVersion.cmake"
  COMPATIBILITY SameMinorVersion)
install(FILES "${PROJECT_BINARY_DIR}/qmeConfig.cmake" "${PROJECT_BINARY_DIR}/qmeConfigVersion.cmake"
  DESTINATION ${QME_CMAKE_INSTALL_DIR})
