// Shared by the daemon integration tests: a real sigdumpd in a temp folder
// whose published events are read back from its --events-log file.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>
#include <simdjson.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "platform/event_loop.h"
#include "sigdump/dump_writer.h"
#include "test_support.h"

namespace sigdump::testing {

/* One line of the events log, with the keys the tests look at. */
struct logged_event {
  std::string event, run, previous, path, pair, reason, clock;
  std::string layer;        // layer object, minified; empty if none
  std::int64_t index = -1;  // layer.index
};

/* The complete lines of NDJSON text (a last line without its newline is
   left out: still being written). */
inline std::vector<std::string> ndjson_lines_of(const std::string& text) {
  std::vector<std::string> out;
  for (std::size_t pos = 0, nl; (nl = text.find('\n', pos)) != std::string::npos; pos = nl + 1) {
    out.push_back(text.substr(pos, nl - pos));
  }
  return out;
}

/* The complete lines of an NDJSON file (none if it cannot be read). */
inline std::vector<std::string> ndjson_lines(const std::string& path) {
  try {
    return ndjson_lines_of(read_file(path));
  } catch (...) {
    return {};
  }
}

/* Parses every complete line of an --events-log file. */
inline std::vector<logged_event> read_events(const std::string& path) {
  std::vector<logged_event> out;
  std::string text;
  try {
    text = read_file(path);
  } catch (...) {
    return out;
  }
  simdjson::dom::parser parser;
  std::size_t pos = 0;
  while (true) {
    auto nl = text.find('\n', pos);
    if (nl == std::string::npos) break;
    std::string line = text.substr(pos, nl - pos);
    pos = nl + 1;
    simdjson::dom::element doc;
    if (parser.parse(line).get(doc)) continue;
    logged_event e;
    auto str = [&](const char* k) {
      std::string_view v;
      if (doc[k].get_string().get(v)) return std::string();
      return std::string(v);
    };
    e.event = str("event");
    e.run = str("run");
    e.previous = str("previous");
    e.path = str("path");
    e.pair = str("pair");
    e.reason = str("reason");
    e.clock = str("clock");
    simdjson::dom::element layer;
    if (!doc["layer"].get(layer) && layer.is_object()) {
      e.layer = simdjson::minify(layer);
      std::int64_t i = -1;
      if (!layer["index"].get_int64().get(i)) e.index = i;
    }
    out.push_back(std::move(e));
  }
  return out;
}

/* The first line of an --events-log file whose "event" is `event` and
   whose string member `by` is `value`; empty if none. */
inline std::string first_event_line(const std::string& events_log, const std::string& event,
                                    const char* by, const std::string& value) {
  simdjson::dom::parser p;
  for (const std::string& line : ndjson_lines(events_log)) {
    simdjson::dom::element doc;
    std::string_view ev, v;
    if (p.parse(line).get(doc) || doc["event"].get(ev) || doc[by].get(v)) continue;
    if (ev == event && v == value) return line;
  }
  return {};
}

/* A sigdumpd child with its own state folder, socket and events log. */
class test_daemon {
 public:
  test_daemon(const temp_dir& dir, const std::vector<std::string>& args, const std::string& loop,
              const std::string& state = "state", const std::vector<std::string>& extra_env = {})
      : events_(dir.file("events-" + std::to_string(++counter()) + ".ndjson")) {
    std::vector<std::string> argv{
        bin_path("sigdumpd"), "--foreground", "--state-dir", dir.file(state),
        "--events-log",       events_,        "--socket",    dir.file("sock"),
        "--quiet-ms",         "400",          "--poll-ms",   "50"};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<std::string> env{"XDG_CONFIG_HOME=" + dir.file("no-config"),
                                 "XDG_RUNTIME_DIR=" + dir.path().string()};
    if (!loop.empty()) env.push_back("SIGDUMP_EVENT_LOOP=" + loop);
    env.insert(env.end(), extra_env.begin(), extra_env.end());
    proc_ = std::make_unique<child>(argv, env);
  }
  /* Waits for the "ready" log line (first scan done). */
  bool wait_ready() {
    return wait_until([&] {
             return proc_->stderr_text().find("ready:") != std::string::npos || !proc_->alive();
           }) &&
           proc_->alive();
  }
  std::vector<logged_event> events() const { return read_events(events_); }
  /* Waits until some event satisfies pred; returns it (event "" on timeout). */
  template <class Pred>
  logged_event wait_event(Pred pred, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    logged_event found;
    wait_until(
        [&] {
          for (auto& e : events()) {
            if (pred(e)) {
              found = e;
              return true;
            }
          }
          return false;
        },
        timeout);
    return found;
  }
  child& proc() { return *proc_; }
  const std::string& events_path() const { return events_; }

