// `sigdump __complete WORD...`: the one source of the bash, zsh and fish
// completions (cli/completion/). The words are the command line after
// "sigdump", the last one the word being completed. It prints one candidate
// a line ("WORD<TAB>DESCRIPTION") and then one directive line: ":files" or
// ":dirs" (let the shell complete file or folder names), ":words" (only the
// candidates). Commands and their options are read from the registry and
// each command's own --help text, so completion never falls out of step
// with the binary; tensor names come from a dump file named on the command
// line or, for query, from the daemon, as do pair names and run ids.
#include <simdjson.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "command.h"
#include "live_common.h"
#include "sigdump/dump_file.h"
#include "sigdump/ipc/socket_path.h"
#include "sigdump/json_util.h"

namespace sigdump::cli {
namespace {

constexpr const char* complete_help =
    R"(usage: sigdump __complete WORD... (for the shell completions; not for people)

Prints the completions of the last WORD of "sigdump WORD...": one candidate a
line (WORD, a tab, a description), then ":files", ":dirs" or ":words".
)";

// What an option's value is, for completion.
struct flag_info {
  std::string flag;
  std::string kind;  // none, value, file, dir, choice, pair, run
  std::vector<std::string> choices;
  std::string description;
};

bool flag_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-'; }
bool value_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("_|.,:-").find(c) != std::string_view::npos;
}

// The kind of a value spelled like "FILE", "binary|text", "N", "CLOCK|last".
void classify(flag_info& f, std::string value) {
  value.erase(std::remove(value.begin(), value.end(), '<'), value.end());
  value.erase(std::remove(value.begin(), value.end(), '>'), value.end());
  while (!value.empty() && std::string_view(",.:").find(value.back()) != std::string_view::npos) {
    value.pop_back();
  }
  f.kind = "none";
  for (const char* w : {"FILE", "PATH", "DIR", "FOLDER", "OUT"}) {
    if (value.find(w) != std::string::npos) {
      f.kind = value.ends_with("DIR") || value.ends_with("FOLDER") ? "dir" : "file";
      return;
    }
  }
  if (value.find('|') != std::string::npos) {
    std::size_t at = 0;
    while (at <= value.size()) {
      const std::size_t bar = std::min(value.find('|', at), value.size());
      const std::string alt = value.substr(at, bar - at);
      const bool word = !alt.empty() && std::all_of(alt.begin(), alt.end(), [](char c) {
        return std::islower(static_cast<unsigned char>(c)) ||
               std::isdigit(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
      });
      if (word) f.choices.push_back(alt);
      at = bar + 1;
    }
    f.kind = f.choices.empty() ? "value" : "choice";
  } else if (!value.empty() && std::isupper(static_cast<unsigned char>(value[0]))) {
    f.kind = "value";
  }
  // The daemon knows the values of these.
  if (f.kind == "value" && f.flag == "--pair") f.kind = "pair";
  if (f.kind == "value" && f.flag == "--run") f.kind = "run";
}

// Every option a command's help text shows, with the kind of its value and
// the description of the line that starts with it.
std::vector<flag_info> flags_of(const command& cmd) {
  std::vector<flag_info> out{{"--help", "none", {}, "show this help"}};
  std::size_t pos = 0;
  const std::string& help = cmd.help;
  while (pos < help.size()) {
    std::size_t nl = help.find('\n', pos);
    if (nl == std::string::npos) nl = help.size();
    const std::string line = help.substr(pos, nl - pos);
    pos = nl + 1;
    const std::size_t indent = line.find_first_not_of(' ');
    for (std::size_t i = 0; i < line.size(); ++i) {
      if (line[i] != '-' ||
          (i > 0 && std::string_view("][ \t,|(").find(line[i - 1]) == std::string_view::npos)) {
        continue;
      }
      std::size_t j = i + 1 + (i + 1 < line.size() && line[i + 1] == '-');
      if (j >= line.size() || !std::isalpha(static_cast<unsigned char>(line[j]))) continue;
      while (j < line.size() && flag_char(line[j])) ++j;
      flag_info f;
      f.flag = line.substr(i, j - i);
      std::string value;
      std::size_t end = j;
      if (j + 1 < line.size() && (line[j] == ' ' || line[j] == '=')) {
        std::size_t k = j + 1 + (line[j + 1] == '<');
        if (k < line.size() && std::isalpha(static_cast<unsigned char>(line[k]))) {
          while (k < line.size() && value_char(line[k])) ++k;
          if (k < line.size() && line[k] == '>') ++k;
          value = line.substr(j + 1, k - j - 1);
          end = k;
        }
      }
      i = end;
      if (f.flag.size() > 1 && std::isdigit(static_cast<unsigned char>(f.flag[1]))) continue;
      classify(f, value);
      auto it = std::find_if(out.begin(), out.end(),
                             [&](const flag_info& o) { return o.flag == f.flag; });
      // The line that starts with the option describes it.
      if (indent != std::string::npos && line.compare(indent, f.flag.size(), f.flag) == 0 &&
          indent + f.flag.size() + (value.empty() ? 0 : value.size() + 1) == end) {
        const std::size_t d = line.find_first_not_of(' ', end);
        if (d != std::string::npos && d >= end + 2) f.description = line.substr(d);
      }
      if (it == out.end()) {
        out.push_back(std::move(f));
      } else {
        if (it->kind == "none" && f.kind != "none") {
          it->kind = f.kind;
          it->choices = f.choices;
        }
        if (it->description.empty()) it->description = f.description;
      }
    }
  }
  return out;
}

// Prints the candidates that start with `cur`.
void offer(std::string_view cur, std::string_view word, std::string_view description = {},
           std::string_view prefix = {}) {
  if (!word.starts_with(cur)) return;
  std::printf("%.*s%.*s", static_cast<int>(prefix.size()), prefix.data(),
              static_cast<int>(word.size()), word.data());
  if (!description.empty()) {
    std::printf("\t%.*s", static_cast<int>(description.size()), description.data());
  }
  std::printf("\n");
}

// The value of --NAME among the words ("--NAME V" or "--NAME=V"), or "".
std::string word_value(const std::vector<std::string>& words, std::string_view name) {
  const std::string flag = "--" + std::string(name);
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (words[i] == flag && i + 1 < words.size()) return words[i + 1];
    if (words[i].starts_with(flag + "=")) return words[i].substr(flag.size() + 1);
  }
  return {};
}

