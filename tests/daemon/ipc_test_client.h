// Shared by the socket integration tests (ipc_*_test.cpp): a real sigdumpd
// with its own socket, and a small blocking NDJSON client on a raw socket.
#pragma once

#include <poll.h>
#include <simdjson.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "daemon_support.h"
#include "sigdump/dump_writer.h"
#include "test_support.h"

namespace sigdump::testing {

/* Connects a blocking Unix stream socket; -1 on failure. */
inline int connect_unix(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), std::min(path.size() + 1, sizeof addr.sun_path - 1));
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

/* One protocol line, parsed. */
struct message {
  std::string raw;
  std::string id;     // JSON text of "id"
  std::string event;  // events
  std::string clock, run, path, reason;
  std::int64_t index = -1;  // layer.index
  bool replay = false;
  std::uint64_t dropped = 0;
  std::string error_code;  // error replies
  std::string result;      // minified result
  bool fresh_instance = false;
  bool ok = false;  // parsed as a JSON object
};

inline message parse_message(const std::string& line) {
  message m;
  m.raw = line;
  simdjson::dom::parser p;
  simdjson::dom::element d;
  if (p.parse(line).get(d) || !d.is_object()) return m;
  m.ok = true;
  auto str = [&](simdjson::dom::element e, const char* k) {
    std::string_view v;
    if (e[k].get_string().get(v)) return std::string();
    return std::string(v);
  };
  simdjson::dom::element id;
  if (!d["id"].get(id)) m.id = simdjson::minify(id);
  m.event = str(d, "event");
  m.clock = str(d, "clock");
  m.run = str(d, "run");
  m.path = str(d, "path");
  m.reason = str(d, "reason");
  bool b = false;
  if (!d["replay"].get_bool().get(b)) m.replay = b;
  std::uint64_t u = 0;
  if (!d["dropped"].get_uint64().get(u)) m.dropped = u;
  simdjson::dom::element layer;
  if (!d["layer"].get(layer) && layer.is_object()) {
    std::int64_t i = -1;
    if (!layer["index"].get_int64().get(i)) m.index = i;
  }
  simdjson::dom::element err;
  if (!d["error"].get(err)) m.error_code = str(err, "code");
  simdjson::dom::element res;
  if (!d["result"].get(res)) {
    m.result = simdjson::minify(res);
    if (!res["fresh_instance"].get_bool().get(b)) m.fresh_instance = b;
    if (m.clock.empty()) m.clock = str(res, "clock");
  }
  return m;
}

/* A blocking client: send lines, read lines with a timeout. */
class raw_client {
 public:
  explicit raw_client(const std::string& socket) : fd_(connect_unix(socket)) {}
  ~raw_client() { close(); }
  raw_client(const raw_client&) = delete;
  raw_client& operator=(const raw_client&) = delete;
  bool connected() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  bool send_line(const std::string& line) {
    std::string s = line + "\n";
    std::size_t off = 0;
    while (off < s.size()) {
      ssize_t n = ::send(fd_, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<std::size_t>(n);
    }
    return true;
  }

  /* Next line, or nullopt on timeout or end of stream (eof() tells which). */
  std::optional<std::string> read_line(
      std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      if (auto nl = buf_.find('\n'); nl != std::string::npos) {
        std::string line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return line;
      }
      if (eof_) return std::nullopt;
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      if (!pump()) eof_ = true;
    }
  }
  /* Reads what the socket has now; false at end of stream. */
  bool pump() {
    char tmp[65536];
    ssize_t n = ::recv(fd_, tmp, sizeof tmp, MSG_DONTWAIT);
    if (n > 0) {
      buf_.append(tmp, static_cast<std::size_t>(n));
      return true;
    }
    if (n == 0) return false;
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
  }
  std::optional<message> read_message(
      std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    auto l = read_line(timeout);
    if (!l) return std::nullopt;
    return parse_message(*l);
  }
  /* Sends a request and returns its reply; events read meanwhile go to events. */
  message call(const std::string& method, const std::string& params = "{}") {
    const std::string id = std::to_string(next_id_++);
    send_line("{\"id\":" + id + ",\"method\":\"" + method + "\",\"params\":" + params + "}");
    for (;;) {
      auto m = read_message();
      if (!m) return message{};
      if (m->event.empty() && m->id == id) return *m;
      events.push_back(*m);
    }
  }
  bool eof() const { return eof_; }

  std::deque<message> events;

 private:
  int fd_ = -1;
  std::string buf_;
  bool eof_ = false;
  int next_id_ = 1;
};

/* The `status` result of the daemon on `socket`, parsed into `doc`
   (which must outlive the parser's use); whether it answered. */
inline bool daemon_status(const std::string& socket, simdjson::dom::parser& parser,
                          simdjson::dom::element& doc) {
  raw_client c(socket);
  return c.connected() && !parser.parse(c.call("status").result).get(doc);
}

/* A counter of `status`'s "daemon" member (stat_ticks, stat_looks,
   metrics_write_failures, ...); nullopt when the daemon did not answer. */
