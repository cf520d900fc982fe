// `sigdump demo`: the whole product on a built-in example. A real sigdumpd
// (temporary socket and state folder) pairs the miniature simulator's
// fixed-point dump with its float dump; the simulator writes layer by layer
// in child processes; this process subscribes and prints each layer's
// metrics as they arrive, then the diagnosis and the INT16 advice; then it
// applies the advice through an input_config.ini, runs the fixed model
// again and shows the layer fixed. Everything it starts it stops.
#include <fcntl.h>
#include <signal.h>
#include <simdjson.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "command.h"
#include "compare_inputs.h"
#include "option_words.h"
#include "sigdump/dump_file.h"
#include "sigdump/ipc/client.h"
#include "sigdump/json_util.h"
#include "sigdump/report/report_text.h"

namespace sigdump::cli {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::atomic<bool> interrupted{false};
void on_interrupt(int) { interrupted.store(true); }

struct demo_settings {
  int pace_ms = 250;
  bool keep = false;
  bool color = false;
};

// Paths of the programs next to this one (build/bin or the install bindir).
std::string sibling_program(const std::string& name) {
  std::error_code ec;
  auto self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    auto candidate = self.parent_path() / name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return name;  // rely on PATH
}

// A child process we started and must not leave behind.
class process {
 public:
  process() = default;
  process(const process&) = delete;
  process& operator=(const process&) = delete;
  ~process() { stop(); }

  bool start(const std::vector<std::string>& argv, const std::string& log_path,
             const std::vector<std::pair<std::string, std::string>>& env = {}) {
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    pid_ = ::fork();
    if (pid_ < 0) {
      if (log_fd >= 0) ::close(log_fd);
      return false;
    }
    if (pid_ == 0) {
      int null_fd = ::open("/dev/null", O_RDWR);
      if (null_fd >= 0) {
        ::dup2(null_fd, 0);
        ::dup2(null_fd, 1);
      }
      if (log_fd >= 0) ::dup2(log_fd, 2);
      for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
      ::execvp(args[0], args.data());
      std::fprintf(stderr, "exec %s: %s\n", args[0], std::strerror(errno));
      ::_exit(127);
    }
    if (log_fd >= 0) ::close(log_fd);
    return true;
  }

  /* Waits for exit; returns the exit code, -1 if killed or not started. */
  int wait() {
    if (pid_ <= 0) return -1;
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  bool running() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    return true;
  }

  /* SIGTERM, then SIGKILL after a grace period. */
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 300 && running(); ++i) std::this_thread::sleep_for(10ms);
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      wait();
    }
  }

 private:
  pid_t pid_ = -1;
};

std::string paint(const demo_settings& s, const char* code, const std::string& text) {
  if (!s.color) return text;
  return std::string("\033[") + code + "m" + text + "\033[0m";
}

struct layer_row {
  std::int64_t index = 0;
  std::string name;
  double mse = 0, cos = 0, rmse = 0;
  bool suspect = false;
  std::string error;
};

std::optional<layer_row> parse_layer(simdjson::dom::element layer) {
  layer_row row;
  std::int64_t index = 0;
  std::string_view name;
  if (layer["index"].get(index) || layer["name"].get(name)) return std::nullopt;
  row.index = index;
  row.name = std::string(name);
  double v = 0;
  if (!layer["mse"].get(v)) row.mse = v;
  if (!layer["cos"].get(v)) row.cos = v;
  if (!layer["rmse"].get(v)) row.rmse = v;
  bool b = false;
  if (!layer["suspect"].get(b)) row.suspect = b;
  std::string_view err;
  if (!layer["error"].get(err)) row.error = std::string(err);
  return row;
}