// One quick call to the daemon the words name (--socket, else the default);
// nullopt when there is none or it does not answer at once.
std::optional<std::string> ask_daemon(const std::vector<std::string>& words,
                                      std::string_view method, const std::string& params) {
  // A remote daemon is not asked: an ssh round trip is too slow for a
  // key press (and may prompt).
  if (!word_value(words, "host").empty()) return std::nullopt;
  if (const char* h = std::getenv("SIGDUMP_HOST"); h != nullptr && *h != '\0') return std::nullopt;
  std::string sock = word_value(words, "socket");
  if (sock.empty()) sock = ipc::default_socket_path();
  auto c = ipc::client::connect(sock, std::chrono::milliseconds(500));
  if (!c) return std::nullopt;
  auto r = c->call(method, params, std::chrono::seconds(2));
  if (!r || r->is_error) return std::nullopt;
  return r->result;
}

// Offers the names of an array of objects in the daemon's reply.
void offer_from_daemon(const std::vector<std::string>& words, std::string_view method,
                       const std::string& params, const char* array, const char* key,
                       const char* describe, std::string_view cur, std::string_view prefix) {
  auto result = ask_daemon(words, method, params);
  if (!result) return;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  simdjson::dom::array items;
  if (parser.parse(*result).get(doc) || doc[array].get_array().get(items)) return;
  std::set<std::string> done;
  for (auto item : items) {
    const std::string name = live::str(item, key);
    if (name.empty() || !done.insert(name).second) continue;
    offer(cur, name, describe != nullptr ? live::str(item, describe) : "", prefix);
  }
}

// Tensor names: from a dump file, else from the daemon (the target the
// words give with --pair, --run or --path).
void offer_tensors(const std::vector<std::string>& words, const std::string& file,
                   std::string_view cur) {
  if (!file.empty()) {
    auto f = dump_file::open(file);
    if (!f) return;
    std::set<std::string_view> done;
    for (const record& r : f->records()) {
      if (done.insert(r.name).second) offer(cur, r.name);
    }
    return;
  }
  json_writer params;
  params.begin_object();
  for (const char* k : {"pair", "run", "path"}) {
    if (std::string v = word_value(words, k); !v.empty()) params.field(k, v);
  }
  if (!cur.empty()) params.field("match", cur);
  params.field("limit", std::uint64_t{100000});
  params.end_object();
  offer_from_daemon(words, "tensors", params.str(), "tensors", "name", nullptr, cur, {});
}

// Completes the value of flag f; returns the directive.
const char* complete_value(const flag_info& f, const std::vector<std::string>& words,
                           std::string_view cur, std::string_view prefix) {
  if (f.kind == "file") return ":files";
  if (f.kind == "dir") return ":dirs";
  if (f.kind == "choice") {
    for (const auto& c : f.choices) offer(cur, c, {}, prefix);
  } else if (f.kind == "pair") {
    offer_from_daemon(words, "status", R"({"only":"pairs"})", "pairs", "name", "sample", cur,
                      prefix);
  } else if (f.kind == "run") {
    json_writer params;
    params.begin_object();
    if (std::string p = word_value(words, "pair"); !p.empty()) params.field("pair", p);
    params.field("limit", std::uint64_t{500});
    params.end_object();
    offer_from_daemon(words, "runs", params.str(), "runs", "run", "path", cur, prefix);
  }
  return ":words";
}

