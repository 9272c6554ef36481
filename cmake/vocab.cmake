# cmake/vocab.cmake - vocabularies compiled into the library at build time.
#
# Usage (top-level CMakeLists.txt, after TKM_ROOT is set):
#   include(${TKM_ROOT}/cmake/vocab.cmake)
#   tkm_vocab_sources(TKM_VOCAB_SOURCES)   # -> list of generated .c files (10)
#
# Builds the host tool vocabc (tools/vocabc.c + kernel/vocab_build.c + kernel/bpe.c + kernel/sha256.c) and adds
# custom commands that turn vocab/<name>.tiktoken into gen/vocab_<name>.c (const tkm_ranks
# tkm_ranks_<name>) and vocab/<enc>.specials into gen/specials_<enc>.c (const tkm_specials
# tkm_specials_<enc>). A .tiktoken whose sha256 differs from tiktoken's expected hash fails the
# build. The generated files include "vocab.h" (kernel/ is added to their include path) and hence
# <xxhash.h>.
#
# A custom target `tkm_vocab_gen` depends on all generated files. If the generated sources are
# listed in more than one target, add add_dependencies(<target> tkm_vocab_gen) to each, so that
# Makefile generators do not run the same generator twice in parallel.
#
# Cross-compiling (CMAKE_CROSSCOMPILING): vocabc must run on the build host, so it is compiled by a
# host C compiler: -DTKM_HOST_CC=/path/to/cc (default: the first of cc, gcc, clang found on the
# host PATH), extra flags in -DTKM_HOST_CFLAGS="..." (e.g. -I/opt/xxhash/include). xxhash is
# header-only here, so the host's /usr/include/xxhash.h suffices.

include_guard(GLOBAL)

set(TKM_HOST_CC "" CACHE STRING "Host C compiler for build-time tools when cross-compiling")
set(TKM_HOST_CFLAGS "" CACHE STRING "Extra flags for TKM_HOST_CC (space-separated)")

# name | .tiktoken file (vocab/) | tiktoken's expected sha256 (tiktoken_ext/openai_public.py)
set(_TKM_VOCAB_RANKS
    "r50k_base|r50k_base|306cd27f03c1a714eca7108e03d66b7dc042abe8c258b44c199a7ed9838dd930"
    "p50k_base|p50k_base|94b5ca7dff4d00767bc256fdd1b27e5b17361d7b8a5f968547f9f23eb70d2069"
    "cl100k_base|cl100k_base|223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"
    "o200k_base|o200k_base|446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d")

# encoding | ranks it uses | n_vocab (tiktoken's Encoding.n_vocab)
set(_TKM_VOCAB_SPECIALS
    "r50k_base|r50k_base|50257"
    "p50k_base|p50k_base|50281"
    "p50k_edit|p50k_base|50284"
    "cl100k_base|cl100k_base|100277"
    "o200k_base|o200k_base|200019"
    "o200k_harmony|o200k_base|201088")