inline std::optional<std::uint64_t> daemon_counter(const std::string& socket,
                                                   const std::string& name) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  std::uint64_t n = 0;
  if (!daemon_status(socket, parser, doc) || doc["daemon"][name].get_uint64().get(n)) {
    return std::nullopt;
  }
  return n;
}

/* A tracked file as `status` lists it: its complete records and its size
   at the daemon's last look; nullopt when the file is not tracked. */
struct tracked_status {
  std::uint64_t records = 0, bytes = 0;
};
inline std::optional<tracked_status> tracked_file_status(const std::string& socket,
                                                         const std::string& path) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  simdjson::dom::array files;
  if (!daemon_status(socket, parser, doc) || doc["files"].get_array().get(files)) {
    return std::nullopt;
  }
  for (simdjson::dom::element f : files) {
    std::string_view p;
    tracked_status t;
    if (f["path"].get_string().get(p) || p != path) continue;
    if (f["records"].get_uint64().get(t.records) || f["bytes"].get_uint64().get(t.bytes)) break;
    return t;
  }
  return std::nullopt;
}

/* sigdumpd on dir/sock with a pair p: dir/dumps/sample.bin = dir/dumps/bench.bin. */
class ipc_daemon {
 public:
  ipc_daemon(const temp_dir& dir, std::vector<std::string> env = {},
             std::vector<std::string> extra = {})
      : socket_(dir.file("sock")), dumps_(dir.file("dumps")) {
    std::filesystem::create_directories(dumps_);
    std::vector<std::string> argv{bin_path("sigdumpd"),
                                  "--foreground",
                                  "--state-dir",
                                  dir.file("state"),
                                  "--socket",
                                  socket_,
                                  "--quiet-ms",
                                  "600000",
                                  "--poll-ms",
                                  "50",
                                  "--watch",
                                  dumps_,
                                  "--pair",
                                  "p:" + sample() + "=" + bench()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    env.push_back("XDG_CONFIG_HOME=" + dir.file("no-config"));
    proc_ = std::make_unique<child>(argv, env);
  }
  bool wait_ready() {
    return wait_until([&] {
             if (!proc_->alive()) return true;
             int fd = connect_unix(socket_);
             if (fd < 0) return false;
             ::close(fd);
             return true;
           }) &&
           proc_->alive();
  }
  const std::string& socket() const { return socket_; }
  std::string sample() const { return dumps_ + "/sample.bin"; }
  std::string bench() const { return dumps_ + "/bench.bin"; }
  child& proc() { return *proc_; }

 private:
  std::string socket_, dumps_;
  std::unique_ptr<child> proc_;
};

/* Writes a benchmark of `layers` layers at once and hands out sample layers
   one by one (the real daemon sees a growing file). Layers whose index is
   in `bad` get a large error (suspect). */
class pair_writer {
 public:
  pair_writer(const std::string& sample, const std::string& bench, int layers,
              std::vector<int> bad = {})
      : layers_(layers), bad_(std::move(bad)) {
    auto b = dump_writer::create(bench);
    for (int i = 0; i < layers; ++i) {
      EXPECT_TRUE(b->write(spec(i), values(i, false)).has_value());
    }
    EXPECT_TRUE(b->close().has_value());
    auto s = dump_writer::create(sample);
    sample_ = std::make_unique<dump_writer>(std::move(*s));
  }
  /* Appends the next n sample layers; returns how many were written in all. */
  int write(int n) {
    for (int k = 0; k < n && next_ < layers_; ++k, ++next_) {
      EXPECT_TRUE(sample_->write(spec(next_), values(next_, true)).has_value());
    }
    return next_;
  }
  static std::string name(int i) { return "net/layer_" + std::to_string(i) + "/conv"; }

 private:
  tensor_spec spec(int i) const {
    tensor_spec s;
    s.name = name(i);
    s.shape = {1, 4, 4, 8};
    s.op_index = i;
    return s;
  }
  std::vector<float> values(int i, bool sample) const {
    std::vector<float> v(128);
    const bool is_bad = std::find(bad_.begin(), bad_.end(), i) != bad_.end();
    for (std::size_t j = 0; j < v.size(); ++j) {
      float x = static_cast<float>(((j * 7 + static_cast<std::size_t>(i) * 13) % 31)) / 7.0f - 2.0f;
      if (sample) x += is_bad ? ((j % 2) ? 3.0f : -3.0f) : 0.001f * static_cast<float>(j % 3);
      v[j] = x;
    }
    return v;
  }
  int layers_;
  int next_ = 0;
  std::vector<int> bad_;
  std::unique_ptr<dump_writer> sample_;
};

/* Reads messages until `count` layer events arrived (or timeout). */
inline std::vector<message> read_layers(
    raw_client& c, std::size_t count, std::vector<message>* others = nullptr,
    std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  std::vector<message> out;
  while (out.size() < count) {
    auto m = c.read_message(timeout);
    if (!m) break;
    if (m->event == "layer") {
      out.push_back(*m);
    } else if (others != nullptr) {
      others->push_back(*m);
    }
  }
  return out;
}

}  // namespace sigdump::testing
