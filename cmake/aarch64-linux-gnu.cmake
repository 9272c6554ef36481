# cmake/aarch64-linux-gnu.cmake - cross-compile tokmeter (library, CLI, tests) for 64-bit Arm
# Linux (AWS Graviton and the like) with Debian's cross compiler, and run the tests under qemu.
#
#   tools/deps.sh cross && tools/arm64-sysroot.sh        # gcc-aarch64-linux-gnu, qemu-user; arm64 libs
#   cmake -S . -B build-arm -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake
#   cmake --build build-arm -j2 && ctest --test-dir build-arm -L qemu
#
# The C library comes with the cross compiler (/usr/aarch64-linux-gnu); the other arm64 headers and
# libraries (xxhash, SIMDe, json-c; Criterion, PCRE2, jansson for the tests) from Debian's arm64
# packages unpacked by tools/arm64-sysroot.sh into TKM_ARM64_SYSROOT (why unpacked rather than
# installed with multiarch: see that script). ctest runs every test executable through
# qemu-aarch64 (CMAKE_CROSSCOMPILING_EMULATOR), which finds the arm64 loader under -L and the
# unpacked libraries through LD_LIBRARY_PATH. Build-time tools (the vocabulary compiler) are built
# for the host by cmake/vocab.cmake. On aarch64 the NEON kernel is chosen at compile time.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
set(TKM_CROSS_PREFIX aarch64-linux-gnu-)
set(CMAKE_C_COMPILER ${TKM_CROSS_PREFIX}gcc)
set(CMAKE_CXX_COMPILER ${TKM_CROSS_PREFIX}g++)

get_filename_component(_tkm_root "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)
if(DEFINED ENV{TKM_ARM64_SYSROOT})
  set(_tkm_sysroot_default "$ENV{TKM_ARM64_SYSROOT}")
else()
  set(_tkm_sysroot_default "${_tkm_root}/build-sysroot-arm64")
endif()
set(TKM_ARM64_SYSROOT "${_tkm_sysroot_default}" CACHE PATH "arm64 libraries unpacked by tools/arm64-sysroot.sh")
if(NOT EXISTS "${TKM_ARM64_SYSROOT}/usr/include/xxhash.h")
  message(FATAL_ERROR "tokmeter: no arm64 libraries in ${TKM_ARM64_SYSROOT}; run tools/arm64-sysroot.sh "
                      "(or pass -DTKM_ARM64_SYSROOT=DIR)")
endif()
set(TKM_QEMU_LD_PREFIX /usr/aarch64-linux-gnu CACHE PATH "arm64 C library root for qemu-aarch64 -L")

# Headers and libraries only from the arm64 roots; programs (cc for host tools, node) from the host.
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu "${TKM_ARM64_SYSROOT}")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# The unpacked libraries' own dependencies (Criterion -> libgit2 -> ...) for the linker.
set(_tkm_libdirs "${TKM_ARM64_SYSROOT}/usr/lib/aarch64-linux-gnu:${TKM_ARM64_SYSROOT}/lib/aarch64-linux-gnu")
set(CMAKE_EXE_LINKER_FLAGS_INIT "-Wl,-rpath-link,${_tkm_libdirs}")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "-Wl,-rpath-link,${_tkm_libdirs}")

find_program(TKM_QEMU_AARCH64 NAMES qemu-aarch64 qemu-aarch64-static)
if(TKM_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR "${TKM_QEMU_AARCH64};-L;${TKM_QEMU_LD_PREFIX};-E;LD_LIBRARY_PATH=${_tkm_libdirs}")
endif()
