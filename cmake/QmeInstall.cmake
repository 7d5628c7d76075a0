# The installed package: `cmake --install build --prefix P` puts the libraries, the headers and
# a CMake package in P, so that another project can
#
#   find_package(qme REQUIRED)
#   target_link_libraries(app PRIVATE qme::eval)   # or qme::fusion, qme::scores, ...
#
# Consumers link an area by name (docs/architecture.md §1.3). Each area is a library of its own
# (qme_add_area, cmake/QmeAreas.cmake) that links only the areas it uses, so the torch-free ones
# never bring LibTorch onto a link line. qme::base bundles every torch-free area, qme::torch
# every area.
include(CMakePackageConfigHelpers)
include(GNUInstallDirs)

set(QME_CMAKE_INSTALL_DIR "${CMAKE_INSTALL_LIBDIR}/cmake/qme")

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
