// bench_count.cpp - tokmeter throughput / latency / worst-case benchmarks (Google Benchmark).
//
// Uses only the public C API (include/tokmeter.h). Benchmark names:
//
//   count/<encoding>/<set>/<kernel>     every file of corpus set <set> counted with one tkm_count
//                                       call per file, all files in one iteration (pieces never
//                                       span files; per-call setup included as in real use).
//                                       Reports bytes_per_second, tokens/s and tokens (per pass).
//   latency/<encoding>/<source>/<bytes> one tkm_count call on a request-sized slice (100, 1000,
//                                       4096 bytes) of english prose or chat JSON.
//   requests/<encoding>/<source>/<bytes> a gateway's stream of distinct requests: the first MiB of
//                                       the set cut into consecutive slices of about <bytes>, one
//                                       tkm_count call each (no slice repeats, so the caches hold
//                                       what a real stream leaves in them, unlike latency/).
//                                       Reports requests/s (and bytes/s, tokens per pass).
//   batch/<encoding>/<source>/<bytes>   the same slices through tkm_count_batch, 64 per call, on
//                                       one thread: the per-call scratch and the piece cache stay
//                                       warm across the requests of a batch.
//   counter/<encoding>/<source>/<bytes> the same slices one by one through one tkm_counter (a
//                                       gateway worker's), opened afresh for each pass over the
//                                       MiB, so every pass starts with an empty piece cache.
//   open/<encoding>                     tkm_encoding_open + tkm_encoding_free.
//   open_count/<encoding>               open + tkm_count("hello") + free (open to first count).
//   parallel/<encoding>/<set>/<threads> the whole set as one text (its files concatenated), one
//                                       tkm_count_parallel call on 1, 2, ... threads (up to the
//                                       CPUs online); wall time (UseRealTime), so the speed-up is
//                                       parallel/.../2 over parallel/.../1.
//   worst/<encoding>/<kind>             1 MiB of a pathological input (one letter repeated,
//                                       spaces, digits, newlines, seeded random bytes, ...).
//
// The corpus root comes from the compile definition TKM_CORPUS_DIR (CMake cache variable of the
// same name); the environment variable TKM_CORPUS_DIR overrides it at run time. Corpus-based
// benchmarks are skipped with an error message when the corpus is absent.
//
// Kernels: the count benchmarks are registered once per kernel this CPU can run natively
// (tkm_kernel_at; emulated kernels are for tests, not for timing), each on a handle opened with
// tkm_encoding_open_kernel. The other families use the default kernel (tokmeter --kernels).

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unistd.h>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "tokmeter.h"

#ifndef TKM_CORPUS_DIR
#define TKM_CORPUS_DIR "../shared/corpus"
#endif

namespace fs = std::filesystem;

namespace {

const char *const kEncodings[] = {"o200k_base", "cl100k_base", "r50k_base"};
const char *const kSets[] = {"english", "code", "multilingual", "chat", "adversarial"};
const size_t kLatencySizes[] = {100, 1000, 4096};
const size_t kWorstSize = size_t(1) << 20;

// ---- corpus ---------------------------------------------------------------------------------

std::string corpus_dir() {
    const char *env = std::getenv("TKM_CORPUS_DIR");
    return (env && *env) ? std::string(env) : std::string(TKM_CORPUS_DIR);
}

// One corpus set: all regular files of the directory, sorted by name, concatenated into one
// buffer; files[i] = [offset, offset + size) of file i in that buffer.
struct CorpusSet {
    bool ok = false;
    std::string error;
    std::string data;
    std::vector<std::pair<size_t, size_t>> files; // (offset, size)
    std::vector<std::string> names;
};

const CorpusSet &load_set(const std::string &name) {
    static std::map<std::string, std::unique_ptr<CorpusSet>> cache;
    auto it = cache.find(name);
    if (it != cache.end()) return *it->second;
    auto set = std::make_unique<CorpusSet>();
    const fs::path dir = fs::path(corpus_dir()) / name;
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) {
        set->error = "corpus set not found: " + dir.string() + " (set TKM_CORPUS_DIR)";
    } else {
        std::vector<fs::path> paths;
        for (const auto &e : fs::directory_iterator(dir, ec))
            if (e.is_regular_file()) paths.push_back(e.path());
        std::sort(paths.begin(), paths.end(),
                  [](const fs::path &a, const fs::path &b) { return a.filename().string() < b.filename().string(); });
        for (const auto &p : paths) {
            std::ifstream in(p, std::ios::binary);
            if (!in) {
                set->error = "cannot read " + p.string();
                break;
            }
            std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
            set->files.emplace_back(set->data.size(), bytes.size());
            set->names.push_back(p.filename().string());
            set->data += bytes;
        }
        if (set->error.empty() && set->files.empty()) set->error = "corpus set is empty: " + dir.string();
        set->ok = set->error.empty();
    }
    const CorpusSet &ref = *set;
    cache.emplace(name, std::move(set));
    return ref;
}