void print_layer(const demo_settings& s, const std::string& run, const layer_row& row) {
  char line[512];
  if (!row.error.empty()) {
    std::snprintf(line, sizeof line, "  %-4s %3lld) %-28s ERROR: %s", run.c_str(),
                  static_cast<long long>(row.index), row.name.c_str(), row.error.c_str());
    std::printf("%s\n", paint(s, "31", line).c_str());
  } else {
    std::snprintf(line, sizeof line, "  %-4s %3lld) %-28s MSE: %f COS: %f RMSE: %f%s", run.c_str(),
                  static_cast<long long>(row.index), row.name.c_str(), row.mse, row.cos, row.rmse,
                  row.suspect ? "   <- suspect" : "");
    std::printf("%s\n", row.suspect ? paint(s, "1;31", line).c_str() : line);
  }
  std::fflush(stdout);
}

// What one watched fixed-model run produced, as seen on the stream.
struct run_outcome {
  std::string run;
  std::map<std::int64_t, layer_row> layers;  // by layer index
  std::string first_bad;
  std::string diagnosis;
};

/* Reads events until the run of the fixed dump ends, printing layers.
   Returns nullopt (after printing why) on timeout or a broken stream. */
std::optional<run_outcome> follow_run(ipc::client& c, const demo_settings& s,
                                      const std::string& after_run, std::chrono::seconds limit) {
  simdjson::dom::parser parser;
  run_outcome out;
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (interrupted.load()) return std::nullopt;
    auto ev = c.next_event(200ms);
    if (!ev) {
      std::fprintf(stderr, "sigdump: error: demo: %s\n", ev.error().describe().c_str());
      return std::nullopt;
    }
    if (!ev->has_value()) continue;
    const ipc::message& m = **ev;
    simdjson::dom::element doc;
    if (parser.parse(m.line).get(doc)) continue;
    std::string_view run;
    if (doc["run"].get(run)) run = "";
    if (!after_run.empty() && run == after_run) continue;  // the previous run's tail
    if (m.event == "run_start" || m.event == "run_reset") {
      // A rewrite is announced as run_reset and run_start of the same run.
      if (out.run != run) {
        out.run = std::string(run);
        std::printf("%s\n", paint(s, "1", "  run " + out.run + " started").c_str());
      }
    } else if (m.event == "layer") {
      if (out.run.empty()) out.run = std::string(run);
      simdjson::dom::element layer;
      if (doc["layer"].get(layer)) continue;
      if (auto row = parse_layer(layer)) {
        print_layer(s, out.run, *row);
        out.layers[row->index] = *row;
      }
    } else if (m.event == "run_end") {
      if (out.run.empty()) out.run = std::string(run);
      simdjson::dom::element fb;
      if (!doc["first_bad"].get(fb) && fb.is_object()) {
        std::string_view name, reason;
        std::int64_t idx = 0;
        if (!fb["name"].get(name) && !fb["index"].get(idx)) {
          out.first_bad = std::to_string(idx) + ") " + std::string(name);
          if (!fb["reason"].get(reason)) out.first_bad += ": " + std::string(reason);
        }
      }
      std::string_view text;
      if (!doc["diagnosis"]["text"].get(text)) out.diagnosis = std::string(text);
      std::printf("%s\n", paint(s, "1", "  run " + out.run + " ended").c_str());
      std::string_view coverage, verdict;
      if (!doc["coverage"]["text"].get(coverage) && !doc["verdict"].get(verdict)) {
        std::printf("  coverage: %s\n  verdict: %s\n", std::string(coverage).c_str(),
                    std::string(verdict).c_str());
      }
      return out;
    }
  }
  std::fprintf(stderr, "sigdump: error: demo: no end of run within %llds\n",
               static_cast<long long>(limit.count()));
  return std::nullopt;
}

