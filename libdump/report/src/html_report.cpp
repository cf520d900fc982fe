// The self-contained HTML report behind `sigdump compare --html` and
// `sigdump report` (written with write_file_atomically): header, metric
// chart, advice, layer table and the suspect layers' histograms.
#include "sigdump/report/html_report.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <string_view>
#include <vector>

#include "channel_chart.h"
#include "histogram_svg.h"
#include "pair_histograms.h"
#include "sigdump/atomic_file.h"
#include "sigdump/report/metric_chart.h"
#include "svg_markup.h"

namespace sigdump {

using detail::append_escaped;
using detail::escaped;
using detail::format_number;

namespace {

// Table cell for a number: shown text plus a sortable data-v (empty when
// not finite, which the sorter puts last).
void number_cell(std::string& out, double v, int digits, char style) {
  out += "<td class=\"num\" data-v=\"";
  if (std::isfinite(v)) out += format_number(v, 17, 'g');
  out += "\">";
  out += format_number(v, digits, style);
  out += "</td>";
}

void text_cell(std::string& out, std::string_view s) {
  out += "<td>";
  append_escaped(out, s);
  out += "</td>";
}

constexpr std::string_view style_sheet = R"css(
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:1.2em 2em;color:#222;background:#fff}
h1{font-size:1.5em;margin:.2em 0}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}
h3{font-size:1em;margin:1em 0 .3em}
dl.meta{display:grid;grid-template-columns:max-content auto;gap:.15em 1em;margin:.6em 0}
dl.meta dt{font-weight:600;color:#555}dl.meta dd{margin:0;word-break:break-all}
.bad{color:#d62728;font-weight:600}.good{color:#2a7d2a;font-weight:600}
.scroll{overflow-x:auto;border:1px solid #ddd;padding:4px;max-width:100%}
pre{background:#f4f4f4;padding:.7em;border:1px solid #ddd;overflow-x:auto}
table{border-collapse:collapse;font-size:12px}
th,td{border:1px solid #ddd;padding:2px 6px;text-align:left;vertical-align:top}
th{background:#f0f0f0;cursor:pointer;position:sticky;top:0;user-select:none}
th[aria-sort=ascending]::after{content:" \25B2"}th[aria-sort=descending]::after{content:" \25BC"}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.suspect{background:#fde8e8}tr.error{background:#fff3d6}tr:target{outline:2px solid #ff7f0e}
td.name{max-width:28em;word-break:break-all}
.hist-row{display:flex;flex-wrap:wrap;gap:12px}
.layer-hist{border-top:1px dashed #ccc;padding-top:.3em}
.note{color:#666}
#tip{position:fixed;display:none;background:#fffff0;border:1px solid #999;padding:4px 6px;font-size:12px;white-space:pre;pointer-events:none;z-index:10;box-shadow:1px 1px 4px rgba(0,0,0,.2)}
button{font-size:12px;padding:2px 10px}
)css";

// Sorting the table, copying the advice, and a tooltip that follows the
// mouse instead of the browser's delayed one. Kept short on purpose.
constexpr std::string_view script = R"js(
(function(){
var t=document.getElementById('layer-table');
if(t){var hs=t.tHead.rows[0].cells;
for(var k=0;k<hs.length;k++)(function(col,th){th.addEventListener('click',function(){
var num=th.getAttribute('data-type')==='num',dir=th.getAttribute('aria-sort')==='ascending'?-1:1;
for(var j=0;j<hs.length;j++)hs[j].removeAttribute('aria-sort');
th.setAttribute('aria-sort',dir>0?'ascending':'descending');
var b=t.tBodies[0],rows=Array.prototype.slice.call(b.rows);
function key(r){var c=r.cells[col],v=c.getAttribute('data-v');if(v===null)v=c.textContent;
if(num){return v===''?null:parseFloat(v);}return v.toLowerCase();}
rows.sort(function(x,y){var a=key(x),c=key(y);if(a===null||c===null)return a===c?0:(a===null?1:-1);
return a<c?-dir:a>c?dir:0;});
var f=document.createDocumentFragment();rows.forEach(function(r){f.appendChild(r);});b.appendChild(f);});})(k,hs[k]);}
var cb=document.getElementById('copy-advice');
if(cb)cb.addEventListener('click',function(){var txt=document.getElementById('advice-config').textContent;
function done(){cb.textContent='Copied';setTimeout(function(){cb.textContent='Copy';},1500);}
function old(){var r=document.createRange();r.selectNodeContents(document.getElementById('advice-config'));
var s=window.getSelection();s.removeAllRanges();s.addRange(r);try{document.execCommand('copy');done();}catch(e){}}
if(navigator.clipboard&&navigator.clipboard.writeText)navigator.clipboard.writeText(txt).then(done,old);else old();});
var fb=document.getElementById('first-bad-marker')||document.getElementById('diagnosis-marker');
if(fb){var sc=fb.closest('.scroll'),ln=fb.querySelector('line');
if(sc&&ln)sc.scrollLeft=Math.max(0,parseFloat(ln.getAttribute('x1'))-sc.clientWidth/3);}
var tip=document.getElementById('tip');
document.addEventListener('mouseover',function(e){var el=e.target;
if(!el.classList||!el.classList.contains('hit')){tip.style.display='none';return;}
var holder=el.tagName==='rect'&&el.querySelector('title')?el:el.parentNode;var ti=holder.querySelector('title');
if(ti){holder.setAttribute('data-tip',ti.textContent);ti.parentNode.removeChild(ti);}
var s=holder.getAttribute('data-tip');if(!s)return;tip.textContent=s;tip.style.display='block';});
document.addEventListener('mousemove',function(e){if(tip.style.display!=='block')return;
var x=e.clientX+14,y=e.clientY+14;if(x+tip.offsetWidth>window.innerWidth)x=e.clientX-tip.offsetWidth-8;
if(y+tip.offsetHeight>window.innerHeight)y=e.clientY-tip.offsetHeight-8;tip.style.left=x+'px';tip.style.top=y+'px';});
document.documentElement.setAttribute('data-script','ran');
})();
)js";

struct counts {
  std::size_t suspect = 0, error = 0;
};

counts count_layers(const compare_report& r) {
  counts c;
  for (const auto& l : r.layers) {
    if (!l.error.empty()) {
      ++c.error;
    } else if (l.suspect) {
      ++c.suspect;
    }
  }
  return c;
}

void append_name_list(std::string& out, const char* id, const char* what,
                      const std::vector<std::string>& names) {
  if (names.empty()) return;
  out += "<details id=\"";
  out += id;
  out += "\"><summary>" + std::to_string(names.size()) + " " + what + "</summary><ul>";
  constexpr std::size_t cap = 500;
  for (std::size_t i = 0; i < names.size() && i < cap; ++i) {
    out += "<li>";
    append_escaped(out, names[i]);
    out += "</li>";
  }
  if (names.size() > cap) {
    out += "<li class=\"note\">" + std::to_string(names.size() - cap) + " more not listed</li>";
  }
  out += "</ul></details>\n";
}

void append_header(std::string& out, const compare_report& r) {
  auto c = count_layers(r);
  out += "<h1>sigdump accuracy report</h1>\n<dl class=\"meta\">";
  out += "<dt>sample</dt><dd id=\"sample-path\">" + escaped(r.sample_path) + "</dd>";
  out += "<dt>benchmark</dt><dd id=\"benchmark-path\">" + escaped(r.benchmark_path) + "</dd>";
  out += "<dt>thresholds</dt><dd>suspect when COS &lt; " +
         format_number(r.thresholds.cos_min, 6, 'g') + " or RMSE &gt; " +
         format_number(r.thresholds.rmse_max, 6, 'g') + "</dd>";
  out +=
      "<dt>layers compared</dt><dd id=\"layer-count\">" + std::to_string(r.layers.size()) + "</dd>";
  out += "<dt>suspect</dt><dd id=\"suspect-count\" class=\"" +
         std::string(c.suspect ? "bad" : "good") + "\">" + std::to_string(c.suspect) + "</dd>";
  out += "<dt>not comparable</dt><dd id=\"error-count\"" +
         std::string(c.error ? " class=\"bad\"" : "") + ">" + std::to_string(c.error) + "</dd>";
  out += "<dt>coverage</dt><dd id=\"coverage\"" +
         std::string(r.coverage.compared < r.coverage.sample_layers || r.coverage.sample_layers == 0
                         ? " class=\"bad\""
                         : "") +
         ">" + escaped(coverage_text(r.coverage)) + "</dd>";
  const verdict v = r.verdict();
  out += "<dt>verdict</dt><dd id=\"verdict\" class=\"" +
         std::string(v == verdict::pass ? "good" : "bad") + "\">" + verdict_name(v) + ": " +
         escaped(verdict_reason(v, r.coverage, r.suspect_count())) + "</dd>";
  out += "<dt>bytes compared</dt><dd>" + std::to_string(r.bytes_compared) + "</dd>";
  out += "</dl>\n";

  out += "<section id=\"summary\"><h2>Summary</h2>\n";
  if (!r.warnings.empty()) {
    out += "<ul id=\"warnings\" class=\"bad\">";
    for (const input_warning& w : r.warnings) {
      out += "<li data-code=\"" + w.code + "\">warning: ";
      append_escaped(out, w.text());
      out += "</li>";
    }
    out += "</ul>\n";
  }
  if (r.first_bad) {
    const auto& fb = *r.first_bad;
    out += "<p id=\"first-bad\">First bad layer: <a class=\"bad\" href=\"#layer-" +
           std::to_string(fb.index) + "\">#" + std::to_string(fb.index) + " " + escaped(fb.name) +
           "</a> (" + escaped(fb.reason) + ")</p>\n";
  } else {
    out += "<p id=\"first-bad\" class=\"good\">No layer breaks the thresholds.</p>\n";
  }
  const auto& d = r.diagnosis;
  out += "<p id=\"diagnosis\">Diagnosis: <b>" + escaped(diagnosis_kind_name(d.what)) + "</b>";
  if (d.at >= 0) {
    out += " at <a href=\"#layer-" + std::to_string(d.at) + "\">#" + std::to_string(d.at) + "</a>";
  }
  if (!d.text.empty()) out += ". " + escaped(d.text);
  out += "</p>\n";
  append_name_list(out, "unmatched-sample", "sample layers without a benchmark match",
                   r.unmatched_sample);
  append_name_list(out, "unmatched-benchmark", "benchmark layers without a sample match",
                   r.unmatched_benchmark);
  out += "</section>\n";
}

void append_chart(std::string& out, const compare_report& r) {
  out += "<section id=\"charts\"><h2>Metrics per layer</h2>\n";
  out +=
      "<p class=\"note\">Layers in execution order. Red points break a threshold (dashed "
      "lines); the red marker is the first bad layer, the orange one the diagnosis. Hover a "
      "layer for its numbers, click it to jump to its row in the table.</p>\n";
  chart_options co;
  co.standalone = false;
  co.link_rows = true;
  if (static_cast<double>(r.layers.size()) * co.px_per_layer > co.min_plot_width) {
    out +=
        "<p class=\"note\" id=\"chart-scroll-note\">The chart is wider than the page: scroll "
        "it sideways. It opens at the first bad layer.</p>\n";
  }
  out += "<div class=\"scroll\">\n";
  out += render_metric_chart_svg(r, co);
  out += "</div></section>\n";
}

void append_advice(std::string& out, const compare_report& r) {
  const auto& a = r.advice;
  out += "<section id=\"advice\"><h2>Advice</h2>\n";
  if (!a.ranked.empty()) {
    // The ranking as a list: the root cause first, each with why.
    out += "<p id=\"advice-root\">" + escaped(a.root) + "</p>\n<ol id=\"advice-ranked\">\n";
    for (std::size_t i = 0; i < a.shown; ++i) {
      const advice_entry& e = a.ranked[i];
      out += std::string("<li") + (e.root ? " class=\"root\"" : "") + "><code>" +
             escaped(e.tensor) + "</code> " + escaped(e.why) + "</li>\n";
    }
    out += "</ol>\n";
    for (const auto& n : a.notes) out += "<p class=\"note\">" + escaped(n) + "</p>\n";
    if (a.more() > 0) {
      out += "<p class=\"note\" id=\"advice-more\">" + std::to_string(a.more()) +
             " more suspect convolution(s) not listed: <code>sigdump compare --advice all</code> "
             "lists them.</p>\n";
    }
    if (a.all_int16) {
      out += "<p class=\"note\" id=\"advice-all-int16\">The suspect convolutions are " +
             std::to_string(a.ranked.size()) + " of the " + std::to_string(a.convolutions) +
             ": <code>input_format=ALL_INT16;</code> is the honest advice.</p>\n";
    }
  } else if (!a.text.empty()) {
    out += "<p id=\"advice-text\" style=\"white-space:pre-wrap\">" + escaped(a.text) + "</p>\n";
  }
  if (!a.input_config.empty()) {
    out +=
        "<p>Paste into <code>input_config.ini</code> to quantize these convolutions' inputs as "
        "INT16: <button type=\"button\" id=\"copy-advice\">Copy</button></p>\n";
    out += "<pre id=\"advice-config\">" + escaped(a.input_config) + "</pre>\n";
  } else {
    out += "<p class=\"note\" id=\"advice-none\">No INT16 change to suggest.</p>\n";
  }
  if (!a.wide_range_8bit.empty()) {
    append_name_list(out, "wide-range", "8-bit tensors with a range over 20 (INT16 candidates)",
                     a.wide_range_8bit);
  }
  out += "</section>\n";
}

void append_table(std::string& out, const compare_report& r) {
  out += "<section id=\"layers\"><h2>All layers</h2>\n";
  out += "<p class=\"note\">Click a column header to sort.</p>\n";
  out += "<table id=\"layer-table\"><thead><tr>";
  struct column {
    const char* name;
    bool numeric;
  };
  // clang-format off
  static constexpr column columns[] = {
      {"#", true}, {"name", false}, {"benchmark name", false}, {"op", false},
      {"shape", false}, {"MSE", true}, {"COS", true}, {"RMSE", true}, {"max_abs", true},
      {"SQNR dB", true}, {"rel_l2", true}, {"layout", false}, {"suspect", false},
      {"error", false}};
  // clang-format on
  for (const auto& [name, num] : columns) {
    out += num ? "<th data-type=\"num\">" : "<th>";
    out += name;
    out += "</th>";
  }
  out += "</tr></thead>\n<tbody>\n";
  for (const auto& l : r.layers) {
    out += "<tr id=\"layer-" + std::to_string(l.index) + "\"";
    if (!l.error.empty()) {
      out += " class=\"error\"";
    } else if (l.suspect) {
      out += " class=\"suspect\"";
    }
    out += "><td class=\"num\" data-v=\"" + std::to_string(l.index) + "\">" +
           std::to_string(l.index) + "</td>";
    out += "<td class=\"name\">" + escaped(l.name) + "</td>";
    out += "<td class=\"name\">" + escaped(l.benchmark_name) + "</td>";
    text_cell(out, l.op);
    text_cell(out, format_shape(l.shape));
    if (l.error.empty()) {
      const auto& m = l.metrics;
      number_cell(out, m.mse, 6, 'g');
      number_cell(out, m.cos, 6, 'f');
      number_cell(out, m.rmse, 6, 'f');
      number_cell(out, m.max_abs, 6, 'g');
      number_cell(out, m.sqnr_db, 2, 'f');
      number_cell(out, m.rel_l2, 6, 'g');
    } else {
      for (int k = 0; k < 6; ++k) out += "<td class=\"num\" data-v=\"\">-</td>";
    }
    text_cell(out, layout_name(l.layout));
    text_cell(out, l.error.empty() ? (l.suspect ? "yes" : "no") : "n/a");
    text_cell(out, l.error);
    out += "</tr>\n";
  }
  out += "</tbody></table></section>\n";
}

std::string stats_line(const char* what, const detail::running& v) {
  std::string s = std::string(what) + ": min " + format_number(v.finite ? v.min : 0, 6, 'g') +
                  ", max " + format_number(v.finite ? v.max : 0, 6, 'g') + ", mean " +
                  format_number(v.mean(), 6, 'g');
  if (v.nonfinite) s += ", " + std::to_string(v.nonfinite) + " NaN/Inf (not binned)";
  return s;
}

void append_layer_histograms(std::string& out, const layer_result& l, const dump_file& sample,
                             const dump_file& bench, const html_options& o) {
  std::string idx = std::to_string(l.index);
  out += "<section class=\"layer-hist\" id=\"hist-" + idx + "\" data-layer=\"" + idx + "\">";
  out += "<h3><a href=\"#layer-" + idx + "\">#" + idx + "</a> " + escaped(l.name) + "</h3>\n";
  out += "<p class=\"note\">COS " + format_number(l.metrics.cos, 6, 'f') + ", RMSE " +
         format_number(l.metrics.rmse, 6, 'f') + ", MSE " + format_number(l.metrics.mse, 6, 'g') +
         ", layout " + layout_name(l.layout) + "</p>\n";

  auto fail = [&](const std::string& why) {
    out += "<p class=\"note hist-error\">No histogram: " + escaped(why) + "</p></section>\n";
  };
  if (l.sample_record >= sample.records().size() || l.bench_record < 0 ||
      static_cast<std::uint64_t>(l.bench_record) >= bench.records().size()) {
    fail("record index out of range for these files");
    return;
  }
  auto sv = sample.view(l.sample_record);
  if (!sv) {
    fail(sv.error().describe());
    return;
  }
  auto bv = bench.view(static_cast<std::uint32_t>(l.bench_record));
  if (!bv) {
    fail(bv.error().describe());
    return;
  }
  auto h = detail::compute_pair_histograms(*sv, *bv, l.layout,
                                           std::max<std::uint32_t>(o.histogram_bins, 1));
  if (!h) {
    fail(h.error().message);
    return;
  }
  out += "<p class=\"note\">" + std::to_string(h->elements) + " elements. " +
         escaped(stats_line("sample", h->sample)) + ". " +
         escaped(stats_line("benchmark", h->bench)) + ". " +
         escaped(stats_line("sample - benchmark", h->diff)) + ".</p>\n";
  out += "<div class=\"hist-row\">\n";
  out += detail::render_histogram_svg("hist-values-" + idx, "values", h->sample_values, "sample",
                                      &h->bench_values, "benchmark");
  out += detail::render_histogram_svg("hist-diff-" + idx, "difference sample - benchmark", h->diffs,
                                      "sample - benchmark", nullptr, {});
  out += "</div>\n";
  // Where in the channels the error sits: the layer's evidence, or made now.
  std::optional<channel_evidence> made;
  const channel_evidence* ev = l.channels ? &*l.channels : nullptr;
  if (ev == nullptr) {
    if (auto e = compute_channel_evidence(*sv, *bv, l.layout)) {
      made = std::move(*e);
      ev = &*made;
    }
  }
  if (ev != nullptr) {
    out += "<div class=\"channel-row\" id=\"channels-" + idx + "\">\n";
    out += detail::render_channel_chart_svg("channel-chart-" + idx, *ev);
    if (!ev->top.empty()) {
      out += "<p class=\"note\">Largest |a-b| at " + escaped(ev->order) + ":";
      for (std::size_t i = 0; i < ev->top.size(); ++i) {
        const element_diff& e = ev->top[i];
        out += std::string(i ? ";" : "") + " " + escaped(format_coordinates(e.at)) + " " +
               format_number(e.abs_diff, 6, 'g') + " (sample " + format_number(e.sample, 6, 'g') +
               ", benchmark " + format_number(e.benchmark, 6, 'g') + ")";
      }
      out += ".</p>\n";
    }
    out += "</div>\n";
  }
  out += "</section>\n";
}

void append_histograms(std::string& out, const compare_report& r, const dump_file* sample,
                       const dump_file* bench, const html_options& o) {
  out += "<section id=\"histograms\"><h2>Suspect layers: value histograms</h2>\n";
  std::vector<const layer_result*> suspects;
  for (const auto& l : r.layers) {
    if (l.suspect && l.error.empty()) suspects.push_back(&l);
  }
  if (suspects.empty()) {
    out += "<p class=\"note\">No suspect layer.</p></section>\n";
    return;
  }
  if (!sample || !bench) {
    out += "<p class=\"note\" id=\"histograms-unavailable\">" + std::to_string(suspects.size()) +
           " suspect layers; histograms need the dump files, which this report was made "
           "without.</p></section>\n";
    return;
  }
  out +=
      "<p class=\"note\">Per suspect layer: sample and benchmark values over the same bins, "
      "and the per-element difference (benchmark read in the sample's layout). Bar heights "
      "are log-scaled counts; hover a bin for its numbers. Below them, one bar per channel "
      "(C of NHWC, else the last axis): 1 - COS of that channel, the worst in red, outlier "
      "channels outlined; hover a bar for its numbers.</p>\n";
  std::size_t shown = std::min<std::size_t>(suspects.size(), o.max_histograms);
  for (std::size_t i = 0; i < shown; ++i) {
    append_layer_histograms(out, *suspects[i], *sample, *bench, o);
  }
  if (shown < suspects.size()) {
    out += "<p class=\"note\" id=\"histograms-omitted\">" +
           std::to_string(suspects.size() - shown) +
           " more suspect layers omitted (showing the first " + std::to_string(shown) + ").</p>\n";
  }
  out += "</section>\n";
}

std::string render(const compare_report& r, const dump_file* sample, const dump_file* bench,
                   const html_options& o) {
  std::string out;
  out.reserve(16384 + r.layers.size() * 1500);
  out += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n";
  out += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  out += "<title>sigdump report: " + escaped(r.sample_path) + " vs " + escaped(r.benchmark_path) +
         "</title>\n<style>";
  out += style_sheet;
  out += "</style></head>\n<body>\n<div id=\"tip\"></div>\n";
  append_header(out, r);
  append_chart(out, r);
  append_advice(out, r);
  append_table(out, r);
  append_histograms(out, r, sample, bench, o);
  out +=
      "<p class=\"note\">Generated by sigdump. RMSE is the vendor's relative L1 error "
      "sum|a-b|/sum|b|, not a root mean square.</p>\n";
  out += "<script>";
  out += script;
  out += "</script>\n</body></html>\n";
  return out;
}

}  // namespace

std::string render_html_report(const compare_report& report, const dump_file& sample,
                               const dump_file& bench, const html_options& options) {
  return render(report, &sample, &bench, options);
}

std::string render_html_report(const compare_report& report, const html_options& options) {
  return render(report, nullptr, nullptr, options);
}

result<void> write_html_report(const std::string& path, const compare_report& report,
                               const dump_file& sample, const dump_file& bench,
                               const html_options& options) {
  return write_file_atomically(path, render_html_report(report, sample, bench, options));
}

}  // namespace sigdump