// ---- encodings (opened once, shared by all benchmarks; handles are thread-safe) -------------

const tkm_encoding *get_encoding(const std::string &name) {
    static std::map<std::string, tkm_encoding *> handles;
    auto it = handles.find(name);
    if (it != handles.end()) return it->second;
    tkm_encoding *enc = nullptr;
    if (tkm_encoding_open(name.c_str(), &enc) != TKM_OK) enc = nullptr;
    handles.emplace(name, enc);
    return enc;
}

// A handle of `name` that counts with `kernel` (opened once, kept).
const tkm_encoding *get_encoding_kernel(const std::string &name, const std::string &kernel) {
    static std::map<std::string, tkm_encoding *> handles;
    const std::string key = name + "/" + kernel;
    auto it = handles.find(key);
    if (it != handles.end()) return it->second;
    tkm_encoding *enc = nullptr;
    if (tkm_encoding_open_kernel(name.c_str(), kernel.c_str(), &enc) != TKM_OK) enc = nullptr;
    handles.emplace(key, enc);
    return enc;
}

// The kernels this CPU runs natively, best first.
std::vector<std::string> native_kernels() {
    std::vector<std::string> v;
    unsigned f = 0;
    const char *k;
    for (size_t i = 0; (k = tkm_kernel_at(i, &f)) != nullptr; i++)
        if ((f & TKM_KERNEL_USABLE) && (f & TKM_KERNEL_NATIVE)) v.emplace_back(k);
    return v;
}

// bytes_per_second and tokens/s of a benchmark whose every iteration counts `bytes` into `tokens`.
void report_pass(benchmark::State &state, size_t bytes, size_t tokens) {
    const auto iters = static_cast<double>(state.iterations());
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(bytes));
    state.counters["tokens/s"] = benchmark::Counter(static_cast<double>(tokens) * iters, benchmark::Counter::kIsRate);
}

// ---- count/<encoding>/<set>/<kernel> -------------------------------------------------------

void BM_Count(benchmark::State &state, std::string encoding, std::string set_name, std::string kernel) {
    const CorpusSet &set = load_set(set_name);
    if (!set.ok) {
        state.SkipWithError(set.error.c_str());
        return;
    }
    const tkm_encoding *enc = get_encoding_kernel(encoding, kernel);
    if (!enc) {
        state.SkipWithError(("cannot open encoding " + encoding + " with kernel " + kernel).c_str());
        return;
    }
    const char *base = set.data.data();
    size_t tokens = 0;
    for (auto _ : state) {
        size_t total = 0;
        for (const auto &f : set.files) {
            size_t n = 0;
            if (tkm_count(enc, base + f.first, f.second, &n) != TKM_OK) {
                state.SkipWithError("tkm_count failed");
                return;
            }
            total += n;
        }
        benchmark::DoNotOptimize(total);
        tokens = total;
    }
    report_pass(state, set.data.size(), tokens);
    state.counters["tokens"] = benchmark::Counter(static_cast<double>(tokens));
    state.counters["files"] = benchmark::Counter(static_cast<double>(set.files.size()));
}

// ---- parallel/<encoding>/<set>/<threads> ---------------------------------------------------

