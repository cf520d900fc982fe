#include "daemon_main.h"

#include <signal.h>
#include <sys/signalfd.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <optional>
#include <thread>

#include "core/tracker.h"
#include "export/metrics_export.h"
#include "export/trigger_runner.h"
#include "platform/lock_file.h"
#include "platform/log.h"
#include "platform/worker_pool.h"
#include "server/ipc_seam.h"
#include "sigdump/ipc/socket_path.h"
#include "state/events_log.h"
#include "state/run_journal.h"
#include "state/state_store.h"

namespace sigdump::daemon {

namespace {

int fail(const error& e) {
  log(log_level::err, e.describe());
  return 2;
}

}  // namespace

int run_daemon(daemon_options& options) {
  if (options.debug) set_log_level(log_level::debug);

  // The lock comes before anything that touches shared state.
  auto store = state_store::open(options.state_dir);
  if (!store) return fail(store.error());
  auto lock = lock_file::acquire(options.state_dir);
  if (!lock) return fail(lock.error());

  daemon_state state(static_cast<std::int64_t>(::time(nullptr)), ::getpid());
  state.state_dir = options.state_dir;
  state.store = &*store;
  auto next = store->load(state.runs);
  if (!next) return fail(next.error());
  state.next_run = *next;
  if (!state.runs.empty()) {
    log(log_level::info, "read " + std::to_string(state.runs.size()) + " runs from " +
                             options.state_dir + "; next run is r" + std::to_string(*next));
  }

  // Signals are blocked before any thread starts so only signalfd sees them.
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGHUP);
  ::pthread_sigmask(SIG_BLOCK, &mask, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  // A file-size limit must fail a write (EFBIG), not kill the daemon.
  ::signal(SIGXFSZ, SIG_IGN);
  ipc::unique_fd sigfd(::signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC));
  if (!sigfd) {
    return fail(error{errc::io,
                      {},
                      no_record,
                      {},
                      no_offset,
                      std::string("signalfd failed: ") + std::strerror(errno)});
  }

  auto loop = make_event_loop();
  if (!loop) return fail(loop.error());
  state.event_loop_name = (*loop)->name();

  unsigned workers = options.workers;
  if (workers == 0) workers = std::clamp(std::thread::hardware_concurrency(), 1u, 4u);
  worker_pool pool(workers, "metric-worker");
  if (pool.size() == 0) {
    return fail(error{errc::io,
                      {},
                      no_record,
                      {},
                      no_offset,
                      "cannot start any worker thread: " + pool.start_error()});
  }

  std::optional<events_log> events;
  if (!options.events_log.empty()) {
    auto ev = events_log::open(options.events_log);
    if (!ev) return fail(ev.error());
    events.emplace(std::move(*ev));
    state.add_sink(&*events);
  }

  run_journal journal(state);
  state.add_sink(&journal);

  int exit_code = 0;
  {
    tracker core(**loop, state, &*store, pool);
    // Before the tracker's first scan publishes anything.
    trigger_runner triggers(**loop, state);
    triggers.configure(options.triggers);
    std::unique_ptr<ipc_service> service;
    // Declared after service: destroyed first, its last write still reads
    // the server's counters.
    std::unique_ptr<metrics_exporter> metrics;
    auto ipc_counters = [&service]() { return service ? service->health() : ipc_health{}; };
    // (Re)starts the textfile export from options: on start and after SIGHUP.
    auto apply_metrics = [&] {
      const auto& mc = options.metrics;
      if (mc.textfile_dir.empty()) {
        metrics.reset();
      } else if (metrics && metrics->config().textfile_dir == mc.textfile_dir) {
        metrics->reconfigure(mc);
      } else {
        metrics.reset();
        metrics = std::make_unique<metrics_exporter>(**loop, state, mc, ipc_counters);
      }
    };

    (*loop)->watch_fd(sigfd.get(), true, false, [&](bool, bool, bool) {
      signalfd_siginfo si{};
      while (::read(sigfd.get(), &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
        if (si.ssi_signo == SIGHUP) {
          log(log_level::info, "SIGHUP: reloading the configuration");
          std::vector<std::string> args = options.cli_args;
          std::vector<char*> argv;
          std::string prog = "sigdumpd";
          argv.push_back(prog.data());
          for (auto& a : args) argv.push_back(a.data());
          daemon_options fresh;
          auto r = parse_command_line(static_cast<int>(argv.size()), argv.data(), fresh);
          if (!r) {
            log(log_level::err, r.error().describe() + " (keeping the previous configuration)");
            continue;
          }
          fresh.state_dir = options.state_dir;  // the lock stays where it is
          options = std::move(fresh);
          triggers.configure(options.triggers);
          core.reload(options);
          if (service) service->reloaded(options);
          apply_metrics();
        } else {
          log(log_level::info,
              std::string("stopping on ") + ::strsignal(static_cast<int>(si.ssi_signo)));
          (*loop)->stop();
        }
      }
    });

    // The socket a trigger command may call back on (replaced by the bound one below).
    triggers.set_socket(options.socket.empty() ? ipc::default_socket_path() : options.socket);
    if (auto r = core.start(options); !r) return fail(r.error());

    int activated = -1;
    int n = ::sd_listen_fds(1);
    if (n >= 1) activated = SD_LISTEN_FDS_START;
    auto served = start_ipc(**loop, state, options, activated);
    if (!served) {
      core.stop();
      return fail(served.error());
    }
    service = std::move(*served);
    triggers.set_socket(service->socket_name());

    apply_metrics();

    std::uint64_t watchdog_usec = 0;
    if (::sd_watchdog_enabled(0, &watchdog_usec) > 0 && watchdog_usec > 0) {
      auto half = std::chrono::milliseconds(std::max<std::uint64_t>(watchdog_usec / 2000, 1));
      (*loop)->add_timer(half, true, [] { ::sd_notify(0, "WATCHDOG=1"); });
    }
    ::sd_notify(0, "READY=1");
    // The pairs as the daemon understood them: paths made absolute.
    for (const auto& p : options.pairs) {
      log(log_level::info,
          "pair " + p.name + ": sample " + p.sample + ", benchmark " + p.benchmark);
    }
    const auto counted = [](std::size_t count, const char* one, const char* many) {
      return std::to_string(count) + ' ' + (count == 1 ? one : many);
    };
    log(log_level::info, "ready: watching " + counted(state.watched.size(), "path", "paths") +
                             ", " + counted(state.pairs.size(), "pair", "pairs") + " (" +
                             state.event_loop_name + ")");

    auto ran = (*loop)->run();
    ::sd_notify(0, "STOPPING=1");
    if (!ran) {
      log(log_level::err, "event loop failed: " + ran.error().describe());
      exit_code = 1;
    }
    core.stop();
    // The last write (sigdump_daemon_up 0, runs ended "stopped") stays in
    // place: a scrape says the daemon is down instead of losing the results.
    metrics.reset();
    service.reset();
    if (std::size_t dropped = pool.shutdown(); dropped > 0) {
      log(log_level::info, "dropped " + std::to_string(dropped) + " queued layer comparisons");
    }
    if (events) state.remove_sink(&*events);
  }
  state.remove_sink(&journal);
  store->sync_all();
  return exit_code;
}

}  // namespace sigdump::daemon