/* The advice for a finished comparison, from the daemon's compare method. */
std::vector<std::string> fetch_advice(ipc::client& c, const std::string& fixed,
                                      const std::string& reference, std::string& block,
                                      std::vector<std::string>& ranked,
                                      std::int64_t& first_bad_record) {
  json_writer w;
  w.begin_object().field("sample", fixed).field("benchmark", reference).end_object();
  auto reply = c.call("compare", w.str(), 30s);
  std::vector<std::string> tensors;
  if (!reply || reply->is_error) return tensors;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(reply->result).get(doc)) return tensors;
  simdjson::dom::array arr;
  if (!doc["advice"]["tensor_arrays"].get(arr)) {
    for (auto e : arr) {
      std::string_view v;
      if (!e.get(v)) tensors.emplace_back(v);
    }
  }
  std::string_view cfg;
  if (!doc["advice"]["input_config"].get(cfg)) block = std::string(cfg);
  // The ranking, root cause first: "tensor  (why)" for the tensors shown.
  simdjson::dom::array rk;
  std::uint64_t shown = 0;
  if (!doc["advice"]["ranked"].get(rk) && !doc["advice"]["shown"].get(shown)) {
    for (auto e : rk) {
      if (ranked.size() >= shown) break;
      std::string_view tensor, why;
      if (e["tensor"].get(tensor) || e["why"].get(why)) continue;
      ranked.push_back(std::string(tensor) + "  (" + std::string(why) + ")");
    }
  }
  std::string_view root;
  if (!doc["advice"]["root"]["text"].get(root)) ranked.insert(ranked.begin(), std::string(root));
  // The first bad layer's record in the fixed dump, for its channels.
  std::uint64_t at = 0;
  simdjson::dom::array layers;
  if (!doc["first_bad"]["index"].get(at) && !doc["layers"].get(layers) && at < layers.size()) {
    std::int64_t rec = -1;
    if (!layers.at(at)["sample_record"].get(rec)) first_bad_record = rec;
  }
  return tensors;
}

/* The first bad layer per channel, as `sigdump compare` prints it: which
   channels carry the damage. */
void print_first_bad_channels(const std::string& fixed, std::int64_t record,
                              const std::string& reference) {
  auto f = dump_file::open(fixed);
  if (record < 0 || !f) return;
  layer_result l;
  if (!compare_channels(*f, static_cast<std::uint32_t>(record), reference, l).empty() ||
      !l.channels) {
    return;
  }
  std::printf("  channels of %s:\n%s", l.name.c_str(),
              channel_text(*l.channels, l.shape, "    ").c_str());
}