 private:
  static int& counter() {
    static int n = 0;
    return n;
  }
  std::string events_;
  std::unique_ptr<child> proc_;
};

/* Stops pid with SIGSTOP and waits until every thread of it is stopped
   (kill returns before a thread in a system call has stopped): from then
   on it reads nothing until SIGCONT. False if it is gone. */
inline bool stop_wholly(pid_t pid) {
  if (::kill(pid, SIGSTOP) != 0) return false;
  const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
  return wait_until([&] {
    std::error_code ec;
    for (const auto& t : std::filesystem::directory_iterator(tasks, ec)) {
      const std::string stat = read_file(t.path().string() + "/stat");
      const auto paren = stat.rfind(')');
      if (paren == std::string::npos || paren + 2 >= stat.size()) return false;
      if (stat[paren + 2] != 'T' && stat[paren + 2] != 't') return false;
    }
    return !ec;
  });
}

/* Runs `loop` until pred holds (checked every `every`) or 20 s pass;
   whether it held. */
inline bool run_loop_until(daemon::event_loop& loop, const std::function<bool()>& pred,
                           std::chrono::milliseconds every) {
  bool ok = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  const daemon::timer_id t = loop.add_timer(every, true, [&] {
    if (pred()) {
      ok = true;
      loop.stop();
    } else if (std::chrono::steady_clock::now() > deadline) {
      loop.stop();
    }
  });
  EXPECT_TRUE(loop.run());
  loop.cancel_timer(t);
  return ok;
}

/* A float tensor spec named `name` with `elements` values. */
inline tensor_spec spec_of(const std::string& name, std::int64_t elements, std::int64_t op = 0) {
  tensor_spec s;
  s.name = name;
  s.shape = {1, elements};
  s.op_index = op;
  return s;
}

inline std::vector<float> ramp(std::size_t n, float scale) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = scale * static_cast<float>((i % 97) + 1);
  return v;
}

// The "layers" of `sigdump compare --json`, minified.
inline std::vector<std::string> offline_layers(const std::string& sample,
                                               const std::string& bench) {
  auto r = run({bin_path("sigdump"), "compare", "--json", sample, bench});
  EXPECT_TRUE(r.exit_code == 0 || r.exit_code == 1) << r.err;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  std::vector<std::string> out;
  if (parser.parse(r.out).get(doc)) {
    ADD_FAILURE() << "compare --json printed no JSON: " << r.out << r.err;
    return out;
  }
  simdjson::dom::array layers;
  if (doc["layers"].get_array().get(layers)) return out;
  // Live layer events carry no per-channel evidence (the tensor method gives
  // it on request); the offline report adds it to suspect layers.
  for (auto l : layers) {
    std::string o = "{";
    simdjson::dom::object fields;
    if (l.get_object().get(fields)) continue;
    for (auto field : fields) {
      if (field.key == "channels") continue;
      if (o.size() > 1) o += ',';
      o += '"' + std::string(field.key) + "\":" + simdjson::minify(field.value);
    }
    out.push_back(o + '}');
  }
  return out;
}

// `sigdump status --json` of the daemon on DIR/sock, parsed; false when it
// printed no JSON.
inline bool status_of(const temp_dir& dir, simdjson::dom::parser& parser,
                      simdjson::dom::element& doc) {
  auto st = run({bin_path("sigdump"), "status", "--json", "--socket", dir.file("sock")});
  EXPECT_EQ(st.exit_code, 0) << st.err;
  return !parser.parse(st.out).get(doc);
}

// The daemon section's counter `key` from `sigdump status --json`; -1 when
// there is none.
inline std::int64_t status_counter(const temp_dir& dir, const char* key) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  std::int64_t v = -1;
  if (!status_of(dir, parser, doc) || doc["daemon"][key].get_int64().get(v)) return -1;
  return v;
}

}  // namespace sigdump::testing