void BM_Parallel(benchmark::State &state, std::string encoding, std::string set_name, unsigned threads) {
    const CorpusSet &set = load_set(set_name);
    if (!set.ok) {
        state.SkipWithError(set.error.c_str());
        return;
    }
    const tkm_encoding *enc = get_encoding(encoding);
    if (!enc) {
        state.SkipWithError(("cannot open encoding " + encoding).c_str());
        return;
    }
    size_t tokens = 0;
    for (auto _ : state) {
        tkm_result r;
        std::memset(&r, 0, sizeof r);
        r.struct_size = sizeof r;
        if (tkm_count_parallel(enc, set.data.data(), set.data.size(), threads, nullptr, &r) != TKM_OK) {
            state.SkipWithError("tkm_count_parallel failed");
            return;
        }
        benchmark::DoNotOptimize(r.tokens);
        tokens = r.tokens;
    }
    report_pass(state, set.data.size(), tokens);
    state.counters["threads"] = benchmark::Counter(static_cast<double>(threads));
}

// ---- latency/<encoding>/<source>/<bytes> ----------------------------------------------------

// A slice of about `len` bytes of a set, from the start of a line about a third into its largest
// file, shortened so that it never ends inside a UTF-8 sequence.
bool request_slice(const CorpusSet &set, size_t len, std::string *out) {
    size_t best = 0;
    for (size_t i = 1; i < set.files.size(); i++)
        if (set.files[i].second > set.files[best].second) best = i;
    const size_t off0 = set.files[best].first, size = set.files[best].second;
    if (size < len) return false;
    size_t start = off0 + size / 3;
    while (start < off0 + size && set.data[start] != '\n') start++;
    if (start < off0 + size) start++;
    if (start + len > off0 + size) start = off0; // small file: take its beginning
    size_t end = start + len;
    while (end > start && (static_cast<unsigned char>(set.data[end]) & 0xC0u) == 0x80u) end--;
    out->assign(set.data, start, end - start);
    return true;
}

void BM_Latency(benchmark::State &state, std::string encoding, std::string source, size_t len) {
    const CorpusSet &set = load_set(source);
    if (!set.ok) {
        state.SkipWithError(set.error.c_str());
        return;
    }
    std::string text;
    if (!request_slice(set, len, &text)) {
        state.SkipWithError("corpus set has no file large enough");
        return;
    }
    const tkm_encoding *enc = get_encoding(encoding);
    if (!enc) {
        state.SkipWithError(("cannot open encoding " + encoding).c_str());
        return;
    }
    size_t n = 0;
    for (auto _ : state) {
        benchmark::DoNotOptimize(text.data());
        if (tkm_count(enc, text.data(), text.size(), &n) != TKM_OK) {
            state.SkipWithError("tkm_count failed");
            return;
        }
        benchmark::DoNotOptimize(n);
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(text.size()));
    state.counters["tokens"] = benchmark::Counter(static_cast<double>(n));
}

// ---- requests/<encoding>/<source>/<bytes>, batch/... ---------------------------------------

const size_t kRequestBytes = size_t(1) << 20; // per iteration: the first MiB of the set
const size_t kBatchItems = 64;

// Consecutive slices of about `len` bytes of the set's first kRequestBytes, each cut back so that
// it never ends inside a UTF-8 sequence.
std::vector<tkm_text> request_stream(const CorpusSet &set, size_t len) {
    std::vector<tkm_text> items;
    const size_t limit = std::min(set.data.size(), kRequestBytes);
    size_t start = 0;
    while (start + len <= limit) {
        size_t end = start + len;
        while (end > start + 1 && (static_cast<unsigned char>(set.data[end]) & 0xC0u) == 0x80u) end--;
        tkm_text t;
        t.struct_size = sizeof t;
        t.data = set.data.data() + start;
        t.len = end - start;
        items.push_back(t);
        start = end;
    }
    return items;
}

enum class RequestMode { single, batch, counter };