int run_demo(const std::vector<std::string>& args) {
  demo_settings s;
  s.color = ::isatty(STDOUT_FILENO) && std::getenv("NO_COLOR") == nullptr;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto [a, inline_value] = split_option(args[i]);
    if (a == "--pace-ms") {
      const auto value = option_value({a, inline_value}, args, i);
      if (!value) return fail("demo: --pace-ms needs a value");
      const std::string& v_text = *value;
      char* end = nullptr;
      long v = std::strtol(v_text.c_str(), &end, 10);
      if (v_text.empty() || *end != '\0' || v < 0 || v > 10000) {
        return fail("demo: --pace-ms takes milliseconds from 0 to 10000, got '" + v_text + "'");
      }
      s.pace_ms = static_cast<int>(v);
    } else if (inline_value) {
      return fail("demo: option '" + a + "' takes no value");
    } else if (a == "--keep") {
      s.keep = true;
    } else if (a == "--no-color") {
      s.color = false;
    } else {
      return fail("demo: unknown argument '" + a + "' (see 'sigdump demo --help')");
    }
  }

  struct sigaction sa {};
  sa.sa_handler = on_interrupt;
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);

  std::string base = (std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp");
  std::string templ = base + "/sigdump-demo-XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) {
    return fail("demo: cannot create a folder under " + base + ": " + std::strerror(errno));
  }
  const fs::path root = templ;
  struct cleanup {
    fs::path root;
    bool keep;
    ~cleanup() {
      if (keep) {
        std::printf("demo files kept in %s\n", root.c_str());
        return;
      }
      std::error_code ec;
      fs::remove_all(root, ec);
    }
  } cleaner{root, s.keep};

  fs::create_directories(root / "float");
  fs::create_directories(root / "fixed");
  const std::string float_dump = (root / "float" / "sigma_outtensor_dump.bin").string();
  const std::string fixed_dump = (root / "fixed" / "sigma_outtensor_dump.bin").string();
  const std::string socket = (root / "run" / "sock").string();
  const std::string sigdump_bin = sibling_program("sigdump");
  const std::string sigdumpd_bin = sibling_program("sigdumpd");

  std::printf("%s\n", paint(s, "1",
                            "sigdump demo: a miniature IPU simulator, float and fixed-point, "
                            "watched live by sigdumpd")
                          .c_str());
  std::printf("  folder: %s\n", root.c_str());

  // The reference (float model) dump is written first, quickly: in real use
  // it is usually an earlier run.
  process float_writer;
  if (!float_writer.start({sigdump_bin, "simulate", "--mode", "float", "--out", float_dump},
                          (root / "simulate-float.log").string()) ||
      float_writer.wait() != 0) {
    return fail("demo: the float simulation failed; see " + (root / "simulate-float.log").string());
  }
  std::printf("  float model dump written: %s\n", float_dump.c_str());

  process daemon;
  const std::string daemon_log = (root / "sigdumpd.log").string();
  if (!daemon.start({sigdumpd_bin, "--foreground", "--socket", socket, "--state-dir",
                     (root / "state").string(), "--watch", (root / "fixed").string(), "--watch",
                     (root / "float").string(), "--pair", "demo:" + fixed_dump + "=" + float_dump,
                     "--quiet-ms", "1500"},
                    daemon_log, {{"XDG_CONFIG_HOME", (root / "config").string()}})) {
    return fail("demo: cannot start " + sigdumpd_bin);
  }

  // Connect (the daemon needs a moment to bind).
  std::optional<ipc::client> conn;
  std::string last_error;
  for (int i = 0; i < 200 && !interrupted.load(); ++i) {
    auto c = ipc::client::connect(socket, 1s);
    if (c) {
      conn.emplace(std::move(*c));
      break;
    }
    last_error = c.error().describe();
    if (!daemon.running()) break;
    std::this_thread::sleep_for(25ms);
  }
  if (!conn) {
    std::string log;
    std::ifstream in(daemon_log);
    std::getline(in, log, '\0');
    return fail("demo: sigdumpd did not come up (" + last_error + ")\n" + log);
  }
  auto hello = conn->call("hello", R"({"client":"sigdump-demo","protocol":1})", 5s);
  auto sub = conn->call("subscribe", R"({"pair":"demo"})", 5s);
  if (!hello || hello->is_error || !sub || sub->is_error) {
    return fail("demo: the daemon refused the subscription: " +
                (sub ? sub->error_message : sub.error().describe()));
  }
  std::printf("  sigdumpd is watching; subscribed to pair 'demo' (fixed vs float)\n\n");

  // Fixed-point model, 8-bit everywhere: the designed layer breaks.
  std::printf("%s\n", paint(s, "1", "1. fixed-point model, UINT8 activations").c_str());
  process fixed_writer;
  fixed_writer.start({sigdump_bin, "simulate", "--mode", "fixed", "--out", fixed_dump, "--pace-ms",
                      std::to_string(s.pace_ms)},
                     (root / "simulate-fixed.log").string());
  auto first = follow_run(*conn, s, "", 60s);
  if (fixed_writer.wait() != 0) {
    return fail("demo: the fixed simulation failed; see " + (root / "simulate-fixed.log").string());
  }
  if (!first) return exit_error;
  std::printf("\n  first bad layer: %s\n",
              first->first_bad.empty() ? "none" : first->first_bad.c_str());
  if (!first->diagnosis.empty()) std::printf("  diagnosis: %s\n", first->diagnosis.c_str());

  std::string block;
  std::vector<std::string> ranked;
  std::int64_t bad_record = -1;
  auto tensors = fetch_advice(*conn, fixed_dump, float_dump, block, ranked, bad_record);
  if (tensors.empty()) {
    return fail("demo: the comparison gave no INT16 advice; see " + daemon_log);
  }
  print_first_bad_channels(fixed_dump, bad_record, float_dump);
  std::printf("  advice: %s\n", ranked.empty() ? "" : ranked.front().c_str());
  for (std::size_t i = 1; i < ranked.size(); ++i) {
    std::printf("    %zu. %s\n", i, ranked[i].c_str());
  }
  std::printf("  input_config.ini:\n");
  for (std::size_t pos = 0; pos < block.size();) {
    auto nl = block.find('\n', pos);
    std::printf("    %s\n", block.substr(pos, nl - pos).c_str());
    if (nl == std::string::npos) break;
    pos = nl + 1;
  }

  // Apply it literally, as a user would, and run the fixed model again.
  const std::string ini = (root / "input_config.ini").string();
  {
    std::ofstream out(ini);
    out << block;
  }
  std::printf("\n%s\n",
              paint(s, "1", "2. fixed-point model with the advice applied (INT16)").c_str());
  process fixed_again;
  fixed_again.start({sigdump_bin, "simulate", "--mode", "fixed", "--out", fixed_dump,
                     "--input-config", ini, "--pace-ms", std::to_string(s.pace_ms)},
                    (root / "simulate-fixed-int16.log").string());
  auto second = follow_run(*conn, s, first->run, 60s);
  if (fixed_again.wait() != 0) {
    return fail("demo: the INT16 simulation failed; see " +
                (root / "simulate-fixed-int16.log").string());
  }
  if (!second) return exit_error;

  std::printf("\n%s\n", paint(s, "1", "result").c_str());
  bool fixed = true;
  for (const auto& [index, before] : first->layers) {
    if (!before.suspect) continue;
    auto it = second->layers.find(index);
    if (it == second->layers.end() || it->second.name != before.name) continue;
    const auto& after = it->second;
    std::printf(
        "  %3lld) %-28s COS %f -> %f   RMSE %f -> %f   %s\n", static_cast<long long>(index),
        before.name.c_str(), before.cos, after.cos, before.rmse, after.rmse,
        after.suspect ? paint(s, "31", "still suspect").c_str() : paint(s, "32", "fixed").c_str());
    fixed = fixed && !after.suspect;
  }
  std::printf("  first bad layer now: %s\n",
              second->first_bad.empty() ? "none" : second->first_bad.c_str());

  conn.reset();
  daemon.stop();
  return fixed ? exit_ok : exit_findings;
}