// Whether word is a global option that takes a value (before the command).
bool global_with_value(std::string_view word) {
  return word == "--host" || word == "--remote-sigdump";
}

const char* complete(const std::vector<std::string>& words, const std::string& cur) {
  // Global options and their values come first; bash splits an
  // ssh://HOST:PORT value at ':' (and "--host=V" at '='): skip the pieces.
  std::size_t start = 0;
  while (start < words.size()) {
    const std::string& w = words[start];
    if (global_with_value(w)) {
      start += 2;
      while (start < words.size() && (words[start] == ":" || words[start] == "=" ||
                                      words[start - 1] == ":" || words[start - 1] == "=")) {
        ++start;
      }
      continue;
    }
    if (w.starts_with("--host=") || w.starts_with("--remote-sigdump=")) {
      ++start;
      continue;
    }
    break;
  }
  if (start > words.size()) {  // completing the value of a global option
    return global_with_value(words.back()) && words.back() == "--remote-sigdump" ? ":files"
                                                                                 : ":words";
  }
  std::size_t cmd_index = words.size();
  for (std::size_t i = start; i < words.size(); ++i) {
    if (!words[i].starts_with("-")) {
      cmd_index = i;
      break;
    }
  }
  if (cmd_index == words.size()) {
    if (cur.starts_with("-")) {
      offer(cur, "--help", "show this help");
      offer(cur, "--version", "print the version and the protocol version");
      offer(cur, "--host", "run the command against the daemon of another machine, over ssh");
      offer(cur, "--remote-sigdump", "the sigdump program on the --host machine");
      return ":words";
    }
    for (const auto& [name, c] : commands()) {
      if (!name.starts_with("__")) offer(cur, name, c.synopsis);
    }
    offer(cur, "help", "show the help of a command");
    return ":words";
  }
  const std::string& name = words[cmd_index];
  if (name == "help") {
    if (words.size() == cmd_index + 1) {
      for (const auto& [n, c] : commands()) {
        if (!n.starts_with("__")) offer(cur, n, c.synopsis);
      }
    }
    return ":words";
  }
  auto it = commands().find(name);
  if (it == commands().end() || name.starts_with("__")) return ":files";
  const std::vector<flag_info> flags = flags_of(it->second);
  auto find = [&](std::string_view flag) -> const flag_info* {
    for (const auto& f : flags) {
      if (f.flag == flag) return &f;
    }
    return nullptr;
  };
  // --flag=VALUE, "--flag" "=" "VALUE" (bash splits at '='), --flag VALUE
  if (cur.starts_with("--") && cur.find('=') != std::string::npos) {
    const std::size_t eq = cur.find('=');
    const flag_info* f = find(std::string_view(cur).substr(0, eq));
    if (f == nullptr) return ":words";
    return complete_value(*f, words, std::string_view(cur).substr(eq + 1),
                          std::string_view(cur).substr(0, eq + 1));
  }
  const std::size_t n = words.size();
  if (n >= cmd_index + 3 && words[n - 1] == "=") {
    if (const flag_info* f = find(words[n - 2])) return complete_value(*f, words, cur, {});
  }
  if (n > cmd_index + 1) {
    const flag_info* f = find(words[n - 1]);
    if (f != nullptr && f->kind != "none") return complete_value(*f, words, cur, {});
  }
  if (cur.starts_with("-")) {
    for (const auto& f : flags) offer(cur, f.flag, f.description);
    return ":words";
  }
  // Positional arguments so far (skipping options and their values).
  std::vector<std::string> positional;
  for (std::size_t i = cmd_index + 1; i < n; ++i) {
    if (words[i].starts_with("-")) {
      const flag_info* f = find(words[i]);
      if (f != nullptr && f->kind != "none" && words[i].find('=') == std::string::npos) ++i;
      continue;
    }
    positional.push_back(words[i]);
  }
  if (name == "show" && positional.size() == 1) {
    offer_tensors(words, positional[0], cur);
    return ":words";
  }
  if (name == "query" && positional.empty()) {
    offer_tensors(words, {}, cur);
    return ":words";
  }
  return ":files";
}

int run_complete(const std::vector<std::string>& args) {
  if (args.empty()) {
    std::printf(":words\n");
    return exit_ok;
  }
  std::vector<std::string> words(args.begin(), args.end() - 1);
  std::printf("%s\n", complete(words, args.back()));
  return exit_ok;
}

command_registrar reg{
    command{"__complete", "completions for the shells (hidden)", complete_help, run_complete}};

}  // namespace
}  // namespace sigdump::cli