void BM_Requests(benchmark::State &state, std::string encoding, std::string source, size_t len, RequestMode mode) {
    const CorpusSet &set = load_set(source);
    if (!set.ok) {
        state.SkipWithError(set.error.c_str());
        return;
    }
    const std::vector<tkm_text> items = request_stream(set, len);
    if (items.empty()) {
        state.SkipWithError("corpus set too small");
        return;
    }
    const tkm_encoding *enc = get_encoding(encoding);
    if (!enc) {
        state.SkipWithError(("cannot open encoding " + encoding).c_str());
        return;
    }
    std::vector<tkm_item_result> out(kBatchItems);
    out[0].struct_size = sizeof(tkm_item_result);
    size_t bytes = 0, tokens = 0;
    for (const tkm_text &t : items) bytes += t.len;
    for (auto _ : state) {
        tokens = 0;
        if (mode == RequestMode::batch) {
            for (size_t i = 0; i < items.size(); i += kBatchItems) {
                const size_t k = std::min(kBatchItems, items.size() - i);
                if (tkm_count_batch(enc, items.data() + i, k, 1, nullptr, out.data()) != TKM_OK) {
                    state.SkipWithError("tkm_count_batch failed");
                    return;
                }
                for (size_t j = 0; j < k; j++) tokens += out[j].tokens;
            }
        } else if (mode == RequestMode::counter) {
            tkm_counter *c = nullptr;
            if (tkm_counter_open(enc, nullptr, &c) != TKM_OK) {
                state.SkipWithError("tkm_counter_open failed");
                return;
            }
            tkm_result r;
            std::memset(&r, 0, sizeof r);
            r.struct_size = sizeof r;
            for (const tkm_text &t : items) {
                if (tkm_counter_count(c, t.data, t.len, &r) != TKM_OK) {
                    tkm_counter_free(c);
                    state.SkipWithError("tkm_counter_count failed");
                    return;
                }
                tokens += r.tokens;
            }
            tkm_counter_free(c);
        } else {
            for (const tkm_text &t : items) {
                size_t n = 0;
                if (tkm_count(enc, t.data, t.len, &n) != TKM_OK) {
                    state.SkipWithError("tkm_count failed");
                    return;
                }
                tokens += n;
            }
        }
        benchmark::DoNotOptimize(tokens);
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(bytes));
    state.counters["requests"] = benchmark::Counter(static_cast<double>(items.size()));
    state.counters["requests/s"] =
        benchmark::Counter(static_cast<double>(items.size()), benchmark::Counter::kIsIterationInvariantRate);
    state.counters["tokens"] = benchmark::Counter(static_cast<double>(tokens));
}

// ---- open/<encoding>, open_count/<encoding> -------------------------------------------------

void BM_Open(benchmark::State &state, std::string encoding, bool count) {
    static const char hello[] = "hello";
    for (auto _ : state) {
        tkm_encoding *enc = nullptr;
        if (tkm_encoding_open(encoding.c_str(), &enc) != TKM_OK) {
            state.SkipWithError(("cannot open encoding " + encoding).c_str());
            return;
        }
        if (count) {
            size_t n = 0;
            if (tkm_count(enc, hello, sizeof hello - 1, &n) != TKM_OK) {
                tkm_encoding_free(enc);
                state.SkipWithError("tkm_count failed");
                return;
            }
            benchmark::DoNotOptimize(n);
        }
        benchmark::DoNotOptimize(enc);
        tkm_encoding_free(enc);
    }
}

// ---- worst/<encoding>/<kind> ----------------------------------------------------------------

// `unit` repeated to exactly kWorstSize bytes, cut back to the last whole unit.
std::string repeat_unit(const std::string &unit) {
    std::string s;
    s.reserve(kWorstSize);
    while (s.size() + unit.size() <= kWorstSize) s += unit;
    return s;
}

std::string random_bytes(uint64_t seed) {
    std::string s(kWorstSize, '\0');
    uint64_t x = seed;
    for (auto &c : s) { // xorshift64*: deterministic, no library dependence
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        c = static_cast<char>((x * 0x2545F4914F6CDD1DULL) >> 56);
    }
    return s;
}

struct WorstKind {
    const char *name;
    std::string (*make)();
};

const WorstKind kWorst[] = {
    {"letter", [] { return repeat_unit("a"); }},
    {"spaces", [] { return repeat_unit(" "); }},
    {"digits", [] { return repeat_unit("0123456789"); }},
    {"newlines", [] { return repeat_unit("\n"); }},
    {"crlf", [] { return repeat_unit("\r\n"); }},
    {"random_bytes", [] { return random_bytes(0x746B6D6574657221ULL); }},
    {"emoji", [] { return repeat_unit("\xF0\x9F\x98\x80"); }},                 // U+1F600
    {"cjk", [] { return repeat_unit("\xE4\xB8\x80"); }},                       // U+4E00
    {"alt_a1", [] { return repeat_unit("a1"); }},
    {"alt_a_space", [] { return repeat_unit("a "); }},
    {"punct", [] { return repeat_unit("!?"); }},
    {"letters_cycle", [] { return repeat_unit("abcdefghijklmnopqrstuvwxyz"); }},
    {"space_letter_run", [] { return " " + repeat_unit("x").substr(1); }},
};

