// Writing the network's runs in the simulator's dump format (docs/format.md):
// per op its "//in K" records then "//out 0", each record one write(2),
// paced like a running simulator, repeated or cut mid-record on request.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "sigdump/dump_writer.h"
#include "sigdump/error.h"
#include "sigdump/sim/network.h"

namespace sigdump::sim {

struct sim_write_options {
  std::chrono::milliseconds pace{0};  // sleep between layers
  std::int64_t cut_after = -1;        // >= 0: write this many records, then half of the next, stop
  int repeat = 1;                     // runs written one after another into the same file
  const std::atomic<bool>* stop = nullptr;  // when set and true, stop between layers
};

/* Writer options the simulator uses: binary, "\n};\n" trailers, isFloat
   from the config (float mode or dequant). */
writer_options simulator_writer_options(const sim_config& config);

/* Writes `layers` through `writer` as the simulator does: per op its
   "//in K" records (inputs, then constants) then "//out 0", each record one
   write(2), pacing between ops. Returns the number of complete records
   written (a cut record is not counted). */
result<std::uint64_t> write_layers(dump_writer& writer, const std::vector<sim_layer>& layers,
                                   const sim_config& config, const sim_write_options& options);

/* Creates (truncates) `path`, runs the network and writes it. */
result<std::uint64_t> simulate_to_file(const std::string& path, const sim_config& config,
                                       const sim_write_options& options);

}  // namespace sigdump::sim
