// Native Verilator harness of the streaming-PCA unit: the co-simulation speed ceiling.
//
// Verilator spells the port samples__payload as samples___05Fpayload (a double underscore is
// escaped).
//
// Drives the Verilated unit (prefix Vtop) with the same protocol as cosim/unit_host.py, with no
// cocotb and no Python: reset, load a state (kxk_in + load pulse + rows), run batches of samples
// without idle cycles, read the state out. Built and run by cosim/native.py.
//
//   native_unit IN OUT
//
// IN is a file of little-endian uint32 words:
//   kxk_words, kxk_in words; n_rows, row_words, rows; n_batches;
//   per batch: B, n_beats, beat_words, beats.
// A value of W words holds bits [32w, 32w + 32) in word w.
// OUT receives, as uint32 words: n_rows, row_words, the rows read out after the last batch,
// kxk_words, the kxk port, overflow.
// stdout: one JSON object with the cycles of each batch (batch beat taken to done, as the cocotb
// bench counts them) and the wall time of the batch phase (load and readout excluded).

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

#include "Vtop.h"
#include "verilated.h"

namespace {

void put(CData& p, const uint32_t* w) { p = static_cast<CData>(w[0]); }
void put(SData& p, const uint32_t* w) { p = static_cast<SData>(w[0]); }
void put(IData& p, const uint32_t* w) { p = w[0]; }
void put(QData& p, const uint32_t* w) { p = QData(w[0]) | (QData(w[1]) << 32); }
template <std::size_t N> void put(VlWide<N>& p, const uint32_t* w) {
    for (std::size_t i = 0; i < N; ++i) p[i] = w[i];
}
void get(const CData& p, uint32_t* w) { w[0] = p; }
void get(const SData& p, uint32_t* w) { w[0] = p; }
void get(const IData& p, uint32_t* w) { w[0] = p; }
void get(const QData& p, uint32_t* w) { w[0] = uint32_t(p); w[1] = uint32_t(p >> 32); }
template <std::size_t N> void get(const VlWide<N>& p, uint32_t* w) {
    for (std::size_t i = 0; i < N; ++i) w[i] = p[i];
}

struct Reader {
    std::vector<uint32_t> words;
    std::size_t at = 0;
    uint32_t next() {
        if (at >= words.size()) { std::fprintf(stderr, "native_unit: input truncated\n"); std::exit(2); }
        return words[at++];
    }
    const uint32_t* take(std::size_t n) {
        if (at + n > words.size()) { std::fprintf(stderr, "native_unit: input truncated\n"); std::exit(2); }
        const uint32_t* p = &words[at];
        at += n;
        return p;
    }
};

struct Harness {
    std::unique_ptr<VerilatedContext> ctx{new VerilatedContext};
    std::unique_ptr<Vtop> top{new Vtop{ctx.get()}};
    uint64_t cycle = 0;

    // Inputs are set before the call; outputs read between the two evals are the values the
    // rising edge samples.
    void low() { top->clk = 0; top->eval(); }
    void high() { top->clk = 1; top->eval(); ++cycle; }
    void tick() { low(); high(); }

    void wait_ready_transfer(CData& ready_out) {
        for (;;) { low(); bool r = ready_out; high(); if (r) return; }
    }
};

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) { std::fprintf(stderr, "usage: native_unit IN OUT\n"); return 2; }
    Reader in;
    {
        FILE* f = std::fopen(argv[1], "rb");
        if (!f) { std::perror(argv[1]); return 2; }
        uint32_t w;
        while (std::fread(&w, 4, 1, f) == 1) in.words.push_back(w);
        std::fclose(f);
    }
    Harness h;
    Vtop* t = h.top.get();

    t->rst = 1;
    for (int i = 0; i < 3; ++i) h.tick();
    t->rst = 0;
    h.tick();

    // load: kxk_in with a load pulse, then the rows
    uint32_t kxk_words = in.next();
    put(t->kxk_in, in.take(kxk_words));
    t->load = 1;
    h.tick();
    t->load = 0;
    uint32_t n_rows = in.next(), row_words = in.next();
    for (uint32_t r = 0; r < n_rows; ++r) {
        put(t->load_rows___05Fpayload, in.take(row_words));
        t->load_rows___05Fvalid = 1;
        h.wait_ready_transfer(t->load_rows___05Fready);
    }
    t->load_rows___05Fvalid = 0;
    for (;;) { h.low(); bool busy = t->busy; h.high(); if (!busy) break; }

    uint32_t n_batches = in.next();
    struct Batch { uint32_t B, n_beats, beat_words; const uint32_t* beats; };
    std::vector<Batch> batches;
    for (uint32_t b = 0; b < n_batches; ++b) {
        Batch x;
        x.B = in.next(); x.n_beats = in.next(); x.beat_words = in.next();
        x.beats = in.take(std::size_t(x.n_beats) * x.beat_words);
        batches.push_back(x);
    }

    std::vector<uint64_t> cycles;
    auto t0 = std::chrono::steady_clock::now();
    for (const Batch& x : batches) {
        t->batch___05Fpayload = x.B;
        t->batch___05Fvalid = 1;
        h.wait_ready_transfer(t->batch___05Fready);
        uint64_t taken = h.cycle;
        t->batch___05Fvalid = 0;
        for (uint32_t i = 0; i < x.n_beats; ++i) {
            put(t->samples___05Fpayload, x.beats + std::size_t(i) * x.beat_words);
            t->samples___05Fvalid = 1;
            h.wait_ready_transfer(t->samples___05Fready);
        }
        t->samples___05Fvalid = 0;
        for (;;) { h.low(); bool done = t->done; h.high(); if (done) break; }
        if (t->error) { std::fprintf(stderr, "native_unit: error raised by batch %u\n", x.B); return 1; }
        cycles.push_back(h.cycle - 1 - taken);   // done rose after edge h.cycle - 1
    }
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    // readout without backpressure
    std::vector<uint32_t> out = {n_rows, row_words};
    t->readout = 1;
    h.tick();
    t->readout = 0;
    t->rows_o___05Fready = 1;
    std::vector<uint32_t> row(row_words + 2);
    for (uint32_t got = 0; got < n_rows;) {
        h.low();
        if (t->rows_o___05Fvalid) {
            get(t->rows_o___05Fpayload, row.data());
            out.insert(out.end(), row.begin(), row.begin() + row_words);
            ++got;
        }
        h.high();
    }
    t->rows_o___05Fready = 0;
    for (;;) { h.low(); bool busy = t->busy; h.high(); if (!busy) break; }
    h.low();
    std::vector<uint32_t> kxk(kxk_words + 2);
    get(t->kxk, kxk.data());
    out.push_back(kxk_words);
    out.insert(out.end(), kxk.begin(), kxk.begin() + kxk_words);
    out.push_back(t->overflow);
    FILE* f = std::fopen(argv[2], "wb");
    if (!f) { std::perror(argv[2]); return 2; }
    std::fwrite(out.data(), 4, out.size(), f);
    std::fclose(f);

    std::printf("{\"cycles\": [");
    for (std::size_t i = 0; i < cycles.size(); ++i)
        std::printf("%s%llu", i ? ", " : "", static_cast<unsigned long long>(cycles[i]));
    std::printf("], \"seconds\": %.9f, \"total_cycles\": %llu}\n", seconds,
                static_cast<unsigned long long>(h.cycle));
    t->final();
    return 0;
}
