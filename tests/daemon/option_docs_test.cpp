// The option table (daemon/src/config/option_table.cpp) against what users
// read: every option and configuration key is documented in the man page
// (docs/man/sigdumpd.1) and in docs/configuration.md, with the same
// spelling and value, and neither documents an option the daemon does not
// have. The bash completion is checked against the same table by
// tests/scripts/sigdumpd_completion_test.sh.
#include <gtest/gtest.h>

// GCC 12 warns falsely inside libstdc++'s <regex> (std::function moved in
// _NFA::_M_insert_subexpr_*) at -O1 with the sanitizers, where warnings are
// errors. The warning is about the header's code, not this file's.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "config/option_table.h"
#include "test_support.h"

namespace sigdump::testing {
namespace {

using daemon::option_spec;
using daemon::option_table;

const std::string man_page = std::string(SIGDUMP_SOURCE_DIR) + "/docs/man/sigdumpd.1";
const std::string config_doc = std::string(SIGDUMP_SOURCE_DIR) + "/docs/configuration.md";

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  for (std::size_t at = 0; (at = s.find(from, at)) != std::string::npos; at += to.size()) {
    s.replace(at, from.size(), to);
  }
}

// The text groff prints for one source line: font macros (.B, .BI, .BR...)
// applied, font changes and the escapes the page uses resolved.
std::string man_line_text(const std::string& line) {
  std::string text = line;
  static const std::regex font_macro(R"(^\.([BIR]{1,2})\s+(.*)$)");
  std::smatch m;
  if (std::regex_match(line, m, font_macro)) {
    // Arguments split at blanks outside double quotes; .B and .I join them
    // with a space, the alternating macros (.BI, .BR, ...) without.
    std::vector<std::string> args;
    std::string arg;
    bool quoted = false, any = false;
    for (char c : m[2].str()) {
      if (c == '"') {
        quoted = !quoted;
        any = true;
      } else if (!quoted && (c == ' ' || c == '\t')) {
        if (any) args.push_back(arg);
        arg.clear();
        any = false;
      } else {
        arg += c;
        any = true;
      }
    }
    if (any) args.push_back(arg);
    const std::string separator = m[1].length() == 1 ? " " : "";
    text.clear();
    for (std::size_t i = 0; i < args.size(); ++i) text += (i > 0 ? separator : "") + args[i];
  }
  for (std::string_view font : {"\\fB", "\\fI", "\\fR", "\\fP"}) replace_all(text, font, "");
  replace_all(text, "\\-", "-");
  replace_all(text, "\\(dq", "\"");
  replace_all(text, "\\(ti", "~");
  replace_all(text, "\\&", "");
  replace_all(text, "\\%", "");
  return text;
}

// The lines of the man page section `name` (after ".SH name", before the
// next ".SH").
std::vector<std::string> man_section(const std::string& name) {
  std::vector<std::string> out;
  bool inside = false;
  for (const std::string& line : lines_of(read_file(man_page))) {
    if (line.starts_with(".SH ")) {
      std::string title = line.substr(4);
      replace_all(title, "\"", "");
      inside = title == name;
      continue;
    }
    if (inside) out.push_back(line);
  }
  return out;
}

// One ".TP" entry: its tag as shown, and its body's source lines.
struct man_entry {
  std::string tag;
  std::vector<std::string> body;
};

std::vector<man_entry> man_entries(const std::vector<std::string>& section) {
  std::vector<man_entry> out;
  for (std::size_t i = 0; i < section.size(); ++i) {
    if (section[i] == ".TP" && i + 1 < section.size()) {
      out.push_back({man_line_text(section[i + 1]), {}});
      ++i;
    } else if (section[i].starts_with(".PP") || section[i].starts_with(".SS")) {
      break;  // the list has ended
    } else if (!out.empty()) {
      out.back().body.push_back(section[i]);
    }
  }
  return out;
}

bool in_help(const option_spec& o) { return !o.name.empty() && !o.help.empty(); }

// How a man page tag spells option o: "-f, --foreground", "--watch PATH".
std::string man_tag(const option_spec& o) {
  std::string tag;
  if (!o.alias.empty()) tag = std::string(o.alias) + ", ";
  tag += o.name;
  if (!o.metavar.empty()) tag += " " + std::string(o.metavar);
  return tag;
}

std::string top_key(const option_spec& o) { return std::string(o.key.substr(0, o.key.find('.'))); }

// Top-level configuration keys, each with the option table's entries under it.
std::map<std::string, std::vector<const option_spec*>> table_keys() {
  std::map<std::string, std::vector<const option_spec*>> out;
  for (const option_spec& o : option_table()) {
    if (!o.key.empty()) out[top_key(o)].push_back(&o);
  }
  return out;
}

bool is_section(const std::vector<const option_spec*>& members) {
  return members.front()->key.find('.') != std::string_view::npos;
}

std::string member_of(const option_spec& o) {
  return std::string(o.key.substr(o.key.find('.') + 1));
}

std::set<std::string> matches(const std::string& text, const std::regex& re, int group = 1) {
  std::set<std::string> out;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), re); it != std::sregex_iterator();
       ++it) {
    out.insert((*it)[group].str());
  }
  return out;
}