const command_registrar reg{
    command{"demo", "run the built-in demo: simulator, live daemon, diagnosis, INT16 fix",
            "usage: sigdump demo [--pace-ms N] [--keep] [--no-color]\n"
            "\n"
            "Runs the whole product on a built-in example and exits by itself:\n"
            "  - the miniature simulator ('sigdump simulate') writes a float-model dump;\n"
            "  - a real sigdumpd starts on a temporary socket and state folder, pairing\n"
            "    the fixed-point dump (sample) with the float dump (benchmark);\n"
            "  - the fixed-point model runs with UINT8 activations, layer by layer, and\n"
            "    each layer's MSE, COS and RMSE are printed the moment the daemon\n"
            "    publishes them; one layer is built so that 8 bits lose precision;\n"
            "  - the diagnosis and the INT16 advice ([CONV_CONFIG] tensor_arrays) follow;\n"
            "  - the advice is written to an input_config.ini, the fixed model runs again\n"
            "    with that tensor in INT16, and the layer is shown fixed.\n"
            "Everything started is stopped and the temporary folder removed.\n"
            "\n"
            "options:\n"
            "  --pace-ms N   pause between layers of the fixed model (default 250)\n"
            "  --keep        keep the temporary folder (dumps, logs) and print its path\n"
            "  --no-color    plain output even on a terminal (also: NO_COLOR=1)\n"
            "  -h, --help    this text\n"
            "\n"
            "exit status: 0 when the advice fixed every suspect layer, 1 when not,\n"
            "2 when the demo could not run.\n",
            run_demo, true}};

}  // namespace
}  // namespace sigdump::cli