void BM_Worst(benchmark::State &state, std::string encoding, const WorstKind *kind) {
    static std::map<std::string, std::string> inputs;
    auto it = inputs.find(kind->name);
    if (it == inputs.end()) it = inputs.emplace(kind->name, kind->make()).first;
    const std::string &text = it->second;
    const tkm_encoding *enc = get_encoding(encoding);
    if (!enc) {
        state.SkipWithError(("cannot open encoding " + encoding).c_str());
        return;
    }
    size_t n = 0;
    for (auto _ : state) {
        if (tkm_count(enc, text.data(), text.size(), &n) != TKM_OK) {
            state.SkipWithError("tkm_count failed");
            return;
        }
        benchmark::DoNotOptimize(n);
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(text.size()));
    state.counters["tokens"] = benchmark::Counter(static_cast<double>(n));
}

// ---- registration ---------------------------------------------------------------------------

void register_all() {
    for (const char *e : kEncodings)
        for (const char *s : kSets)
            for (const std::string &k : native_kernels())
                benchmark::RegisterBenchmark((std::string("count/") + e + "/" + s + "/" + k).c_str(), BM_Count,
                                             std::string(e), std::string(s), k)
                    ->Unit(benchmark::kMillisecond);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    const unsigned max_threads = cpus > 1 ? static_cast<unsigned>(std::min(cpus, 64L)) : 1u;
    for (const char *e : kEncodings)
        for (const char *s : kSets)
            for (unsigned t = 1; t <= max_threads; t *= 2)
                benchmark::RegisterBenchmark(
                    (std::string("parallel/") + e + "/" + s + "/" + std::to_string(t)).c_str(), BM_Parallel,
                    std::string(e), std::string(s), t)
                    ->Unit(benchmark::kMillisecond)
                    ->UseRealTime();
    for (const char *e : kEncodings)
        for (const char *src : {"english", "chat"})
            for (size_t len : kLatencySizes)
                benchmark::RegisterBenchmark(
                    (std::string("latency/") + e + "/" + src + "/" + std::to_string(len)).c_str(), BM_Latency,
                    std::string(e), std::string(src), len)
                    ->Unit(benchmark::kMicrosecond);
    const std::pair<const char *, RequestMode> kModes[] = {
        {"requests", RequestMode::single}, {"batch", RequestMode::batch}, {"counter", RequestMode::counter}};
    for (const auto &kind : kModes)
        for (const char *e : kEncodings)
            for (const char *src : {"english", "chat"})
                for (size_t len : kLatencySizes)
                    benchmark::RegisterBenchmark(
                        (std::string(kind.first) + "/" + e + "/" + src + "/" + std::to_string(len)).c_str(),
                        BM_Requests, std::string(e), std::string(src), len, kind.second)
                        ->Unit(benchmark::kMillisecond);
    for (const char *e : kEncodings) {
        benchmark::RegisterBenchmark((std::string("open/") + e).c_str(), BM_Open, std::string(e), false)
            ->Unit(benchmark::kMicrosecond);
        benchmark::RegisterBenchmark((std::string("open_count/") + e).c_str(), BM_Open, std::string(e), true)
            ->Unit(benchmark::kMicrosecond);
    }
    for (const char *e : kEncodings)
        for (const WorstKind &w : kWorst)
            benchmark::RegisterBenchmark((std::string("worst/") + e + "/" + w.name).c_str(), BM_Worst,
                                         std::string(e), &w)
                ->Unit(benchmark::kMillisecond);
}

} // namespace

int main(int argc, char **argv) {
    register_all();
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::AddCustomContext("tokmeter_version", tkm_version_string());
    benchmark::AddCustomContext("corpus_dir", corpus_dir());
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