TEST(OptionDocs, ManPageOptionsAreTheTable) {
  const auto entries = man_entries(man_section("OPTIONS"));
  ASSERT_FALSE(entries.empty()) << man_page << " has no OPTIONS list";
  std::set<std::string> tags;
  for (const auto& e : entries) tags.insert(e.tag);
  std::set<std::string> expected;
  for (const option_spec& o : option_table()) {
    if (!in_help(o)) continue;
    expected.insert(man_tag(o));
    EXPECT_TRUE(tags.contains(man_tag(o)))
        << man_page << ", OPTIONS, has no entry \"" << man_tag(o) << "\"";
  }
  for (const std::string& tag : tags) {
    EXPECT_TRUE(expected.contains(tag))
        << man_page << ", OPTIONS, documents \"" << tag << "\", which is not in the option table"
        << " (daemon/src/config/option_table.cpp) as written";
  }
}

TEST(OptionDocs, ManPageConfigurationKeysAreTheTable) {
  const auto entries = man_entries(man_section("CONFIGURATION FILE"));
  ASSERT_FALSE(entries.empty()) << man_page << " has no CONFIGURATION FILE list";
  // Tags name one key or several: ".BR state_dir \", \" socket".
  std::map<std::string, const man_entry*> documented;
  for (const auto& e : entries) {
    std::string tag = e.tag;
    replace_all(tag, ",", " ");
    std::istringstream words(tag);
    for (std::string key; words >> key;) documented[key] = &e;
  }
  const auto keys = table_keys();
  for (const auto& [key, members] : keys) {
    auto it = documented.find(key);
    EXPECT_TRUE(it != documented.end())
        << man_page << ", CONFIGURATION FILE, has no entry for " << key;
    if (it == documented.end() || !is_section(members)) continue;
    // A section's members are spelled in its entry: {"dir": DIR, ...}.
    std::string body;
    for (const auto& line : it->second->body) body += man_line_text(line) + "\n";
    const auto named = matches(body, std::regex("\"([a-z_]+)\":"));
    std::set<std::string> expected;
    for (const option_spec* o : members) expected.insert(member_of(*o));
    EXPECT_EQ(named, expected) << man_page << ", CONFIGURATION FILE, entry " << key;
  }
  for (const auto& [key, entry] : documented) {
    EXPECT_TRUE(keys.contains(key)) << man_page << ", CONFIGURATION FILE, documents \"" << key
                                    << "\", which is not a key of the option table";
  }
}

// The rows of the markdown table whose header row starts with `header`,
// split into cells.
std::vector<std::vector<std::string>> markdown_rows(const std::string& header) {
  std::vector<std::vector<std::string>> out;
  const auto lines = lines_of(read_file(config_doc));
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (!lines[i].starts_with(header)) continue;
    for (std::size_t j = i + 2; j < lines.size() && lines[j].starts_with("|"); ++j) {
      std::vector<std::string> cells;
      std::string cell;
      for (char c : lines[j].substr(1)) {
        if (c == '|') {
          cells.push_back(cell);
          cell.clear();
        } else {
          cell += c;
        }
      }
      out.push_back(cells);
    }
    break;
  }
  return out;
}

const std::regex option_in_code("`(-{1,2}[a-z][a-z-]*)[^`]*`");

TEST(OptionDocs, ConfigurationGuideKeysAreTheTable) {
  const auto rows = markdown_rows("| key | option |");
  ASSERT_FALSE(rows.empty()) << config_doc << " has no table \"| key | option | ...\"";
  const auto keys = table_keys();
  std::set<std::string> documented;
  for (const auto& cells : rows) {
    ASSERT_GE(cells.size(), 3u) << config_doc << ": short row";
    const auto key_cells = matches(cells[0], std::regex("`([a-z_]+)`"));
    ASSERT_EQ(key_cells.size(), 1u) << config_doc << ": no single `key` in \"" << cells[0] << "\"";
    const std::string key = *key_cells.begin();
    documented.insert(key);
    auto it = keys.find(key);
    EXPECT_TRUE(it != keys.end()) << config_doc << " documents key \"" << key
                                  << "\", which is not in the option table";
    if (it == keys.end()) continue;
    // The option column: the command-line options setting this key.
    std::set<std::string> expected_options, expected_members;
    for (const option_spec* o : it->second) {
      if (!o->name.empty()) expected_options.insert(std::string(o->name));
      if (is_section(it->second)) expected_members.insert(member_of(*o));
    }
    EXPECT_EQ(matches(cells[1], option_in_code), expected_options)
        << config_doc << ", options of key " << key;
    // A section's type names its members: {"dir","max_bytes"}.
    if (is_section(it->second)) {
      EXPECT_EQ(matches(cells[2], std::regex("\"([a-z_]+)\"")), expected_members)
          << config_doc << ", members of key " << key;
    }
  }
  for (const auto& [key, members] : keys) {
    EXPECT_TRUE(documented.contains(key)) << config_doc << " has no row for key " << key;
  }
}

TEST(OptionDocs, ConfigurationGuideListsTheCommandLineOnlyOptions) {
  const auto rows = markdown_rows("| option | meaning |");
  ASSERT_FALSE(rows.empty()) << config_doc << " has no table \"| option | meaning |\"";
  std::set<std::string> documented;
  for (const auto& cells : rows) {
    ASSERT_FALSE(cells.empty());
    for (const auto& o : matches(cells[0], option_in_code)) documented.insert(o);
  }
  std::set<std::string> expected;
  for (const option_spec& o : option_table()) {
    if (!in_help(o) || !o.key.empty()) continue;
    expected.insert(std::string(o.name));
    if (!o.alias.empty()) expected.insert(std::string(o.alias));
  }
  EXPECT_EQ(documented, expected) << config_doc << ", the options without a configuration key";
}

}  // namespace
}  // namespace sigdump::testing
