# tests/qemu.cmake - cross builds (cmake/aarch64-linux-gnu.cmake): run the tests under qemu-aarch64.
#
# Included at the end of tests/CMakeLists.txt when CMAKE_CROSSCOMPILING. Every test executable runs
# through the toolchain's emulator (qemu-aarch64 -L <arm64 libc> -E LD_LIBRARY_PATH=<arm64 libs>)
# with tests/qemu_exec.c preloaded, so that Criterion can start its per-test workers without
# binfmt_misc; `ctest` then runs every test under emulation (slowly: qemu runs this code 5-10x
# slower than the host). The tests that start the arm64 CLI from a shell script (test_cli,
# *@kernel) need binfmt_misc.
#
# The `qemu` label is the subset tools/check.sh runs, chosen to take about 2 minutes on 2 cores
# under qemu (measured per test body; the slow bodies are left to the full tests): the public API,
# Unicode tables, vocabularies, the pre-tokenizers against PCRE2, the NEON kernel (native: chosen
# at compile time on aarch64) and the emulated ones against the scalar scanners, the reference
# goldens, multi-threaded counting, one handle shared by many threads (arm64 is weakly ordered),
# and the fuzz corpus replay.
if(NOT CMAKE_CROSSCOMPILING_EMULATOR)
  message(WARNING "tokmeter: cross-compiling without an emulator: the tests cannot run on this host")
  return()
endif()
add_library(tkm_qemu_exec SHARED ${CMAKE_CURRENT_LIST_DIR}/qemu_exec.c)
target_link_libraries(tkm_qemu_exec PRIVATE ${CMAKE_DL_LIBS})
# a fixed path: the emulator property takes no generator expressions in CMake 3.25
set_target_properties(tkm_qemu_exec PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR} OUTPUT_NAME tkm_qemu_exec)
set(_tkm_shim ${CMAKE_CURRENT_BINARY_DIR}/${CMAKE_SHARED_LIBRARY_PREFIX}tkm_qemu_exec${CMAKE_SHARED_LIBRARY_SUFFIX})
list(GET CMAKE_CROSSCOMPILING_EMULATOR 0 _tkm_qemu)
set(_tkm_emu ${CMAKE_CROSSCOMPILING_EMULATOR} -E LD_PRELOAD=${_tkm_shim} -E TKM_QEMU=${_tkm_qemu}
    -E TKM_QEMU_LD_PREFIX=${TKM_QEMU_LD_PREFIX})
get_property(_tkm_targets DIRECTORY PROPERTY BUILDSYSTEM_TARGETS)
foreach(_t IN LISTS _tkm_targets)
  get_target_property(_type ${_t} TYPE)
  if(_type STREQUAL "EXECUTABLE")
    set_target_properties(${_t} PROPERTIES CROSSCOMPILING_EMULATOR "${_tkm_emu}")
    add_dependencies(${_t} tkm_qemu_exec)
  endif()
endforeach()
# qemu_NAME: EXE [criterion filter] with the label `qemu`
function(tkm_qemu_test name exe)
  if(TARGET ${exe})
    add_test(NAME qemu_${name} COMMAND ${exe} ${ARGN})
    set_tests_properties(qemu_${name} PROPERTIES LABELS qemu TIMEOUT 900)
  endif()
endfunction()
# test_api without huge_tables/*: 240 MB of counting to test C that has no arm64 code of its own
tkm_qemu_test(api test_api --jobs 2 --filter "api/*")
tkm_qemu_test(unicode test_unicode --jobs 2)
tkm_qemu_test(vocab test_vocab --jobs 2)
tkm_qemu_test(pretok test_pretok --jobs 2
              --filter "pretok/@(hand_list|invalid_utf8|straddle_blocks|alphabet_agrees|random_strings)")
tkm_qemu_test(kernels test_kernels --jobs 2 --filter "kernels/!(corpus|fragments_at_every_offset)")
tkm_qemu_test(golden test_golden --jobs 2 --filter "golden/@(edge_cases|corpus_slices_ids)")
tkm_qemu_test(parallel test_parallel --jobs 2
              --filter "parallel/@(allocator_hook_and_out_of_memory|bad_arguments|batch_strides_and_errors|no_safe_cut_falls_back_to_fewer_pieces|specials_with_spaces_disable_cutting|texts_cut_into_exactly_n_pieces)")
tkm_qemu_test(threads test_threads --jobs 2)
tkm_qemu_test(fuzz_replay fuzz_replay ${TKM_ROOT}/tests/fuzz/corpus)