function(_tkm_vocab_host_tool out_cmd out_dep)
    set(_srcs ${TKM_ROOT}/tools/vocabc.c ${TKM_ROOT}/kernel/vocab_build.c ${TKM_ROOT}/kernel/bpe.c
              ${TKM_ROOT}/kernel/sha256.c)
    if(NOT CMAKE_CROSSCOMPILING)
        if(NOT TARGET tkm_vocabc)
            add_executable(tkm_vocabc ${_srcs})
            target_include_directories(tkm_vocabc PRIVATE ${TKM_ROOT}/kernel)
            set_target_properties(tkm_vocabc PROPERTIES C_STANDARD 11 C_STANDARD_REQUIRED ON C_EXTENSIONS OFF
                                                        OUTPUT_NAME vocabc)
        endif()
        set(${out_cmd} $<TARGET_FILE:tkm_vocabc> PARENT_SCOPE)
        set(${out_dep} tkm_vocabc PARENT_SCOPE)
        return()
    endif()
    if(NOT TKM_HOST_CC)
        find_program(_tkm_host_cc NAMES cc gcc clang NO_CMAKE_FIND_ROOT_PATH)
        if(NOT _tkm_host_cc)
            message(FATAL_ERROR "tokmeter: cross-compiling needs a host C compiler for tools/vocabc.c; "
                                "pass -DTKM_HOST_CC=/path/to/cc")
        endif()
        set(TKM_HOST_CC "${_tkm_host_cc}" CACHE STRING "Host C compiler for build-time tools when cross-compiling"
                                                FORCE)
    endif()
    separate_arguments(_flags UNIX_COMMAND "${TKM_HOST_CFLAGS}")
    set(_exe ${CMAKE_CURRENT_BINARY_DIR}/host/vocabc${CMAKE_HOST_EXECUTABLE_SUFFIX})
    add_custom_command(
        OUTPUT ${_exe}
        COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_CURRENT_BINARY_DIR}/host
        COMMAND ${TKM_HOST_CC} -std=c11 -O2 ${_flags} -I${TKM_ROOT}/kernel -o ${_exe} ${_srcs}
        DEPENDS ${_srcs} ${TKM_ROOT}/kernel/vocab.h ${TKM_ROOT}/kernel/bpe.h
        COMMENT "Building host tool vocabc with ${TKM_HOST_CC}"
        VERBATIM)
    set(${out_cmd} ${_exe} PARENT_SCOPE)
    set(${out_dep} ${_exe} PARENT_SCOPE)
endfunction()

function(tkm_vocab_sources out_var)
    if(NOT TKM_ROOT)
        message(FATAL_ERROR "tokmeter: tkm_vocab_sources() needs TKM_ROOT")
    endif()
    _tkm_vocab_host_tool(_vocabc _vocabc_dep)
    set(_gen ${CMAKE_CURRENT_BINARY_DIR}/gen)
    file(MAKE_DIRECTORY ${_gen})
    set(_outs "")

    foreach(_entry IN LISTS _TKM_VOCAB_RANKS)
        string(REPLACE "|" ";" _f "${_entry}")
        list(GET _f 0 _name)
        list(GET _f 1 _file)
        list(GET _f 2 _sha)
        set(_hash_${_file} ${_sha})
        set(_in ${TKM_ROOT}/vocab/${_file}.tiktoken)
        set(_out ${_gen}/vocab_${_name}.c)
        add_custom_command(
            OUTPUT ${_out}
            COMMAND ${_vocabc} --name ${_name} --tiktoken ${_in} --expect-sha256 ${_sha} --out ${_out}
            DEPENDS ${_vocabc_dep} ${_in}
            COMMENT "Generating compiled vocabulary ${_name}"
            VERBATIM)
        list(APPEND _outs ${_out})
    endforeach()

    foreach(_entry IN LISTS _TKM_VOCAB_SPECIALS)
        string(REPLACE "|" ";" _f "${_entry}")
        list(GET _f 0 _name)
        list(GET _f 1 _ranks)
        list(GET _f 2 _nvocab)
        set(_in ${TKM_ROOT}/vocab/${_name}.specials)
        set(_tk ${TKM_ROOT}/vocab/${_ranks}.tiktoken)
        set(_out ${_gen}/specials_${_name}.c)
        add_custom_command(
            OUTPUT ${_out}
            COMMAND ${_vocabc} --name ${_name} --specials ${_in} --n-vocab ${_nvocab} --tiktoken ${_tk}
                    --expect-sha256 ${_hash_${_ranks}} --out ${_out}
            DEPENDS ${_vocabc_dep} ${_in} ${_tk}
            COMMENT "Generating special tokens of ${_name}"
            VERBATIM)
        list(APPEND _outs ${_out})
    endforeach()

    # The generated files are pure data; they compile in ~2 s (o200k) at any -O level, so no
    # per-file optimisation override is needed. They only need kernel/ for "vocab.h".
    set_source_files_properties(${_outs} PROPERTIES GENERATED TRUE INCLUDE_DIRECTORIES ${TKM_ROOT}/kernel)
    if(NOT TARGET tkm_vocab_gen)
        add_custom_target(tkm_vocab_gen DEPENDS ${_outs})
    endif()
    set(${out_var} ${_outs} PARENT_SCOPE)
endfunction()
